"""GetDevice and SearchDevices without an endpoint: the catalogue, filtered and paged."""

from __future__ import annotations

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.devices import DEVICES
from covalent_braket_plugin.local.braket_api.errors import BraketError
from tests.unit.local.braket_api.conftest import FORTE, SV1, code


def test_get_device_answers_for_catalogued_devices_only(backend: BraketBackend) -> None:
    assert backend.get_device({"deviceArn": SV1}, "us-east-1")["deviceName"] == "SV1"
    with pytest.raises(BraketError) as exc:
        backend.get_device({"deviceArn": SV1 + "x"}, "us-east-1")
    assert code(exc) == "ResourceNotFoundException"


def test_a_qpu_is_found_only_in_the_region_its_arn_names(backend: BraketBackend) -> None:
    """As on AWS: the SDK's AwsDevice, and its Tracker test, rely on GetDevice elsewhere failing."""
    assert FORTE.split(":")[3] == "us-east-1"
    assert backend.get_device({"deviceArn": FORTE}, "us-east-1")["deviceArn"] == FORTE
    with pytest.raises(BraketError) as exc:
        backend.get_device({"deviceArn": FORTE}, "us-west-1")
    assert code(exc) == "ResourceNotFoundException"
    assert backend.get_device({"deviceArn": SV1}, "us-west-1")["deviceName"] == "SV1"  # no region


def test_search_devices_filters_and_pages_the_catalogue(backend: BraketBackend) -> None:
    ionq = {"filters": [{"name": "providerName", "operator": "EQUAL", "values": ["IonQ"]}]}
    found = [d["deviceArn"] for d in backend.search_devices(ionq, "us-east-1")["devices"]]
    assert FORTE in found and all(DEVICES[arn].provider == "IonQ" for arn in found)
    seen: list[str] = []
    params: dict[str, object] = {"maxResults": 5}
    while True:
        page = backend.search_devices(params, "us-east-1")
        seen += [d["deviceArn"] for d in page["devices"]]
        if not page["nextToken"]:
            break
        params = {**params, "nextToken": page["nextToken"]}
    assert seen == list(DEVICES)
