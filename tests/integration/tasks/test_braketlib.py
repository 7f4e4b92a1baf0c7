"""AmazonBraketlib and ``covalent-braket tasks`` against the local Braket stack over HTTP.

The module starts its own stack so that the day it counts holds exactly the tasks it created.
QPU tasks are held QUEUED by the stack's queue-hold fault; simulator tasks really run.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from covalent_braket_plugin.cli import tasks as cli
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.tasks import AmazonBraketlib, PriceTable
from tests.integration.conftest import BELL

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
IBEX = "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
BUCKET = "amazon-braket-monitor-tests"
# (device, shots, result folder) of every task the module creates
PLAN = [
    (FORTE, 100, "forte"), (FORTE, 100, "forte"), (FORTE, 100, "other"),
    (GARNET, 1000, "garnet"), (GARNET, 1000, "garnet"),
    (IBEX, 10, "ibex"),
    (SV1, 50, "sv1"), (SV1, 50, "sv1"),
]
SETTLE_S = 120.0
HOLD_S = 3600.0


def local_noon_zone() -> str:
    """A fixed-offset zone in which it is about noon now, so the tasks cannot straddle two days."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. +12
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"  # Etc/GMT-3 is UTC+3


def wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + SETTLE_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {SETTLE_S:.0f} s")
        time.sleep(0.1)


def statuses(braket: Any, arns: list[str]) -> list[str]:
    return [braket.get_quantum_task(quantumTaskArn=arn)["status"] for arn in arns]


@pytest.fixture(scope="module")
def created(stack: LocalStack, env: LocalStack) -> dict[str, Any]:
    """The tasks of ``PLAN``, QPU ones QUEUED and simulator ones COMPLETED."""
    stack.set_faults(hold_qpu_tasks_s=HOLD_S)
    boto3.client("s3", **stack.client_kwargs()).create_bucket(Bucket=BUCKET)
    braket = boto3.client("braket", **stack.client_kwargs())
    arns: dict[str, list[str]] = {}
    folders: dict[str, str] = {}
    for device, shots, folder in PLAN:
        arn = braket.create_quantum_task(
            action=json.dumps(BELL), deviceArn=device, shots=shots,
            outputS3Bucket=BUCKET, outputS3KeyPrefix=f"{folder}/results",
        )["quantumTaskArn"]
        arns.setdefault(device, []).append(arn)
        folders[arn] = folder
    qpu = arns[FORTE] + arns[GARNET] + arns[IBEX]
    wait_for(lambda: set(statuses(braket, qpu)) == {"QUEUED"}, "QPU tasks reaching QUEUED")
    wait_for(lambda: set(statuses(braket, arns[SV1])) == {"COMPLETED"}, "SV1 tasks completing")
    return {"braket": braket, "arns": arns, "folders": folders, "tz": local_noon_zone()}


@pytest.fixture(scope="module")
def lib(stack: LocalStack, created: dict[str, Any]) -> AmazonBraketlib:
    return AmazonBraketlib(region=stack.region)


def today(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def test_summary_counts_shots_and_costs_per_device_and_status(lib: AmazonBraketlib, created: dict) -> None:
    tz = created["tz"]
    summary = lib.summary(today(tz), tz)
    rows = {(row.device_arn, row.status): (row.tasks, row.shots, row.cost) for row in summary.rows}
    sv1_cost = rows.pop((SV1, "COMPLETED"))
    assert rows == {
        (FORTE, "QUEUED"): (3, 300, Decimal("24.90")),  # 3 x 0.30 + 300 x 0.08
        (GARNET, "QUEUED"): (2, 2000, Decimal("3.50")),  # 2 x 0.30 + 2000 x 0.00145
        (IBEX, "QUEUED"): (1, 10, None),  # no public price: unpriced, not free
    }
    # simulator tasks are priced from their runtime, read here through GetQuantumTask
    prices = PriceTable.load()
    expected_sv1 = Decimal(0)
    for arn in created["arns"][SV1]:
        task = created["braket"].get_quantum_task(quantumTaskArn=arn)
        expected_sv1 += prices.simulator_cost(SV1, task["endedAt"] - task["createdAt"])
    assert sv1_cost == (2, 100, expected_sv1)
    assert expected_sv1 >= 2 * Decimal("0.00375")  # at least the 3 s minimum each
    assert (summary.tasks, summary.shots) == (8, 2410)
    assert summary.cost is None
    assert summary.priced_cost == Decimal("28.40") + expected_sv1
    assert summary.unpriced_devices == (IBEX,)


def test_filters_by_device_status_and_day(lib: AmazonBraketlib, created: dict) -> None:
    tz = created["tz"]
    forte = lib.summary(today(tz), tz, device="forte-1")
    assert [(r.device_arn, r.status, r.tasks) for r in forte.rows] == [(FORTE, "QUEUED", 3)]
    queued = lib.summary(today(tz), tz, statuses=["QUEUED", "RUNNING"])
    assert {r.device_arn for r in queued.rows} == {FORTE, GARNET, IBEX}
    assert lib.summary(today(tz), tz, statuses=["COMPLETED"]).tasks == 2
    assert lib.summary(today(tz) - timedelta(days=1), tz).tasks == 0
    assert lib.summary(today(tz) + timedelta(days=1), tz).tasks == 0


def test_get_info_keeps_the_earlier_tools_shape(lib: AmazonBraketlib, created: dict) -> None:
    ids = created["arns"][FORTE]
    created_at = created["braket"].get_quantum_task(quantumTaskArn=ids[0])["createdAt"]
    utc_day = created_at.astimezone(UTC).date()
    info = lib.get_info(utc_day.year, utc_day.month, utc_day.day, "qpu", "ionq", "Forte-1", 0)
    forte_folder = f"{BUCKET}/forte"
    other_folder = f"{BUCKET}/other"
    assert info == {
        "id": {BUCKET: ids, forte_folder: ids[:2], other_folder: ids[2:]},
        "count": {BUCKET: 300, forte_folder: 200, other_folder: 100},
        "total_shots": 300,
        "hardware": "ionq",
        "qpu": "device/qpu/ionq/Forte-1",
        "status": "QUEUED",
        "date": f"{utc_day.year}-{utc_day.month}-{utc_day.day}",
    }


def test_cli_summary_prints_the_same_totals_as_json(
    stack: LocalStack, created: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    tz = created["tz"]
    parser = argparse.ArgumentParser(prog="covalent-braket")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["tasks", "summary", "--date", today(tz).isoformat(), "--tz", tz, "--device", "garnet",
         "--region", stack.region, "--json"]
    )
    assert args.handler(args) == 0
    document = json.loads(capsys.readouterr().out)
    [row] = document["rows"]
    assert (row["device_arn"], row["status"], row["tasks"], row["shots"]) == (GARNET, "QUEUED", 2, 2000)
    assert Decimal(row["cost"]) == Decimal("3.50")
    assert Decimal(document["total"]["cost"]) == Decimal("3.50")


def test_cancel_queued_with_and_without_dry_run(lib: AmazonBraketlib, created: dict) -> None:
    tz, braket = created["tz"], created["braket"]
    garnet = created["arns"][GARNET]
    dry = lib.cancel_queued("Garnet", today(tz), tz, dry_run=True)
    assert set(dry.requested) == set(garnet)
    assert dry.cancelled == {} and dry.failed == {}
    assert statuses(braket, garnet) == ["QUEUED", "QUEUED"]

    report = lib.cancel_queued("Garnet", today(tz), tz)
    assert set(report.cancelled) == set(garnet)
    assert set(report.cancelled.values()) <= {"CANCELLING", "CANCELLED"}
    assert report.ok
    wait_for(lambda: statuses(braket, garnet) == ["CANCELLED", "CANCELLED"], "Garnet tasks being cancelled")
    assert statuses(braket, created["arns"][FORTE]) == ["QUEUED"] * 3  # other devices untouched

    after = lib.summary(today(tz), tz, device=GARNET)
    assert [(r.status, r.tasks, r.shots, r.cost) for r in after.rows] == [("CANCELLED", 2, 2000, Decimal(0))]
    assert lib.cancel_queued("Garnet", today(tz), tz).requested == ()

    # a finished task is reported, not raised
    finished = created["arns"][SV1][0]
    outcome = lib.delete_quantumTask(finished)
    assert list(outcome.already_finished) == [finished]
    assert outcome.ok
