"""Devices as the unmodified Braket SDK sees them on AWS: retired devices still answer GetDevice and
SearchDevices with status RETIRED and refuse work; Rigetti's QPU offers pulse control."""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from botocore.exceptions import ClientError
from braket.aws import AwsDevice, AwsQuantumJob
from braket.circuits import Circuit, FreeParameter, Gate, QubitSet
from braket.devices import Devices

from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
# Every retired gate-model device the SDK still names (with a leading underscore).
RETIRED = {
    Devices.Amazon._TN1,
    Devices.IonQ._Harmony,
    Devices.IonQ._Aria1,
    Devices.IonQ._Aria2,
    Devices._OQC._Lucy,
    Devices.Rigetti._Aspen8,
    Devices.Rigetti._Aspen9,
    Devices.Rigetti._Aspen10,
    Devices.Rigetti._Aspen11,
    Devices.Rigetti._AspenM1,
    Devices.Rigetti._AspenM2,
    Devices.Rigetti._AspenM3,
    Devices.Rigetti._Ankaa2,
    Devices.Rigetti._Ankaa3,
}


def test_retired_devices_answer_get_device_as_retired(braket_local_env: LocalStack) -> None:
    for arn in RETIRED:
        device = AwsDevice(arn)
        assert device.status == "RETIRED", arn
        assert not device.is_available
        assert device.properties.paradigm.qubitCount > 0


def test_search_lists_retired_devices_only_when_asked(braket_local_env: LocalStack) -> None:
    assert {d.arn for d in AwsDevice.get_devices(statuses=["RETIRED"])} == RETIRED
    online = {d.arn for d in AwsDevice.get_devices()}
    assert SV1 in online and not online & RETIRED
    braket = boto3.client("braket")
    found = braket.search_devices(filters=[{"name": "deviceStatus", "values": ["RETIRED"]}])["devices"]
    assert {d["deviceArn"] for d in found} == RETIRED


@pytest.mark.parametrize("arn", [Devices.Amazon._TN1, Devices.IonQ._Aria1, Devices.Rigetti._Ankaa3])
def test_tasks_on_a_retired_device_are_refused(braket_local_env: LocalStack, arn: str) -> None:
    with pytest.raises(ClientError) as caught:
        AwsDevice(arn).run(Circuit().h(0), shots=10)
    error = caught.value.response
    assert error["Error"]["Code"] == "DeviceRetiredException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert error["Error"]["Message"].startswith("The specified device has been retired")


def test_jobs_and_spending_limits_on_a_retired_device_are_refused(
    braket_local_env: LocalStack, tmp_path: Path
) -> None:
    script = tmp_path / "algorithm.py"
    script.write_text("def main():\n    pass\n")
    role = braket_local_env.create_jobs_role()
    with pytest.raises(ClientError, match="DeviceRetiredException"):
        AwsQuantumJob.create(Devices.IonQ._Aria2, str(script), entry_point="algorithm:main", role_arn=role)
    with pytest.raises(ClientError, match="DeviceRetiredException"):
        boto3.client("braket", region_name="us-west-1").create_spending_limit(
            deviceArn=Devices.Rigetti._AspenM3, spendingLimit="10"
        )


def test_rigetti_cepheus_offers_pulse_control(braket_local_env: LocalStack) -> None:
    device = AwsDevice(Devices.Rigetti.Cepheus1108Q)
    ports, frames = device.ports, device.frames
    assert len(ports) == 4 * 108 and {"q0_rf", "q0_ff", "q0_ro_tx", "q0_ro_rx"} <= set(ports)
    assert frames["q0_rf_frame"].port == ports["q0_rf"]
    assert frames["q0_q1_iswap_frame"].properties["qubitMappings"] == [0, 1]
    # The calibrations link names an object of the stack's S3; the gateway serves only signed
    # requests, so read it signed and give it to the SDK's own parser of that document.
    url = urlparse(device.properties.pulse.nativeGateCalibrationsRef)
    assert f"{url.scheme}://{url.netloc}" == braket_local_env.endpoint_url
    bucket, key = url.path.lstrip("/").split("/", 1)
    document = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    calibrations = device._parse_calibration_json(document)
    assert "play(q0_rf_frame" in calibrations[(Gate.Rx(math.pi / 2), QubitSet(0))].to_ir()
    assert (Gate.ISwap(), QubitSet([0, 1])) in calibrations
    assert (Gate.Rz(FreeParameter("theta")), QubitSet(5)) in calibrations
