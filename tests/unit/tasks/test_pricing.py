"""PriceTable: the packaged prices, override files, and costs that are never silently zero."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from covalent_braket_plugin.tasks.pricing import PRICES_ENV, PriceTable, device_key

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
FORTE_ENTERPRISE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1"
ARIA = "arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
EMERALD = "arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
CEPHEUS = "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q"
ANKAA = "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3"
IBEX = "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> PriceTable:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    return PriceTable.load()


@pytest.mark.parametrize(
    ("device", "shots", "expected"),
    [
        (FORTE, 100, "8.30"),
        (FORTE_ENTERPRISE, 1000, "80.30"),
        (ARIA, 100, "3.30"),
        (GARNET, 1000, "1.75"),
        (EMERALD, 1000, "1.75"),
        (AQUILA, 100, "1.30"),
        (CEPHEUS, 1000, "1.20"),
        (ANKAA, 1000, "1.20"),
    ],
)
def test_qpu_task_costs_per_task_fee_plus_shots(
    table: PriceTable, device: str, shots: int, expected: str
) -> None:
    cost = table.task_cost(device, shots)
    assert isinstance(cost, Decimal)
    assert cost == Decimal(expected)


def test_failed_and_cancelled_tasks_cost_nothing_even_on_unpriced_devices(table: PriceTable) -> None:
    assert table.task_cost(FORTE, 1000, status="FAILED") == 0
    assert table.task_cost(FORTE, 1000, status="CANCELLED") == 0
    assert table.task_cost(IBEX, 1000, status="CANCELLED") == 0
    assert table.task_cost(FORTE, 1000, status="QUEUED") == Decimal("80.30")


def test_unpriced_and_unknown_devices_have_no_cost_rather_than_zero(table: PriceTable) -> None:
    assert table.price(IBEX) is not None
    assert not table.is_priced(IBEX)
    assert table.task_cost(IBEX, 100) is None
    unknown = "arn:aws:braket:us-east-1::device/qpu/newcomer/Q-1"
    assert table.price(unknown) is None
    assert not table.is_priced(unknown)
    assert table.task_cost(unknown, 100) is None


def test_simulators_are_billed_per_minute_with_a_three_second_minimum(table: PriceTable) -> None:
    assert table.is_priced(SV1)
    assert table.is_priced(DM1)
    assert table.simulator_cost(SV1, timedelta(minutes=2)) == Decimal("0.15")
    assert table.simulator_cost(DM1, timedelta(seconds=30)) == Decimal("0.0375")
    # 1 ms of runtime is billed as 3 s: 0.075 * 3 / 60
    assert table.simulator_cost(SV1, timedelta(milliseconds=1)) == Decimal("0.00375")
    assert table.task_cost(SV1, 100, duration=timedelta(seconds=1)) == Decimal("0.00375")
    # without a runtime a simulator task cannot be priced
    assert table.task_cost(SV1, 100) is None
    assert table.simulator_cost(FORTE, timedelta(minutes=1)) is None


def test_a_device_is_found_by_its_path_whatever_region_its_arn_names(table: PriceTable) -> None:
    assert device_key(FORTE) == "qpu/ionq/Forte-1"
    assert table.task_cost("arn:aws:braket:::device/qpu/ionq/Forte-1", 10) == Decimal("1.10")


def test_an_override_file_replaces_and_adds_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"devices": {
        IBEX: {"per_task": "0.30", "per_shot": "0.02", "source": "negotiated"},
        FORTE: {"per_task": "0", "per_shot": "0.05"},
    }}))
    table = PriceTable.load(override)
    assert table.task_cost(IBEX, 100) == Decimal("2.30")
    assert table.price(IBEX).source == "negotiated"
    assert table.task_cost(FORTE, 100) == Decimal("5.00")
    assert table.task_cost(GARNET, 1000) == Decimal("1.75")  # untouched entries stay

    monkeypatch.setenv(PRICES_ENV, str(override))
    assert PriceTable.load().task_cost(IBEX, 100) == Decimal("2.30")


def test_an_override_file_without_devices_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"Forte-1": 0.08}))
    with pytest.raises(ValueError, match="devices"):
        PriceTable.load(bad)


def test_every_packaged_entry_names_its_source(table: PriceTable) -> None:
    entries = list(table)
    assert len(entries) >= 12
    assert all(entry.source for entry in entries)
