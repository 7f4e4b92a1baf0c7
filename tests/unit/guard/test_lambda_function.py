"""The handler's decisions: what it counts, what it cancels, when it tells Slack, what it ignores.

Braket is a small in-memory stand-in that applies SearchQuantumTasks filters the way the service
does; the real service path (the local stack, EventBridge, DynamoDB) is in the integration tests.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable
from covalent_braket_plugin.guard import slack
from covalent_braket_plugin.guard.lambda_function import Clients, handle_event
from tests.unit.guard.test_events import FORTE, task_event

GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
NEWCOMER = "arn:aws:braket:us-east-1::device/qpu/newcomer/Q-1"  # a QPU the price table does not know
NOON = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf"
HOOK = "https://hooks.slack.example/services/T/B/x"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeBraket:
    """Quantum tasks in memory behind the three calls the guard makes."""

    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.cancel_requests: list[str] = []
        self.searches = 0

    def add(self, status: str, shots: int, device: str = FORTE, created: datetime = NOON) -> str:
        arn = f"arn:aws:braket:us-east-1:123456789012:quantum-task/{uuid.uuid4()}"
        self.tasks[arn] = {
            "quantumTaskArn": arn,
            "status": status,
            "deviceArn": device,
            "shots": shots,
            "createdAt": created,
        }
        return arn

    def event(self, arn: str) -> dict[str, Any]:
        task = self.tasks[arn]
        return task_event(
            quantumTaskArn=arn, deviceArn=task["deviceArn"], shots=str(task["shots"]),
            createdAt=task["createdAt"].isoformat().replace("+00:00", "Z"),
        )

    def status(self, arn: str) -> str:
        return self.tasks[arn]["status"]

    # -- the Braket API, as much as the guard uses

    def get_paginator(self, operation: str) -> FakeBraket:
        assert operation == "search_quantum_tasks"
        return self

    def paginate(self, filters: list[dict[str, Any]], PaginationConfig: dict[str, int]) -> Any:
        assert PaginationConfig["PageSize"] == 100
        self.searches += 1
        found = [dict(t) for t in self.tasks.values() if all(self._matches(t, f) for f in filters)]
        yield {"quantumTasks": found}

    @staticmethod
    def _matches(task: dict[str, Any], condition: dict[str, Any]) -> bool:
        value, wanted = task[condition["name"]], condition["values"]
        if condition["operator"] == "EQUAL":
            return value in wanted
        assert condition["operator"] == "BETWEEN"
        return _when(wanted[0]) <= value <= _when(wanted[1])

    def get_quantum_task(self, quantumTaskArn: str) -> dict[str, Any]:
        if quantumTaskArn not in self.tasks:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": "no such task"}}, "GetQuantumTask"
            )
        return dict(self.tasks[quantumTaskArn])

    def cancel_quantum_task(self, quantumTaskArn: str) -> dict[str, str]:
        self.cancel_requests.append(quantumTaskArn)
        task = self.tasks[quantumTaskArn]
        if task["status"] not in ("CREATED", "QUEUED"):
            raise ClientError(
                {"Error": {"Code": "ConflictException", "Message": "task already ended"}}, "CancelQuantumTask"
            )
        task["status"] = "CANCELLING"
        return {"quantumTaskArn": quantumTaskArn, "cancellationStatus": "CANCELLING"}


class Untouchable:
    def __getattr__(self, name: str) -> None:
        raise AssertionError(f"AWS was called ({name})")


@pytest.fixture
def braket() -> FakeBraket:
    return FakeBraket()


@pytest.fixture
def posts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr(slack, "post", lambda url, text, timeout=5.0: sent.append(text))
    return sent


def run(event: Any, braket: Any, **environ: str) -> dict[str, Any]:
    return handle_event(event, environ, clients=Clients(braket=braket), prices=PriceTable.load())


def test_work_within_the_limit_is_left_alone(braket: FakeBraket, posts: list[str]) -> None:
    done = braket.add("COMPLETED", 400)
    new = braket.add("CREATED", 600)
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000", SLACK_WEBHOOK_URL=HOOK)
    assert outcome["action"] == "within_limit"
    assert outcome["usage"]["shots"] == 1000 and outcome["usage"]["task_count"] == 2  # exactly at the limit
    assert braket.cancel_requests == [] and posts == []
    assert braket.status(new) == "CREATED" and braket.status(done) == "COMPLETED"


def test_with_cancel_scope_all_a_breach_cancels_the_days_cancellable_tasks_of_that_device(
    braket: FakeBraket, posts: list[str]
) -> None:
    running = braket.add("RUNNING", 500)
    queued = braket.add("QUEUED", 400)
    yesterday = braket.add("QUEUED", 900, created=NOON - timedelta(days=1))
    other_device = braket.add("QUEUED", 900, device=GARNET)
    new = braket.add("CREATED", 200)
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000", CANCEL_SCOPE="all", SLACK_WEBHOOK_URL=HOOK)
    assert outcome["action"] == "limit_passed"
    assert outcome["usage"] == {"task_count": 3, "shots": 1100, "cost_usd": "88.90", "unpriced_tasks": 0}
    assert set(outcome["cancel"]["cancelled"]) == {queued, new}
    assert braket.status(running) == "RUNNING"
    assert braket.status(yesterday) == "QUEUED" and braket.status(other_device) == "QUEUED"
    assert len(posts) == 1
    assert FORTE in posts[0] and "3 tasks, 1100 shots" in posts[0] and new in posts[0] and queued in posts[0]


def test_the_message_names_tasks_a_concurrent_copy_cancelled_but_not_ones_that_finished(
    braket: FakeBraket, posts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = braket.add("QUEUED", 400)  # a duplicate of the event, handled at the same time, cancels it first
    finished = braket.add("QUEUED", 400)  # the device finishes it before the cancel request arrives
    new = braket.add("CREATED", 400)
    cancel = braket.cancel_quantum_task

    def racing_cancel(quantumTaskArn: str) -> dict[str, str]:
        braket.tasks[taken]["status"] = "CANCELLED"
        braket.tasks[finished]["status"] = "COMPLETED"
        return cancel(quantumTaskArn)

    monkeypatch.setattr(braket, "cancel_quantum_task", racing_cancel)
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000", CANCEL_SCOPE="all", SLACK_WEBHOOK_URL=HOOK)
    assert outcome["action"] == "limit_passed"
    assert set(outcome["cancel"]["already_finished"]) == {taken, finished}
    assert len(posts) == 1
    assert "Cancelled 2 created or queued tasks" in posts[0]
    assert taken in posts[0] and new in posts[0] and finished not in posts[0]


def test_cost_limit_uses_exact_decimal_prices(braket: FakeBraket, posts: list[str]) -> None:
    # Forte-1: $0.30 a task + $0.08 a shot. 2 x (0.30 + 0.08 x 10) = $2.20
    braket.add("COMPLETED", 10)
    new = braket.add("CREATED", 10)
    assert run(braket.event(new), braket, MAX_COST_USD="2.20")["action"] == "within_limit"
    newer = braket.add("CREATED", 1)
    outcome = run(braket.event(newer), braket, MAX_COST_USD="2.20")
    assert outcome["action"] == "limit_passed" and outcome["usage"]["cost_usd"] == "2.58"


def test_duplicated_events_cancel_and_notify_once(braket: FakeBraket, posts: list[str]) -> None:
    braket.add("QUEUED", 800)
    new = braket.add("CREATED", 800)
    first = run(braket.event(new), braket, MAX_SHOTS="1000", CANCEL_SCOPE="all", SLACK_WEBHOOK_URL=HOOK)
    second = run(braket.event(new), braket, MAX_SHOTS="1000", CANCEL_SCOPE="all", SLACK_WEBHOOK_URL=HOOK)
    assert len(first["cancel"]["cancelled"]) == 2
    # The cancelled tasks are no longer committed work: the copy finds the device within its limit.
    assert second["action"] == "within_limit"
    assert len(braket.cancel_requests) == 2 and len(posts) == 1


def test_an_event_arriving_after_its_task_was_cancelled_does_not_count(
    braket: FakeBraket, posts: list[str]
) -> None:
    braket.add("COMPLETED", 900)
    late = braket.add("CANCELLED", 500)  # its CREATED event comes in after it was cancelled
    outcome = run(braket.event(late), braket, MAX_SHOTS="1000")
    assert outcome["action"] == "within_limit" and outcome["usage"]["shots"] == 900
    assert braket.cancel_requests == []


def test_a_task_the_search_does_not_list_yet_is_looked_up(braket: FakeBraket, posts: list[str]) -> None:
    braket.add("COMPLETED", 900)
    new = braket.add("CREATED", 500)
    hidden = braket.tasks[new]

    def search_without_new(*args: Any, **kwargs: Any) -> Any:
        braket.tasks.pop(new)
        try:
            yield from FakeBraket.paginate(braket, *args, **kwargs)
        finally:
            braket.tasks[new] = hidden

    braket.paginate = search_without_new  # type: ignore[method-assign]
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000")
    assert outcome["usage"]["shots"] == 1400 and outcome["action"] == "limit_passed"


def test_out_of_order_events_of_another_day_count_against_that_day(braket: FakeBraket) -> None:
    old = braket.add("QUEUED", 600, created=NOON - timedelta(days=1))
    today = braket.add("QUEUED", 600)
    outcome = run(braket.event(old), braket, MAX_SHOTS="1000")
    assert outcome["day"] == "2026-11-20" and outcome["action"] == "within_limit"
    assert braket.status(today) == "QUEUED"


def test_the_day_follows_the_configured_time_zone(braket: FakeBraket) -> None:
    # 23:30 UTC on the 20th is the 21st in Berlin, the same day as NOON.
    evening = braket.add("QUEUED", 600, created=datetime(2026, 11, 20, 23, 30, tzinfo=UTC))
    new = braket.add("CREATED", 600)
    limits = {"MAX_SHOTS": "1000", "CANCEL_SCOPE": "all"}
    assert run(braket.event(new), braket, **limits)["action"] == "within_limit"
    outcome = run(braket.event(new), braket, **limits, DAY_TIMEZONE="Europe/Berlin")
    assert outcome["action"] == "limit_passed" and evening in outcome["cancel"]["cancelled"]


@pytest.mark.parametrize("status", ["QUEUED", "RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"])
def test_other_statuses_never_trigger_the_guard(status: str) -> None:
    event = task_event(status=status, shots="1000000")
    assert run(event, Untouchable(), MAX_SHOTS="1")["action"] == "ignored"


def test_unwatched_devices_are_ignored() -> None:
    event = task_event(shots="1000000")
    assert run(event, Untouchable(), MAX_SHOTS="1", DEVICE_ARNS=GARNET)["action"] == "ignored"


@pytest.mark.parametrize(
    "event",
    [
        None,
        "CREATED",
        {},
        task_event(shots="lots"),
        task_event(deviceArn=None),
        task_event(shots="²"),
        task_event(shots="9" * 5000),
        task_event(createdAt="9999-12-31T12:00:00+14:00"),
        task_event(createdAt="0001-01-01T00:00:00+14:00"),
        {k: v for k, v in task_event().items() if k != "detail"},
    ],
    ids=["none", "text", "empty", "lots", "no-device", "superscript-two", "5000-digits", "year-9999",
         "year-0001", "no-detail"],
)
def test_malformed_events_end_in_a_logged_decision_without_aws(
    event: Any, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = run(event, Untouchable(), MAX_SHOTS="1", DAY_TIMEZONE="Pacific/Kiritimati")
    assert outcome["action"] == "ignored" and outcome["reason"].startswith("malformed event")
    assert "malformed" in caplog.text


def test_unknown_fields_change_nothing(braket: FakeBraket) -> None:
    new = braket.add("CREATED", 600)
    event = braket.event(new)
    event["detail"]["somethingNew"] = {"x": [1]}
    event["extra"] = True
    outcome = run(event, braket, MAX_SHOTS="1000")
    assert outcome["action"] == "within_limit" and outcome["usage"]["shots"] == 600


def test_an_unknown_task_arn_is_a_decision_not_a_crash(
    braket: FakeBraket, caplog: pytest.LogCaptureFixture
) -> None:
    braket.add("COMPLETED", 900)
    ghost = task_event(
        quantumTaskArn="arn:aws:braket:us-east-1:123456789012:quantum-task/00000000-dead-4000-8000-000000000000",
        shots="500", createdAt="2026-11-21T12:00:00Z",
    )
    outcome = run(ghost, braket, MAX_SHOTS="1000")
    # GetQuantumTask answered ResourceNotFound: the task is not counted, the day's real work is.
    assert outcome["action"] == "within_limit" and outcome["usage"]["shots"] == 900
    assert outcome["task_not_found"] is True
    assert "within_limit" in caplog.text and braket.cancel_requests == []


def test_an_unexpected_failure_is_logged_as_an_error_decision(
    braket: FakeBraket, caplog: pytest.LogCaptureFixture
) -> None:
    new = braket.add("CREATED", 10)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("quantumTasks")

    braket.paginate = broken  # type: ignore[method-assign]
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000")
    assert outcome["action"] == "error" and "KeyError" in outcome["reason"]
    assert outcome["event_id"] == braket.event(new)["id"]
    assert '"action": "error"' in caplog.text


def test_throttling_is_logged_and_raised_so_lambda_retries(
    braket: FakeBraket, caplog: pytest.LogCaptureFixture
) -> None:
    new = braket.add("CREATED", 10)

    def throttled(*args: Any, **kwargs: Any) -> Any:
        error = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}
        raise ClientError(error, "SearchQuantumTasks")

    braket.paginate = throttled  # type: ignore[method-assign]
    with pytest.raises(ClientError, match="slow down"):
        run(braket.event(new), braket, MAX_SHOTS="1000")
    assert '"action": "retry"' in caplog.text


def test_access_denied_is_an_error_decision_not_a_retry(braket: FakeBraket) -> None:
    new = braket.add("CREATED", 10)

    def denied(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "SearchQuantumTasks")

    braket.paginate = denied  # type: ignore[method-assign]
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000")
    assert outcome["action"] == "error" and "AccessDenied" in outcome["reason"]


def test_a_slack_failure_never_stops_the_cancellation(
    braket: FakeBraket, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(url: str, text: str, timeout: float = 5.0) -> None:
        raise slack.SlackError("Slack answered HTTP 500")

    monkeypatch.setattr(slack, "post", refuse)
    queued = braket.add("QUEUED", 2000)
    new = braket.add("CREATED", 1)
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000", CANCEL_SCOPE="all", SLACK_WEBHOOK_URL=HOOK)
    assert outcome["action"] == "limit_passed" and outcome["notified"] is False
    assert "HTTP 500" in outcome["notify_error"]
    assert braket.status(queued) == "CANCELLING" and braket.status(new) == "CANCELLING"


def test_an_unreadable_webhook_secret_never_stops_the_cancellation(braket: FakeBraket) -> None:
    class BrokenSecrets:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetSecretValue")

    new = braket.add("CREATED", 2000)
    outcome = handle_event(
        braket.event(new),
        {"MAX_SHOTS": "1000", "SLACK_WEBHOOK_SECRET_ARN": SECRET},
        clients=Clients(braket=braket, secretsmanager=BrokenSecrets()),
        prices=PriceTable.load(),
    )
    assert braket.status(new) == "CANCELLING" and "AccessDenied" in outcome["notify_error"]


def test_without_a_webhook_the_breach_is_logged(braket: FakeBraket, caplog: pytest.LogCaptureFixture) -> None:
    new = braket.add("CREATED", 2000)
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000")
    assert outcome["notified"] is False and braket.status(new) == "CANCELLING"
    assert "daily limit passed" in caplog.text


def test_slack_post_raises_slack_error_when_unreachable() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(slack.SlackError, match="could not be reached"):
        slack.post(f"http://127.0.0.1:{port}/hook", "hello", timeout=2)


def test_webhook_secret_may_be_plain_text_or_json() -> None:
    class Secrets:
        def __init__(self, value: str) -> None:
            self.value, self.reads = value, 0

        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            self.reads += 1
            return {"SecretString": self.value}

    plain = Secrets("https://hooks.slack.example/plain\n")
    assert slack.webhook_from_secret(plain, "arn:plain") == "https://hooks.slack.example/plain"
    assert slack.webhook_from_secret(plain, "arn:plain") == "https://hooks.slack.example/plain"
    assert plain.reads == 1  # read once per warm container
    document = Secrets('{"webhook_url": "https://hooks.slack.example/json"}')
    assert slack.webhook_from_secret(document, "arn:json") == "https://hooks.slack.example/json"
    with pytest.raises(slack.SlackError, match="without any key"):
        slack.webhook_from_secret(Secrets('{"token": "x"}'), "arn:other")


# -- CANCEL_SCOPE=excess (the default): only the newest work that brings the day back within the limit


def test_a_breach_cancels_only_the_newest_work_past_the_limit(braket: FakeBraket, posts: list[str]) -> None:
    first = braket.add("QUEUED", 400, created=NOON - timedelta(hours=3))
    second = braket.add("QUEUED", 500, created=NOON - timedelta(hours=2))
    crossing = braket.add("CREATED", 200)
    outcome = run(braket.event(crossing), braket, MAX_SHOTS="1000", SLACK_WEBHOOK_URL=HOOK)
    assert outcome["action"] == "limit_passed" and outcome["usage"]["shots"] == 1100
    assert outcome["cancel_scope"] == "excess"
    assert list(outcome["cancel"]["cancelled"]) == [crossing]
    # the 400- and 500-shot tasks, queued long before, keep their places
    assert braket.status(first) == "QUEUED" and braket.status(second) == "QUEUED"
    assert len(posts) == 1 and crossing in posts[0] and first not in posts[0]


def test_excess_skips_work_that_can_no_longer_be_cancelled(braket: FakeBraket) -> None:
    older = braket.add("QUEUED", 400, created=NOON - timedelta(hours=3))
    queued = braket.add("QUEUED", 500, created=NOON - timedelta(hours=2))
    running = braket.add("RUNNING", 300, created=NOON - timedelta(hours=1))  # newest but running
    new = braket.add("CREATED", 100, created=NOON - timedelta(minutes=30))
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000")
    # 1300 shots: the 100 alone leaves 1200, so the 500 goes too; the 400 and the running 300 stay.
    assert set(outcome["cancel"]["cancelled"]) == {new, queued}
    assert braket.status(older) == "QUEUED" and braket.status(running) == "RUNNING"


def test_excess_counts_dollars_too(braket: FakeBraket) -> None:
    # Forte-1: $0.30 a task + $0.08 a shot. 8.30 + 8.30 + 1.10 = 17.70 against $10.
    old = braket.add("QUEUED", 100, created=NOON - timedelta(hours=1))
    mid = braket.add("QUEUED", 100, created=NOON - timedelta(minutes=30))
    new = braket.add("CREATED", 10)
    outcome = run(braket.event(new), braket, MAX_COST_USD="10")
    assert outcome["usage"]["cost_usd"] == "17.70"
    assert set(outcome["cancel"]["cancelled"]) == {new, mid} and braket.status(old) == "QUEUED"


# -- devices without a price are never free


def test_an_unpriced_qpu_under_a_dollar_limit_is_refused_naming_the_device(
    braket: FakeBraket, caplog: pytest.LogCaptureFixture
) -> None:
    new = braket.add("CREATED", 10**6, device=NEWCOMER)
    outcome = run(braket.event(new), braket, MAX_COST_USD="10")
    assert outcome["action"] == "refused" and NEWCOMER in outcome["reason"]
    assert "PRICE_OVERRIDES" in outcome["reason"]
    assert braket.status(new) == "CANCELLING" and braket.searches == 0
    assert "refused" in caplog.text and NEWCOMER in caplog.text


def test_an_override_price_counts_an_unpriced_qpu(braket: FakeBraket) -> None:
    overrides = json.dumps({"devices": {NEWCOMER: {"per_task": "0.30", "per_shot": "0.0001"}}})
    new = braket.add("CREATED", 10**6, device=NEWCOMER)
    environ = {"MAX_COST_USD": "10", "PRICE_OVERRIDES": overrides}
    outcome = handle_event(braket.event(new), environ, clients=Clients(braket=braket))
    assert outcome["action"] == "limit_passed" and outcome["usage"]["cost_usd"] == "100.3000"
    assert braket.status(new) == "CANCELLING"


def test_an_override_file_prices_an_unpriced_qpu(
    braket: FakeBraket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"devices": {NEWCOMER: {"per_task": "0.30", "per_shot": "0.000001"}}}))
    new = braket.add("CREATED", 10**6, device=NEWCOMER)
    outcome = handle_event(
        braket.event(new), {"MAX_COST_USD": "10", PRICES_ENV: str(prices)}, clients=Clients(braket=braket)
    )
    assert outcome["action"] == "within_limit" and outcome["usage"]["cost_usd"] == "1.300000"


def test_an_unpriced_qpu_under_a_shot_limit_alone_counts_its_shots(braket: FakeBraket) -> None:
    new = braket.add("CREATED", 10**6, device=NEWCOMER)
    outcome = run(braket.event(new), braket, MAX_SHOTS="1000")
    assert outcome["action"] == "limit_passed" and outcome["usage"]["shots"] == 10**6


def test_simulator_tasks_count_their_minimum_billed_time_from_creation(braket: FakeBraket) -> None:
    # SV1: $0.075 a minute, at least 3 s a task: $0.00375 before it has run, never $0.
    outcomes = []
    for _ in range(50):
        arn = braket.add("CREATED", 100, device=SV1)
        outcomes.append(run(braket.event(arn), braket, MAX_COST_USD="0"))
    assert {o["action"] for o in outcomes} == {"limit_passed"}
    assert outcomes[0]["usage"]["cost_usd"] == "0.00375"
    assert all(braket.status(arn) == "CANCELLING" for arn in braket.tasks)


def test_a_finished_simulator_task_counts_its_runtime(braket: FakeBraket) -> None:
    done = braket.add("COMPLETED", 100, device=SV1, created=NOON - timedelta(minutes=10))
    braket.tasks[done]["endedAt"] = NOON - timedelta(minutes=8)  # 2 minutes: $0.15
    new = braket.add("CREATED", 100, device=SV1)
    outcome = run(braket.event(new), braket, MAX_COST_USD="1")
    assert outcome["action"] == "within_limit" and outcome["usage"]["cost_usd"] == "0.15375"
