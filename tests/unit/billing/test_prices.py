"""PriceTable: the packaged prices, override files, and costs that are never silently zero."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable, device_key

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
    with pytest.raises(ValueError, match="'devices' object"):
        PriceTable.load(bad)


def test_every_packaged_entry_names_its_source(table: PriceTable) -> None:
    entries = list(table)
    assert len(entries) >= 12
    assert all(entry.source for entry in entries)


RETIRED = [
    "arn:aws:braket:::device/quantum-simulator/amazon/tn1",
    ARIA,
    "arn:aws:braket:us-east-1::device/qpu/ionq/Aria-2",
    ANKAA,
    "arn:aws:braket:us-east-1::device/qpu/ionq/Harmony",
    "arn:aws:braket:us-west-1::device/qpu/rigetti/Aspen-M-3",
]
CURRENT = [SV1, DM1, FORTE, FORTE_ENTERPRISE, GARNET, EMERALD, AQUILA, CEPHEUS, IBEX]
COMMON_INSTANCES = [
    "ml.m5.large", "ml.m5.xlarge", "ml.m5.2xlarge", "ml.m5.4xlarge", "ml.c5.xlarge", "ml.c5.2xlarge",
    "ml.c5.4xlarge", "ml.p3.2xlarge", "ml.p3.8xlarge", "ml.p3.16xlarge", "ml.g4dn.xlarge", "ml.g4dn.2xlarge",
]


def test_retired_devices_are_marked_and_current_ones_present(table: PriceTable) -> None:
    assert all(table.price(arn).retired for arn in RETIRED)
    assert all(not table.price(arn).retired for arn in CURRENT)
    # a retired device keeps its price so older tasks are still counted
    assert table.task_cost(ARIA, 100) == Decimal("3.30")


def test_every_packaged_figure_has_its_source_url_the_day_it_was_read_and_a_note_if_unconfirmed(
    table: PriceTable,
) -> None:
    entries = [*(p.to_json() for p in table), *(i.to_json() for i in table.instances.values())]
    for entry in entries:
        assert entry["source"].startswith("https://")
        assert date.fromisoformat(entry["read"])
        assert entry["confirmed"] or entry["note"]
    # what the pricing page itself listed is confirmed; what it did not list says so
    assert table.price(FORTE).provenance.confirmed and table.price(GARNET).provenance.confirmed
    emerald = table.price(EMERALD).provenance
    assert not emerald.confirmed and "Not confirmed" in emerald.note
    assert not table.is_priced(IBEX) and "Unpriced" in table.price(IBEX).provenance.note


def test_simulators_have_a_minimum_billing_unit(table: PriceTable) -> None:
    for arn in (SV1, DM1, "arn:aws:braket:::device/quantum-simulator/amazon/tn1"):
        assert table.price(arn).minimum_seconds == 3
    # counted from creation, before its runtime is known: the minimum, never zero or unknown
    assert table.least_task_cost(SV1, 100) == Decimal("0.00375")
    assert table.least_task_cost(SV1, 100, duration=timedelta(minutes=2)) == Decimal("0.15")
    assert table.least_task_cost(FORTE, 100) == Decimal("8.30")
    assert table.least_task_cost("arn:aws:braket:us-east-1::device/qpu/newcomer/Q-1", 100) is None


def test_job_instance_types_are_listed_with_their_region(table: PriceTable) -> None:
    for name in COMMON_INSTANCES:
        entry = table.instance_price(name)
        assert entry is not None and entry.region == "us-east-1"
    # no figure could be confirmed: a job's instance time is unpriced rather than free
    assert table.job_cost("ml.m5.large", 180_000) is None
    assert table.job_cost("ml.unknown.type", 180_000) is None
    # A job cancelled before it started was billed no time: nothing, whatever the price.
    assert table.job_cost("ml.unknown.type", 0) == Decimal(0)


def test_job_cost_is_billable_time_times_hourly_price_times_instances(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    instance = {"per_hour": "0.12", "region": "us-east-1"}
    override.write_text(json.dumps({"instances": {"ml.m5.large": instance}}))
    table = PriceTable.load(override)
    # 3 minutes on two instances at $0.12 an hour
    assert table.job_cost("ml.m5.large", 180_000, 2) == Decimal("0.012")
    assert table.instance_price("ml.m5.large").per_hour == Decimal("0.12")
    assert table.task_cost(FORTE, 100) == Decimal("8.30")  # an instances-only override keeps devices


def test_an_override_document_replaces_entries_after_the_file(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"devices": {IBEX: {"per_task": "0.30", "per_shot": "0.02"}}}))
    table = PriceTable.load(override, {"devices": {IBEX: {"per_task": "0", "per_shot": "0.01"}}})
    assert table.task_cost(IBEX, 100) == Decimal("1.00")


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"devices": {IBEX: {"per_shot": "cheap"}}}, IBEX),
        ({"devices": {IBEX: {"per_shot": "-0.1"}}}, "0 or more"),
        ({"devices": {IBEX: {"per_shot": "NaN"}}}, "0 or more"),
        ({"instances": {"ml.m5.large": {"per_hour": "x"}}}, "ml.m5.large"),
        ({"devices": {IBEX: "0.02"}}, "not an object"),
    ],
)
def test_bad_override_figures_are_refused_naming_the_entry(document: dict, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        PriceTable.load(None, document)
