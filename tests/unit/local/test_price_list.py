"""The stack's price list, read by the Braket SDK's own parser: one row for each question its Tracker
asks of a priced device, none for what the price table leaves unpriced.

tests/integration/local/test_price_list.py prices tasks with the SDK's Tracker on a running stack.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from braket.tracking import pricing

from covalent_braket_plugin.local.price_list import offer_file, qpu_name
from covalent_braket_plugin.tasks import PriceTable

REGIONS = ("us-east-1", "us-west-1", "eu-north-1")
PUBLISHED = datetime(2026, 12, 1, tzinfo=UTC)


def sdk_reading(document: str, monkeypatch: pytest.MonkeyPatch) -> pricing.Pricing:
    """The SDK's Pricing after it downloaded ``document`` as its offer file."""

    class Http:
        def request(self, method: str, url: str, **_: Any) -> io.BytesIO:
            return io.BytesIO(document.encode())

    monkeypatch.setattr(pricing, "_http_client", lambda url: Http())
    reading = pricing.Pricing()
    reading.get_prices()
    return reading


def test_every_priced_device_has_one_row_per_question_of_the_tracker(monkeypatch: pytest.MonkeyPatch) -> None:
    table = PriceTable.load()
    reading = sdk_reading(offer_file(table, REGIONS, PUBLISHED), monkeypatch)
    questions = 0
    for device in table:
        if device.per_minute is not None:
            version = device.device_arn.rsplit("/", 1)[-1].upper()
            for region in REGIONS:
                for family, operation in (("Simulator Task", "CompleteTask"),
                                          ("Braket Managed Jobs Simulator Task", "Managed-Jobs")):
                    (row,) = reading.price_search(**{"Region Code": region, "Version": version,
                                                     "Product Family": family, "operation": operation})
                    assert (Decimal(row["PricePerUnit"]), row["Unit"], row["Currency"]) == (
                        device.per_minute, "minutes", "USD")
                    questions += 1
        elif device.per_shot is not None:
            region = device.device_arn.split(":")[3]
            for column, task, shot in (("DeviceName", "Quantum Task", "Quantum Task-Shot"),
                                       ("Device Name", "Braket Managed Jobs QPU Task",
                                        "Braket Managed Jobs QPU Task Shot")):
                where = {"Region Code": region, column: qpu_name(device)}
                (per_task,) = reading.price_search(**where, **{"Product Family": task})
                (per_shot,) = reading.price_search(**where, **{"Product Family": shot})
                assert Decimal(per_task["PricePerUnit"]) == device.per_task
                assert Decimal(per_shot["PricePerUnit"]) == device.per_shot
                questions += 2
    instance = "Braket Managed Jobs Instance"
    devices = [row for row in reading.price_search() if row["Product Family"] != instance]
    assert questions > 0 and len(devices) == questions  # no row but those the Tracker looks for


def test_qpus_are_named_as_the_tracker_names_them_from_an_arn() -> None:
    table = PriceTable.load()
    names = {
        "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1": "Forte-1",
        "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet": "Garnet",
        "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q": "Cepheus-1-108Q",
        "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1": "IBEX-Q1",
    }
    for arn, name in names.items():
        price = table.price(arn)
        assert price is not None and qpu_name(price) == name


def test_what_the_table_leaves_unpriced_has_no_row_and_instances_are_priced_by_the_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A missing row makes the Tracker say it found no price; a row of 0 would make the device free."""
    ibex = "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1"
    large = {"per_hour": "0.9", "region": "us-east-1"}
    table = PriceTable.load(overrides={"instances": {"ml.m5.large": large}})
    assert table.price(ibex) is not None and not table.is_priced(ibex)
    reading = sdk_reading(offer_file(table, REGIONS, PUBLISHED), monkeypatch)
    assert reading.price_search(**{"DeviceName": "IBEX-Q1"}) == []
    assert reading.price_search(**{"Device Name": "IBEX-Q1"}) == []
    (instance,) = reading.price_search(**{"Product Family": "Braket Managed Jobs Instance"})
    assert (instance["Instance Type"], instance["Region Code"]) == ("ml.m5.large", "us-east-1")
    assert (Decimal(instance["PricePerUnit"]), instance["Unit"]) == (Decimal("0.015"), "minutes")


def test_the_metadata_rows_are_those_of_aws_offer_files() -> None:
    head = offer_file(PriceTable.load(), REGIONS, PUBLISHED).splitlines()[:6]
    assert head[0] == '"FormatVersion","v1.0"'
    assert head[2:5] == ['"Publication Date","2026-12-01T00:00:00Z"', '"Version","20261201000000"',
                         '"OfferCode","AmazonBraket"']
    assert head[5].startswith('"SKU",')
