"""The cost guard end to end on the local Braket stack, over HTTP.

The whole chain runs for real: the Braket emulator emits "Braket Task State Change" events to the
stack's default bus, an EventBridge rule with the deployed guard's own pattern sends them to an SQS
queue, and the test reads the queue and hands every event to ``lambda_handler`` twice, as
EventBridge's at-least-once delivery may. QPU tasks are held QUEUED by the stack's queue-hold fault,
so there is work to cancel. Slack is a local HTTP server that records what it is sent.

Each test starts its own stack so the day it counts holds exactly the tasks it created.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from covalent_braket_plugin.billing.prices import PRICES_ENV
from covalent_braket_plugin.guard.deploy import EVENT_PATTERN, GuardDeployment
from covalent_braket_plugin.guard.lambda_function import lambda_handler
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import BELL

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
ENTERPRISE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1"
BUCKET = "amazon-braket-guard-tests"
HOLD_S = 3600.0  # QPU tasks stay QUEUED for the whole test
DELIVERY_WAIT_S = 60.0
MAX_SHOTS = 250
CANCELLED = ("CANCELLING", "CANCELLED")


def local_noon_zone() -> str:
    """A fixed-offset zone in which it is about noon now, so the tasks cannot straddle two days."""
    offset = 12 - datetime.now(UTC).hour
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"  # Etc/GMT-3 is UTC+3


class SlackStandIn:
    """An incoming-webhook stand-in on 127.0.0.1 that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body)["text"])
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/guard"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Chain:
    """Braket tasks in, events through EventBridge and SQS, the handler applied to each."""

    def __init__(self, stack: LocalStack) -> None:
        kwargs = stack.client_kwargs()
        self.braket = boto3.client("braket", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        events = boto3.client("events", **kwargs)
        boto3.client("s3", **kwargs).create_bucket(Bucket=BUCKET)
        self.queue_url = self.sqs.create_queue(QueueName="guard-events")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="guard-events", EventPattern=json.dumps(EVENT_PATTERN), State="ENABLED")
        events.put_targets(Rule="guard-events", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def create(self, device: str, shots: int) -> str:
        return self.braket.create_quantum_task(
            action=json.dumps(BELL), deviceArn=device, shots=shots,
            outputS3Bucket=BUCKET, outputS3KeyPrefix="guard",
        )["quantumTaskArn"]

    def receive(self, arns: set[str]) -> list[dict[str, Any]]:
        """The events of ``arns`` off the queue (each task's CREATED event, and nothing else)."""
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while {e["detail"]["quantumTaskArn"] for e in events} < arns:
            if time.monotonic() > deadline:
                raise AssertionError(f"EventBridge delivered {len(events)} of {len(arns)} events")
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in batch.get("Messages", []):
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        assert {e["detail"]["status"] for e in events} == {"CREATED"}  # the rule lets nothing else through
        assert all(isinstance(e["detail"]["shots"], str) for e in events)
        return events

    def deliver(self, arns: set[str], *, overlapping: bool = True) -> list[dict[str, Any]]:
        """Hand each event to the handler twice, as a duplicated delivery would.

        The two copies run at the same time unless ``overlapping`` is off: the guard deployed
        without a ledger has a reserved concurrency of 1, so its invocations never overlap.
        """
        outcomes: list[dict[str, Any]] = []
        with ThreadPoolExecutor(max_workers=2 if overlapping else 1) as pool:
            for event in self.receive(arns):
                outcomes += list(pool.map(lambda e: lambda_handler(e, None), [event, event]))
        return outcomes

    def status(self, arn: str) -> str:
        return self.braket.get_quantum_task(quantumTaskArn=arn)["status"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack(port=0, runner="process", state_dir=tmp_path / "stack") as running:
        running.set_faults(hold_qpu_tasks_s=HOLD_S)
        yield running


@pytest.fixture
def slack_hook() -> Iterator[SlackStandIn]:
    hook = SlackStandIn()
    yield hook
    hook.close()


@pytest.fixture
def chain(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Chain:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", PRICES_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MAX_SHOTS", str(MAX_SHOTS))
    monkeypatch.setenv("CANCEL_SCOPE", "all")  # these tests follow whole rounds of cancellation
    monkeypatch.setenv("DAY_TIMEZONE", local_noon_zone())
    return Chain(stack)


def test_with_the_ledger_work_past_the_limit_is_cancelled_and_slack_told_once(
    stack: LocalStack, chain: Chain, slack_hook: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    table_arn, _ = GuardDeployment(boto3.session.Session(**_credentials(stack))).ensure_table("guard-ledger")
    assert table_arn.endswith(":table/guard-ledger")
    monkeypatch.setenv("LEDGER_TABLE", "guard-ledger")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack_hook.url)

    # Within the limit on both devices: 200 shots each.
    forte = [chain.create(FORTE, 100), chain.create(FORTE, 100)]
    enterprise = [chain.create(ENTERPRISE, 100), chain.create(ENTERPRISE, 100)]
    outcomes = chain.deliver({*forte, *enterprise})
    assert {o["action"] for o in outcomes} == {"within_limit"}
    # Each task is counted once: by its own event, or by the reconciliation with Braket's search that
    # the first event of a device's day makes (its later events are then copies).
    reconciled = sum(o.get("reconciled", {}).get("missed_tasks", 0) for o in outcomes)
    assert sum(o["counted"] for o in outcomes) + reconciled == 4
    assert [chain.status(arn) for arn in forte + enterprise] == ["QUEUED"] * 4
    assert slack_hook.messages == []

    # A third Forte task takes the day to 300 shots: Forte's queued work is cancelled, once.
    forte.append(chain.create(FORTE, 100))
    outcomes = chain.deliver({forte[-1]})
    # The copies overlap: a copy that reads after the other's cancellation finds the device back
    # within its limit, one that reads before passes it too; the task is counted once either way.
    assert "limit_passed" in {o["action"] for o in outcomes}
    assert sorted(o["counted"] for o in outcomes) == [False, True]
    assert max(o["ledger_usage"]["shots"] for o in outcomes) == 300
    assert all(chain.status(arn) in CANCELLED for arn in forte)
    assert [chain.status(arn) for arn in enterprise] == ["QUEUED", "QUEUED"]
    assert len(slack_hook.messages) == 1
    message = slack_hook.messages[0]
    assert FORTE in message and "3 tasks, 300 shots" in message and f"Limit: {MAX_SHOTS} shots" in message
    assert all(arn in message for arn in forte)

    # The ledger still holds the cancelled tasks, but Braket's own count decides: a new task that
    # keeps the committed work within the limit runs.
    later = chain.create(FORTE, 100)
    outcomes = chain.deliver({later})
    assert {o["action"] for o in outcomes} == {"within_limit"} and chain.status(later) == "QUEUED"

    # Passing the limit again the same day cancels again; the day's breach message was already sent.
    last = chain.create(FORTE, 200)
    outcomes = chain.deliver({last})
    assert "limit_passed" in {o["action"] for o in outcomes}
    assert max(o["ledger_usage"]["shots"] for o in outcomes) == 600
    assert chain.status(later) in CANCELLED and chain.status(last) in CANCELLED
    assert len(slack_hook.messages) == 1
    assert [chain.status(arn) for arn in enterprise] == ["QUEUED", "QUEUED"]


def test_without_the_ledger_the_api_count_decides_and_the_secret_holds_the_webhook(
    stack: LocalStack, chain: Chain, slack_hook: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = boto3.client("secretsmanager", **stack.client_kwargs())
    secret = json.dumps({"url": slack_hook.url})
    secret_arn = secrets.create_secret(Name="guard-slack", SecretString=secret)["ARN"]
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", secret_arn)

    forte = [chain.create(FORTE, 150)]
    enterprise = [chain.create(ENTERPRISE, 250)]  # exactly at the limit: within it
    outcomes = chain.deliver({*forte, *enterprise}, overlapping=False)
    assert {o["action"] for o in outcomes} == {"within_limit"}
    assert "counted" not in outcomes[0]  # no ledger: counted through SearchQuantumTasks

    forte.append(chain.create(FORTE, 150))
    first, duplicate = chain.deliver({forte[-1]}, overlapping=False)
    assert first["action"] == "limit_passed" and set(first["cancel"]["cancelled"]) == set(forte)
    assert first["notified"] is True
    # The copy finds the cancelled tasks no longer committed: nothing left to cancel or report.
    assert duplicate["action"] == "within_limit"
    assert all(chain.status(arn) in CANCELLED for arn in forte)
    assert chain.status(enterprise[0]) == "QUEUED"
    assert len(slack_hook.messages) == 1 and "2 tasks, 300 shots" in slack_hook.messages[0]

    # Without the ledger, each time the day passes the limit again is a breach of its own.
    again = [chain.create(FORTE, 200), chain.create(FORTE, 100)]
    chain.deliver(set(again), overlapping=False)
    assert all(chain.status(arn) in CANCELLED for arn in again)
    assert len(slack_hook.messages) == 2 and all(arn in slack_hook.messages[1] for arn in again)


def test_a_dead_slack_does_not_keep_work_running(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = SlackStandIn()
    dead.close()  # nothing listens there any more
    monkeypatch.setenv("SLACK_WEBHOOK_URL", dead.url)
    arns = [chain.create(FORTE, 200), chain.create(FORTE, 200)]
    outcomes = chain.deliver(set(arns))
    # Of the invocations that passed the limit, the one that cancelled tried Slack and reports why
    # it failed; a concurrent copy that found nothing left to cancel sends nothing.
    tried = [o for o in outcomes if o["action"] == "limit_passed" and "notify_error" in o]
    assert tried and all("could not be reached" in o["notify_error"] for o in tried)
    assert all(chain.status(arn) in CANCELLED for arn in arns)


def _credentials(stack: LocalStack) -> dict[str, str]:
    kwargs = stack.client_kwargs()
    return {k: v for k, v in kwargs.items() if k != "endpoint_url"}
