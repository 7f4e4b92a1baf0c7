"""The guard's DynamoDB ledger on the local stack's DynamoDB, over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from covalent_braket_plugin.guard.deploy import GuardDeployment
from covalent_braket_plugin.guard.lambda_function import lambda_handler
from covalent_braket_plugin.guard.ledger import KEY, RETENTION, TTL_ATTRIBUTE, DayTally, Ledger
from covalent_braket_plugin.local.stack import LocalStack

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
DAY = date(2026, 11, 21)
DAY_END = datetime(2026, 11, 22, tzinfo=UTC)


def task(n: int) -> str:
    return f"arn:aws:braket:us-east-1:123456789012:quantum-task/00000000-0000-4000-8000-{n:012d}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(port=0, runner="process", state_dir=tmp_path_factory.mktemp("guard-ledger")) as running:
        yield running


@pytest.fixture(scope="module")
def dynamodb(stack: LocalStack) -> Any:
    kwargs = stack.client_kwargs()
    session = boto3.session.Session(
        aws_access_key_id=kwargs["aws_access_key_id"],
        aws_secret_access_key=kwargs["aws_secret_access_key"],
        region_name=kwargs["region_name"],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", stack.endpoint_url)
        GuardDeployment(session).ensure_table("ledger-tests")
    return boto3.client("dynamodb", **kwargs)


@pytest.fixture
def ledger(dynamodb: Any) -> Ledger:
    return Ledger(dynamodb, "ledger-tests")


def test_each_task_is_counted_once(ledger: Ledger) -> None:
    assert ledger.record_task(task(1), FORTE, DAY, 100, Decimal("8.30"), DAY_END) == (
        True,
        DayTally(1, 100, Decimal("8.30"), 0),
    )
    # duplicated deliveries of the same task change nothing
    for _ in range(3):
        assert ledger.record_task(task(1), FORTE, DAY, 100, Decimal("8.30"), DAY_END) == (
            False,
            DayTally(1, 100, Decimal("8.30"), 0),
        )
    counted, usage = ledger.record_task(task(2), FORTE, DAY, 50, Decimal("4.30"), DAY_END)
    assert counted and usage == DayTally(2, 150, Decimal("12.60"), 0)


def test_totals_are_kept_per_device_and_day(ledger: Ledger) -> None:
    ledger.record_task(task(10), GARNET, DAY, 1000, None, DAY_END)  # unpriced: counted, no dollars
    ledger.record_task(task(11), GARNET, date(2026, 11, 20), 7, Decimal("0.31"), DAY_END)
    assert ledger.usage(GARNET, DAY) == DayTally(1, 1000, Decimal(0), 1)
    assert ledger.usage(GARNET, date(2026, 11, 20)) == DayTally(1, 7, Decimal("0.31"), 0)
    assert ledger.usage(GARNET, date(2026, 11, 19)) == DayTally()


def test_items_expire_after_the_retention(ledger: Ledger, dynamodb: Any) -> None:
    ledger.record_task(task(20), FORTE, date(2026, 11, 1), 1, Decimal("0.38"), DAY_END)
    item = dynamodb.get_item(TableName="ledger-tests", Key={KEY: {"S": f"task#{task(20)}"}})["Item"]
    assert int(item[TTL_ATTRIBUTE]["N"]) == int((DAY_END + RETENTION).timestamp())


def test_one_breach_notification_per_device_and_day(ledger: Ledger) -> None:
    token = ledger.claim_notification(FORTE, DAY, DAY_END)
    assert token is not None
    assert ledger.claim_notification(FORTE, DAY, DAY_END) is None  # a duplicate or a concurrent invocation
    assert ledger.claim_notification(GARNET, DAY, DAY_END) is not None  # another device
    assert ledger.claim_notification(FORTE, date(2026, 11, 22), DAY_END) is not None  # another day
    # a post that failed gives the marker back, so the next event can report the breach
    ledger.release_notification(FORTE, DAY, "someone-else's token")
    assert ledger.claim_notification(FORTE, DAY, DAY_END) is None
    ledger.release_notification(FORTE, DAY, token)
    assert ledger.claim_notification(FORTE, DAY, DAY_END) is not None


def test_a_missing_ledger_table_is_a_setting_error(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAX_SHOTS", "1")
    monkeypatch.setenv("LEDGER_TABLE", "no-such-ledger")
    event = {
        "source": "aws.braket",
        "detail-type": "Braket Task State Change",
        "detail": {
            "quantumTaskArn": task(30),
            "status": "CREATED",
            "deviceArn": FORTE,
            "shots": "1000",
            "createdAt": "2026-11-21T12:00:00.000Z",
        },
    }
    outcome = lambda_handler(event, None)
    assert outcome["action"] == "config_error" and "no-such-ledger" in outcome["reason"]


BELL = {
    "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
    "source": "OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\nb = measure q;",
}


def created_event(braket: Any, arn: str) -> dict[str, Any]:
    """The CREATED event of a task of the stack, as EventBridge delivers it (shots as a string)."""
    record = braket.get_quantum_task(quantumTaskArn=arn)
    return {
        "id": f"event-{arn[-12:]}",
        "source": "aws.braket",
        "detail-type": "Braket Task State Change",
        "detail": {
            "quantumTaskArn": arn,
            "status": "CREATED",
            "deviceArn": record["deviceArn"],
            "shots": str(record["shots"]),
            "createdAt": record["createdAt"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
    }


def test_work_done_before_the_guard_saw_any_event_still_counts(
    stack: LocalStack, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """900 shots completed unseen, then a 200-shot task with MAX_SHOTS=1000: the ledger's first event
    of the device's day reconciles with Braket's own search, so the day passes the limit."""
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    GuardDeployment(boto3.session.Session(**_credentials(stack))).ensure_table("reconcile-tests")
    monkeypatch.setenv("LEDGER_TABLE", "reconcile-tests")
    monkeypatch.setenv("MAX_SHOTS", "1000")
    kwargs = stack.client_kwargs()
    braket = boto3.client("braket", **kwargs)
    boto3.client("s3", **kwargs).create_bucket(Bucket="amazon-braket-reconcile")

    def create(shots: int) -> str:
        return braket.create_quantum_task(
            action=json.dumps(BELL), deviceArn=GARNET, shots=shots,
            outputS3Bucket="amazon-braket-reconcile", outputS3KeyPrefix="tasks",
        )["quantumTaskArn"]

    unseen = create(900)
    deadline = time.monotonic() + 60
    while braket.get_quantum_task(quantumTaskArn=unseen)["status"] != "COMPLETED":
        assert time.monotonic() < deadline, "the 900-shot task did not complete"
        time.sleep(0.2)
    stack.set_faults(hold_qpu_tasks_s=3600.0)  # the new task stays QUEUED: there is work to cancel
    try:
        new = create(200)
        outcome = lambda_handler(created_event(braket, new), None)
    finally:
        stack.reset_faults()
    assert outcome["reconciled"] == {"missed_tasks": 1}  # the 900-shot task, never seen as an event
    assert outcome["action"] == "limit_passed" and outcome["usage"]["shots"] == 1100
    assert list(outcome["cancel"]["cancelled"]) == [new]
    assert braket.get_quantum_task(quantumTaskArn=new)["status"] in ("CANCELLING", "CANCELLED")
    assert braket.get_quantum_task(quantumTaskArn=unseen)["status"] == "COMPLETED"
    # The ledger now holds both tasks: the next event of the day needs no search to see the breach.
    day = datetime.now(UTC).date()
    assert Ledger(dynamodb, "reconcile-tests").usage(GARNET, day).shots == 1100


def _credentials(stack: LocalStack) -> dict[str, str]:
    kwargs = stack.client_kwargs()
    return {k: v for k, v in kwargs.items() if k != "endpoint_url"}
