"""The cost guard's AWS Lambda handler.

EventBridge sends it every "Braket Task State Change" with status CREATED (and only those: the
guard's own CANCELLING/CANCELLED changes never reach it, so it cannot trigger itself). For the
event's device and day it totals the committed work (CREATED, QUEUED, RUNNING and COMPLETED tasks:
count, shots, estimated dollars). Past a limit it cancels the device's CREATED and QUEUED tasks of
that day and posts one Slack message for the breach.

Safety rules the handler keeps whatever arrives:
- a bad setting is logged and returned at the first invocation and nothing is cancelled;
- a malformed, duplicated or out-of-order event is ignored or counted once, never a crash;
- cancelling happens only after the total read from Braket itself is past the limit (the ledger's
  fast total is a trigger, not the authority, because it keeps tasks that were cancelled since);
- Slack is told after cancelling, and a failed post is logged, never raised.

Only the standard library, boto3 and this package's guard and monitor modules are imported: that
is what the deployed zip holds.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from covalent_braket_plugin.guard import slack
from covalent_braket_plugin.guard.config import GuardConfig, GuardConfigError
from covalent_braket_plugin.guard.events import (
    TRIGGER_STATUS,
    JobEvent,
    MalformedEvent,
    TaskEvent,
    parse_event,
)
from covalent_braket_plugin.guard.ledger import Ledger, Usage
from covalent_braket_plugin.tasks.cancel import cancel_tasks
from covalent_braket_plugin.tasks.pricing import PRICES_ENV, PriceTable
from covalent_braket_plugin.tasks.search import CANCELLABLE_STATUSES, day_bounds, iter_tasks
from covalent_braket_plugin.tasks.summary import summarize

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# Work a device is committed to for the day: what a limit is measured against.
COMMITTED_STATUSES = ("CREATED", "QUEUED", "RUNNING", "COMPLETED")
# AWS answers that mean "try again later": the handler raises them so Lambda retries the event.
TRANSIENT_ERROR_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "ProvisionedThroughputExceededException", "InternalServiceException", "InternalServerError",
    "ServiceUnavailable", "ServiceUnavailableException",
})


@lru_cache(maxsize=4)
def _price_table(override: str | None) -> PriceTable:
    """The price table, loaded once per warm container (per override file)."""
    return PriceTable.load(override)


@dataclass
class Clients:
    """The AWS clients the guard uses; tests hand in their own."""

    braket: Any
    dynamodb: Any = None
    secretsmanager: Any = None

    @classmethod
    def from_environment(cls, config: GuardConfig) -> Clients:
        # A session of its own: boto3's default session is not safe to share between threads.
        session = boto3.session.Session()
        return cls(
            braket=session.client("braket"),
            dynamodb=session.client("dynamodb") if config.ledger_table else None,
            secretsmanager=session.client("secretsmanager") if config.slack_webhook_secret_arn else None,
        )


@dataclass
class Outcome:
    """What one invocation did, returned to Lambda and logged as one JSON line."""

    action: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, **({"reason": self.reason} if self.reason else {}), **self.details}


class Guard:
    """Applies one ``GuardConfig`` to task events."""

    def __init__(self, config: GuardConfig, clients: Clients, prices: PriceTable) -> None:
        self.config = config
        self.clients = clients
        self.prices = prices
        self.ledger = Ledger(clients.dynamodb, config.ledger_table) if config.ledger_table else None

    def handle(self, task: TaskEvent) -> Outcome:
        if task.status != TRIGGER_STATUS:
            return Outcome("ignored", f"status {task.status} is not {TRIGGER_STATUS}")
        if not self.config.watches(task.device_arn):
            return Outcome("ignored", f"device {task.device_arn} is not in DEVICE_ARNS")
        day = task.created_at.astimezone(self.config.timezone).date()
        bounds = day_bounds(day, self.config.timezone.key)
        details: dict[str, Any] = {
            "device_arn": task.device_arn, "day": day.isoformat(), "task": task.task_arn,
        }
        if self.ledger is not None:
            try:
                counted, usage = self.ledger.record_task(
                    task.task_arn, task.device_arn, day, task.shots,
                    self.prices.task_cost(task.device_arn, task.shots), expires=bounds[1],
                )
            except self.clients.dynamodb.exceptions.ResourceNotFoundException:
                problem = f"LEDGER_TABLE={self.ledger.table!r}: no such DynamoDB table in this region"
                logger.error("cost guard: %s; nothing was cancelled", problem)
                return Outcome("config_error", problem, {"problems": [problem]})
            details["counted"] = counted
            details["ledger_usage"] = usage.to_json()
            if not self.passed(usage):
                return Outcome("within_limit", details=details)
        usage, found = self.committed_usage(task, day, bounds)
        if not found:
            details["task_not_found"] = True  # GetQuantumTask: ResourceNotFound; not counted
        details["usage"] = usage.to_json()
        details["limits"] = self.config.describe_limits()
        if usage.unpriced_tasks and self.config.max_cost_usd is not None:
            details["warning"] = (
                f"{usage.unpriced_tasks} tasks on this device have no price; the cost limit ignores them"
            )
        if not self.passed(usage):
            return Outcome("within_limit", details=details)
        return self.enforce(task.device_arn, day, bounds, usage, details)

    def passed(self, usage: Usage) -> bool:
        """Whether ``usage`` is past a limit (reaching a limit exactly is still within it)."""
        shots_over = self.config.max_shots is not None and usage.shots > self.config.max_shots
        cost_over = self.config.max_cost_usd is not None and usage.cost_usd > self.config.max_cost_usd
        return shots_over or cost_over

    def committed_usage(self, task: TaskEvent, day: date, bounds: tuple[Any, Any]) -> tuple[Usage, bool]:
        """The day's committed work on the device, read from Braket (the authority).

        The event's own task is looked up directly when the search does not list it yet, so a new
        task is never missed to the search index's delay; one that has already ended unbilled is not
        counted. The flag is False when Braket knows no task of the event's ARN.
        """
        braket = self.clients.braket
        tasks = {
            summary["quantumTaskArn"]: summary
            for summary in iter_tasks(
                braket, device_arn=task.device_arn, statuses=COMMITTED_STATUSES, created_between=bounds
            )
        }
        found = True
        if task.task_arn not in tasks:
            current = _get_task(braket, task.task_arn)
            found = current is not None
            if current is not None and current["status"] in COMMITTED_STATUSES:
                tasks[task.task_arn] = current
        summary = summarize(tasks.values(), self.prices, day, self.config.timezone.key)
        usage = Usage(
            task_count=summary.tasks,
            shots=summary.shots,
            cost_usd=summary.priced_cost,
            unpriced_tasks=sum(row.tasks for row in summary.rows if row.cost is None),
        )
        return usage, found

    def enforce(
        self, device_arn: str, day: date, bounds: tuple[Any, Any], usage: Usage, details: dict[str, Any]
    ) -> Outcome:
        """Cancel the device's cancellable tasks of the day, then tell Slack once per breach."""
        braket = self.clients.braket
        arns = [
            summary["quantumTaskArn"]
            for summary in iter_tasks(
                braket, device_arn=device_arn, statuses=CANCELLABLE_STATUSES, created_between=bounds
            )
        ]
        report = cancel_tasks(braket, arns)
        details["cancel"] = report.to_json()
        # A duplicate of this event, handled at the same time, may have cancelled some of them first:
        # those count as the guard's cancellations too, so the one message names every task it stopped.
        stopped = [*report.cancelled, *(arn for arn in report.already_finished if _cancelled(braket, arn))]
        details["notified"] = False
        text = slack.breach_message(
            device_arn=device_arn,
            day=day.isoformat(),
            task_count=usage.task_count,
            shots=usage.shots,
            cost_usd=str(usage.cost_usd),
            limits=self.config.describe_limits(),
            cancelled=stopped,
            failed=list(report.failed),
        )
        try:
            details["notified"] = self.notify(device_arn, day, bounds, text, cancelled=report.cancelled)
        except Exception as error:  # a notification problem must not fail the invocation
            details["notify_error"] = f"{type(error).__name__}: {error}"
            logger.error("cost guard: the Slack message was not sent: %s", details["notify_error"])
        return Outcome("limit_passed", details=details)

    def notify(
        self, device_arn: str, day: date, bounds: tuple[Any, Any], text: str, cancelled: Iterable[str]
    ) -> bool:
        """Post ``text`` if this invocation is the one to report the breach; True when posted.

        With the ledger, the conditional breach marker elects exactly one poster per device and day,
        whatever the duplicates and concurrency. Without it, the poster is the invocation whose
        cancel requests stopped tasks: a duplicate event finds them no longer created or queued and
        stays silent (deploy serialises invocations with a reserved concurrency of 1 in that mode).
        """
        webhook = self.webhook()
        if webhook is None:
            logger.warning("cost guard: no Slack webhook configured; message was:\n%s", text)
            return False
        if self.ledger is None:
            if not list(cancelled):
                return False
            slack.post(webhook, text)
            return True
        token = self.ledger.claim_notification(device_arn, day, expires=bounds[1])
        if token is None:
            return False
        try:
            slack.post(webhook, text)
        except Exception:
            self.ledger.release_notification(device_arn, day, token)
            raise
        return True

    def webhook(self) -> str | None:
        secret_arn = self.config.slack_webhook_secret_arn
        if secret_arn:
            return slack.webhook_from_secret(self.clients.secretsmanager, secret_arn)
        return self.config.slack_webhook_url


def _cancelled(braket: Any, task_arn: str) -> bool:
    """True when the task ended cancelled (not completed or failed before its cancel request came)."""
    current = _get_task(braket, task_arn)
    return current is not None and current["status"] in ("CANCELLING", "CANCELLED")


def _get_task(braket: Any, task_arn: str) -> dict[str, Any] | None:
    """GetQuantumTask, or None when Braket knows no such task (an event about an unknown ARN)."""
    try:
        return braket.get_quantum_task(quantumTaskArn=task_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def is_transient(error: Exception) -> bool:
    """Whether AWS may answer differently if asked again (throttling, a 5xx, a dropped connection)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.response.get("Error", {}).get("Code") in TRANSIENT_ERROR_CODES or status >= 500
    return isinstance(error, ConnectionError | HTTPClientError)


def handle_event(
    event: Any, environ: Mapping[str, str], clients: Clients | None = None, prices: PriceTable | None = None
) -> dict[str, Any]:
    """Everything ``lambda_handler`` does, with the environment and clients passed in."""
    try:
        config = GuardConfig.from_environ(environ)
    except GuardConfigError as error:
        outcome = Outcome("config_error", str(error), {"problems": error.problems})
        logger.error("cost guard: %s; nothing was cancelled", error)
        return outcome.to_json()
    try:
        task = parse_event(event)
    except MalformedEvent as error:
        logger.warning("cost guard: ignored a malformed event: %s", error)
        return Outcome("ignored", f"malformed event: {error}").to_json()
    if isinstance(task, JobEvent):
        return Outcome("ignored", "job events are not counted").to_json()
    if prices is None:
        try:
            prices = _price_table(environ.get(PRICES_ENV))
        except (OSError, ValueError) as error:
            logger.error("cost guard: the price table could not be read: %s; nothing was cancelled", error)
            return Outcome("config_error", f"{PRICES_ENV}: {error}", {"problems": [str(error)]}).to_json()
    guard = Guard(config, clients or Clients.from_environment(config), prices)
    try:
        outcome = guard.handle(task).to_json()
    except (ClientError, BotoCoreError) as error:
        if is_transient(error):
            # Lambda retries the event (a retry is just another copy); the decision is logged first.
            logger.error("cost guard: %s", json.dumps(Outcome("retry", _describe(error)).to_json()))
            raise
        outcome = Outcome("error", _describe(error), {"event_id": _event_id(event)}).to_json()
        logger.error("cost guard: %s", json.dumps(outcome, default=str))
        return outcome
    except Exception as error:  # a defect must still end in a decision, not a lost event
        outcome = Outcome("error", _describe(error), {"event_id": _event_id(event)}).to_json()
        logger.exception("cost guard: %s", json.dumps(outcome, default=str))
        return outcome
    logger.info("cost guard: %s", json.dumps(outcome, default=str))
    return outcome


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _event_id(event: Any) -> Any:
    return event.get("id") if isinstance(event, Mapping) else None


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    """AWS Lambda entry point (``covalent_braket_plugin.guard.lambda_function.lambda_handler``)."""
    return handle_event(event, os.environ)
