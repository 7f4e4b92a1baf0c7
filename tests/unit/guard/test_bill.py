"""The whole bill: limits per device and account-wide, job instance time, simulator runtime.

Braket is the in-memory stand-in of test_lambda_function; the ledger runs on moto's DynamoDB in
process (the local stack's DynamoDB over HTTP is in the integration tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.guard.lambda_function import Clients, handle_event
from covalent_braket_plugin.guard.ledger import KEY
from tests.unit.guard.test_events import FORTE
from tests.unit.guard.test_lambda_function import GARNET, NOON, SV1, FakeBraket

JOB = "arn:aws:braket:us-east-1:123456789012:job/electron-1"
TABLE = "guard-ledger"
# $3.60 an hour is $0.001 a second: 10 minutes on two instances cost $1.20.
INSTANCE_PRICE = json.dumps({"instances": {"ml.m5.large": {"per_hour": "3.60", "region": "us-east-1"}}})


class JobBraket(FakeBraket):
    """The stand-in with hybrid jobs: GetJob answers what the guard reads of a job."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, dict[str, Any]] = {}

    def get_job(self, jobArn: str) -> dict[str, Any]:
        return dict(self.jobs[jobArn])


@pytest.fixture
def braket() -> JobBraket:
    return JobBraket()


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def run(event: Any, braket: Any, dynamodb: Any = None, **environ: str) -> dict[str, Any]:
    if dynamodb is not None:
        environ.setdefault("LEDGER_TABLE", TABLE)
    clients = Clients(braket=braket, dynamodb=dynamodb)
    overrides = environ.get("PRICE_OVERRIDES")
    prices = PriceTable.load(None, json.loads(overrides) if overrides else None)
    return handle_event(event, environ, clients=clients, prices=prices)


def job_event(status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "id": "job-event-1",
        "source": "aws.braket",
        "detail-type": "Braket Job State Change",
        "time": "2026-11-21T12:10:00Z",
        "detail": {"jobArn": JOB, "status": status, "createdAt": "2026-11-21T11:59:00Z",
                   "startedAt": "2026-11-21T12:00:00Z", "endedAt": "2026-11-21T12:10:00Z"},
    }


def add_job(braket: JobBraket, instance_type: str = "ml.m5.large", count: int = 2) -> None:
    braket.jobs[JOB] = {
        "jobArn": JOB, "status": "COMPLETED", "billableDuration": 600_000,
        "instanceConfig": {"instanceType": instance_type, "instanceCount": count, "volumeSizeInGb": 30},
        "createdAt": NOON - timedelta(minutes=11), "endedAt": NOON + timedelta(minutes=10),
    }


# -- limits per device and account-wide


def test_a_device_limit_replaces_the_default_for_that_device_only(braket: JobBraket) -> None:
    limits = json.dumps({FORTE: {"max_shots": 100}})
    forte = braket.add("CREATED", 150)
    garnet = braket.add("CREATED", 150, device=GARNET)
    on_forte = run(braket.event(forte), braket, MAX_SHOTS="1000", DEVICE_LIMITS=limits)
    on_garnet = run(braket.event(garnet), braket, MAX_SHOTS="1000", DEVICE_LIMITS=limits)
    assert on_forte["action"] == "limit_passed" and on_forte["limits"].startswith("100 shots per device")
    assert on_garnet["action"] == "within_limit" and braket.status(garnet) == "CREATED"


def test_a_device_without_a_limit_of_its_own_is_left_to_the_account_limit(braket: JobBraket) -> None:
    older = braket.add("QUEUED", 600, created=NOON - timedelta(hours=1))
    new = braket.add("CREATED", 500, device=GARNET)
    outcome = run(braket.event(new), braket, ACCOUNT_MAX_SHOTS="1000")
    # 1100 shots over two devices: the newest work goes, whichever device it is on.
    assert outcome["action"] == "limit_passed" and outcome["account_usage"]["shots"] == 1100
    assert outcome["limits"].endswith("per account per day (UTC)")
    assert list(outcome["cancel"]["cancelled"]) == [new] and braket.status(older) == "QUEUED"


def test_the_account_limit_counts_every_device_and_each_device_its_own(braket: JobBraket) -> None:
    braket.add("QUEUED", 400, created=NOON - timedelta(hours=1))
    new = braket.add("CREATED", 400, device=GARNET)
    outcome = run(braket.event(new), braket, MAX_SHOTS="500", ACCOUNT_MAX_SHOTS="1000")
    assert outcome["action"] == "within_limit"
    assert outcome["usage"]["shots"] == 400 and outcome["account_usage"]["shots"] == 800


# -- hybrid job instance time


def test_a_finished_job_adds_its_instance_time_and_can_pass_the_account_limit(
    braket: JobBraket, dynamodb: Any
) -> None:
    add_job(braket)
    queued = braket.add("QUEUED", 1, created=NOON - timedelta(minutes=5))
    first = run(job_event(), braket, dynamodb, ACCOUNT_MAX_COST_USD="1", PRICE_OVERRIDES=INSTANCE_PRICE)
    assert first["cost_usd"] == "1.20" and first["counted"] is True
    assert first["instance_type"] == "ml.m5.large" and first["instance_count"] == 2
    # the job alone is past $1: the queued task is cancelled, the job itself has already ended
    assert first["action"] == "limit_passed" and first["account_usage"]["jobs_cost_usd"] == "1.20"
    assert braket.status(queued) == "CANCELLING"
    duplicate = run(job_event(), braket, dynamodb, ACCOUNT_MAX_COST_USD="1", PRICE_OVERRIDES=INSTANCE_PRICE)
    assert duplicate["counted"] is False and duplicate["ledger_usage"]["cost_usd"] == "1.20"


def test_a_job_on_an_unpriced_instance_type_is_refused_naming_it(
    braket: JobBraket, dynamodb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    add_job(braket, instance_type="ml.m5.large")  # packaged without a confirmed hourly figure
    outcome = run(job_event(), braket, dynamodb, ACCOUNT_MAX_COST_USD="10")
    assert outcome["action"] == "refused" and "ml.m5.large" in outcome["reason"]
    assert "PRICE_OVERRIDES" in outcome["reason"] and "ml.m5.large" in caplog.text


def test_job_events_need_the_ledger_and_a_terminal_status(braket: JobBraket, dynamodb: Any) -> None:
    add_job(braket)
    assert "ledger" in run(job_event(), braket, ACCOUNT_MAX_COST_USD="1")["reason"]
    running = run(job_event("RUNNING"), braket, dynamodb, ACCOUNT_MAX_COST_USD="1")
    assert running["action"] == "ignored" and "not terminal" in running["reason"]


# -- on-demand simulator runtime


def sv1_completed_event(braket: JobBraket, arn: str, runtime: timedelta) -> dict[str, Any]:
    event = braket.event(arn)
    event["detail"]["status"] = "COMPLETED"
    event["detail"]["endedAt"] = (braket.tasks[arn]["createdAt"] + runtime).isoformat().replace("+00:00", "Z")
    return event


def test_a_simulator_task_counts_its_minimum_then_its_runtime(braket: JobBraket, dynamodb: Any) -> None:
    done = braket.add("CREATED", 100, device=SV1, created=NOON - timedelta(minutes=10))
    created = run(braket.event(done), braket, dynamodb, MAX_COST_USD="0.10")
    assert created["ledger_usage"]["cost_usd"] == "0.00375"  # SV1's 3 s minimum, before it ran
    braket.tasks[done].update(status="COMPLETED", endedAt=NOON - timedelta(minutes=8))
    queued = braket.add("QUEUED", 100, device=SV1, created=NOON - timedelta(minutes=5))
    event = sv1_completed_event(braket, done, timedelta(minutes=2))
    ended = run(event, braket, dynamodb, MAX_COST_USD="0.10")
    # Two minutes at $0.075 a minute replace the minimum; the queued task's minimum adds $0.00375.
    assert ended["runtime_basis"] == "createdAt to endedAt" and ended["runtime_s"] == 120
    assert ended["ledger_usage"]["cost_usd"] == "0.15000"
    assert ended["action"] == "limit_passed" and list(ended["cancel"]["cancelled"]) == [queued]
    copy = sv1_completed_event(braket, done, timedelta(minutes=2))
    again = run(copy, braket, dynamodb, MAX_COST_USD="0.10")
    assert again["counted"] is False


def test_without_end_time_a_simulator_task_keeps_its_minimum(braket: JobBraket, dynamodb: Any) -> None:
    arn = braket.add("CREATED", 100, device=SV1)
    run(braket.event(arn), braket, dynamodb, MAX_COST_USD="1")
    event = braket.event(arn)
    event["detail"]["status"] = "COMPLETED"
    outcome = run(event, braket, dynamodb, MAX_COST_USD="1")
    assert outcome["runtime_basis"] == "minimum billed time"
    assert outcome["ledger_usage"]["cost_usd"] == "0.00375"
