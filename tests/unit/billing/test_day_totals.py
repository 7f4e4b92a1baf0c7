"""summarize / DaySummary: counts, shots and costs per device and status, and their renderings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from covalent_braket_plugin.billing.day_totals import summarize
from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"
IBEX = "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
NOON = datetime(2026, 11, 21, 12, tzinfo=UTC)


def task(device: str, status: str, shots: int, runtime_s: float | None = None) -> dict:
    record = {
        "quantumTaskArn": f"arn:aws:braket:us-east-1:123456789012:quantum-task/{status}-{shots}",
        "deviceArn": device,
        "status": status,
        "shots": shots,
        "outputS3Bucket": "amazon-braket-results",
        "outputS3Directory": "tasks/x",
        "createdAt": NOON,
    }
    if runtime_s is not None:
        record["endedAt"] = NOON + timedelta(seconds=runtime_s)
    return record


@pytest.fixture
def prices(monkeypatch: pytest.MonkeyPatch) -> PriceTable:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    return PriceTable.load()


def test_rows_count_tasks_shots_and_cost_per_device_and_status(prices: PriceTable) -> None:
    tasks = [
        task(FORTE, "COMPLETED", 100, 30),
        task(FORTE, "COMPLETED", 200, 30),
        task(FORTE, "QUEUED", 50),
        task(FORTE, "FAILED", 1000, 5),
        task(AQUILA, "CANCELLED", 100, 1),
        task(SV1, "COMPLETED", 1000, 120),
        task(SV1, "COMPLETED", 10, 1),
    ]
    summary = summarize(tasks, prices, date(2026, 11, 21))
    assert [(r.device_arn, r.status) for r in summary.rows] == [
        (SV1, "COMPLETED"),
        (FORTE, "QUEUED"),
        (FORTE, "COMPLETED"),
        (FORTE, "FAILED"),
        (AQUILA, "CANCELLED"),
    ]
    completed = summary.row(FORTE, "COMPLETED")
    assert (completed.tasks, completed.shots, completed.cost) == (2, 300, Decimal("24.60"))
    assert summary.row(FORTE, "QUEUED").cost == Decimal("4.30")
    assert summary.row(FORTE, "FAILED").cost == 0
    assert summary.row(AQUILA, "CANCELLED").cost == 0
    # 120 s + 3 s (1 s billed as the 3 s minimum) at 0.075 a minute
    assert summary.row(SV1, "COMPLETED").cost == Decimal("0.15375")
    assert summary.row(FORTE, "RUNNING") is None
    assert (summary.tasks, summary.shots) == (7, 2460)
    assert summary.cost == Decimal("28.90") + Decimal("0.15375")
    assert summary.unpriced_devices == ()


def test_unpriced_tasks_make_the_total_unknown_but_keep_the_priced_part(prices: PriceTable) -> None:
    tasks = [task(FORTE, "COMPLETED", 100, 30), task(IBEX, "COMPLETED", 100, 30), task(SV1, "RUNNING", 100)]
    summary = summarize(tasks, prices, date(2026, 11, 21))
    assert summary.row(IBEX, "COMPLETED").cost is None
    assert summary.row(SV1, "RUNNING").cost is None  # no runtime yet
    assert summary.cost is None
    assert summary.priced_cost == Decimal("8.30")
    assert set(summary.unpriced_devices) == {IBEX, SV1}


def test_json_keeps_every_digit_as_a_string(prices: PriceTable) -> None:
    summary = summarize([task(SV1, "COMPLETED", 10, 1)], prices, date(2026, 11, 21), "Europe/Paris")
    document = json.loads(summary.dumps())
    assert document["date"] == "2026-11-21"
    assert document["tz"] == "Europe/Paris"
    assert document["rows"] == [
        {"device_arn": SV1, "status": "COMPLETED", "tasks": 1, "shots": 10, "cost": "0.00375"}
    ]
    assert document["total"] == {
        "tasks": 1, "shots": 10, "cost": "0.00375", "priced_cost": "0.00375", "unpriced_devices": []
    }


def test_table_shows_rows_totals_and_unpriced_devices(prices: PriceTable) -> None:
    tasks = [task(FORTE, "COMPLETED", 1000, 30), task(IBEX, "QUEUED", 5)]
    table = summarize(tasks, prices, date(2026, 11, 21)).to_table()
    lines = table.splitlines()
    assert lines[0] == "Quantum tasks created on 2026-11-21 (UTC)"
    assert lines[1].split() == ["DEVICE", "STATUS", "TASKS", "SHOTS", "COST", "(USD)"]
    assert lines[3].split() == [IBEX, "QUEUED", "1", "5", "unpriced"]
    assert lines[4].split() == [FORTE, "COMPLETED", "1", "1000", "80.30"]
    assert lines[6].split() == ["TOTAL", "2", "1005", "unpriced"]
    assert lines[7] == f"unpriced: {IBEX} (priced part: 80.30)"


def test_an_empty_day_says_so(prices: PriceTable) -> None:
    summary = summarize([], prices, date(2026, 11, 21))
    assert summary.cost == 0
    assert "(no tasks)" in summary.to_table()
