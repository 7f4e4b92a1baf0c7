"""The cost guard's AWS Lambda handler.

EventBridge sends it Braket's state changes. A task's CREATED event (every task passes through it
exactly once; the guard's own CANCELLING/CANCELLED changes never trigger it) counts the task: for
the device and day, and for the account, it totals the committed work (CREATED, QUEUED, RUNNING and
COMPLETED tasks: count, shots, estimated dollars). Past a limit it cancels the newest created or
queued work until the day is back within it (``CANCEL_SCOPE=excess``; ``all`` cancels every one)
and posts one Slack message for the breach. A simulator task's terminal event replaces its minimum
billed time with its runtime, and a hybrid job's terminal event adds its instance time (both kept in
the ledger).

Safety rules the handler keeps whatever arrives:
- a bad setting is logged and returned at the first invocation and nothing is cancelled;
- every event ends in one logged decision: a malformed one is ignored, a duplicated or out-of-order
  one is counted once, a failure is an ``error`` decision; only transient AWS errors are raised, so
  Lambda retries them;
- a device without a price is never counted as free: under a dollar limit its task is refused;
- cancelling happens only after the total read from Braket itself is past the limit (the ledger's
  fast total is a trigger, not the authority, because it keeps tasks that were cancelled since);
- Slack is told after cancelling, and a failed post is logged, never raised.

Only the standard library, boto3 and this package's guard, quantum-task, price and usage modules are
imported: that is what the deployed zip holds.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable
from covalent_braket_plugin.billing.usage import job_usage
from covalent_braket_plugin.guard import slack
from covalent_braket_plugin.guard.config import (
    CANCEL_ALL,
    PRICE_OVERRIDES,
    GuardConfig,
    GuardConfigError,
    Limits,
)
from covalent_braket_plugin.guard.events import (
    TERMINAL_STATUSES,
    TRIGGER_STATUS,
    JobEvent,
    MalformedEvent,
    TaskEvent,
    parse_event,
)
from covalent_braket_plugin.guard.ledger import DayTally, Ledger, LedgerMissing
from covalent_braket_plugin.quantum_tasks import CANCELLABLE_STATUSES, cancel_tasks, day_bounds, iter_tasks

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
def _price_table(override: str | None, overrides: str | None) -> PriceTable:
    """The price table, loaded once per warm container (per override file and PRICE_OVERRIDES)."""
    return PriceTable.load(override, json.loads(overrides) if overrides else None)


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


@dataclass(frozen=True)
class Work:
    """One committed task as the guard counts it: its shots and what it costs at least."""

    arn: str
    device_arn: str
    status: str
    created_at: datetime
    shots: int
    cost: Decimal | None  # None: the device has no price

    @classmethod
    def from_summary(cls, task: Mapping[str, Any], prices: PriceTable) -> Work:
        ended = task.get("endedAt")
        duration = ended - task["createdAt"] if ended is not None else None
        shots = int(task["shots"])
        return cls(
            arn=task["quantumTaskArn"],
            device_arn=task["deviceArn"],
            status=task["status"],
            created_at=task["createdAt"],
            shots=shots,
            cost=prices.least_task_cost(task["deviceArn"], shots, status=task["status"], duration=duration),
        )


def total(work: Iterable[Work], extra_cost: Decimal = Decimal(0)) -> DayTally:
    """The usage of ``work`` (priced part in dollars; unpriced tasks counted apart) plus ``extra_cost``."""
    items = list(work)
    return DayTally(
        task_count=len(items),
        shots=sum(w.shots for w in items),
        cost_usd=sum((w.cost for w in items if w.cost is not None), extra_cost),
        unpriced_tasks=sum(1 for w in items if w.cost is None),
    )


def excess(work: Iterable[Work], limits: Limits, extra_cost: Decimal = Decimal(0)) -> list[Work]:
    """The newest cancellable tasks whose cancellation brings ``work`` back within ``limits``.

    Work queued long before the task that crossed the line keeps its place: tasks are taken newest
    first, and only until the rest is within the limits (or nothing cancellable is left).
    """
    items = list(work)
    usage = total(items, extra_cost)
    chosen: list[Work] = []
    for item in sorted(items, key=lambda w: w.created_at, reverse=True):
        if not limits.passed(usage.shots, usage.cost_usd):
            break
        if item.status in CANCELLABLE_STATUSES:
            chosen.append(item)
            usage = DayTally(
                usage.task_count - 1, usage.shots - item.shots, usage.cost_usd - (item.cost or 0)
            )
    return chosen


class Guard:
    """Applies one ``GuardConfig`` to task and job events."""

    def __init__(self, config: GuardConfig, clients: Clients, prices: PriceTable) -> None:
        self.config = config
        self.clients = clients
        self.prices = prices
        self.ledger = Ledger(clients.dynamodb, config.ledger_table) if config.ledger_table else None

    def handle(self, event: TaskEvent | JobEvent) -> Outcome:
        try:
            if isinstance(event, JobEvent):
                return self.on_job(event)
            if not self.config.watches(event.device_arn):
                return Outcome("ignored", f"device {event.device_arn} is not in DEVICE_ARNS")
            if event.status == TRIGGER_STATUS:
                return self.on_created(event)
            if event.status in TERMINAL_STATUSES and self._is_simulator(event.device_arn):
                return self.on_runtime(event)
            return Outcome("ignored", f"status {event.status} is not {TRIGGER_STATUS}")
        except LedgerMissing as error:
            problem = f"LEDGER_TABLE={error.table!r}: no such DynamoDB table in this region"
            logger.error("cost guard: %s; nothing was cancelled", problem)
            return Outcome("config_error", problem, {"problems": [problem]})

    # -- the events

    def on_created(self, task: TaskEvent) -> Outcome:
        """A new task: count it, and past a limit cancel the newest queued work (or all of the day's)."""
        limits = self.config.limits_for(task.device_arn)
        account = self.config.account_limits
        if not limits and not account:
            return Outcome("ignored", f"no limit applies to {task.device_arn} (DEVICE_LIMITS names others)")
        day, bounds = self._day(task.created_at)
        details = _task_details(task, day)
        cost = self.prices.least_task_cost(task.device_arn, task.shots)
        if cost is None and (limits.max_cost_usd is not None or account.max_cost_usd is not None):
            return self.refuse(task, details)
        work: list[Work] | None = None
        if self.ledger is not None:
            counted, usage = self.ledger.record_task(
                task.task_arn, task.device_arn, day, task.shots, cost, expires=bounds[1]
            )
            details["counted"] = counted
            details["ledger_usage"] = usage.to_json()
            if self.ledger.claim_reconciliation(task.device_arn, day, expires=bounds[1]):
                # The device's first event of the day: Braket's own count corrects the ledger for
                # tasks whose events never arrived (created before the guard, or lost).
                work, found = self.committed_work(task, bounds)
                details["reconciled"] = {"missed_tasks": self.reconcile(self.ledger, work, day, bounds[1])}
            elif not limits.passed(usage.shots, usage.cost_usd) and not self._account_passed_ledger(day):
                return Outcome("within_limit", details=details)
        if work is None:
            work, found = self.committed_work(task, bounds)
        if not found:
            details["task_not_found"] = True  # GetQuantumTask: ResourceNotFound; not counted
        usage = total(work)
        details["usage"] = usage.to_json()
        if usage.unpriced_tasks and limits.max_cost_usd is not None:
            details["warning"] = f"{usage.unpriced_tasks} tasks on this device have no price"
        if limits and limits.passed(usage.shots, usage.cost_usd):
            details["limits"] = self.config.describe_limits(task.device_arn)
            return self.enforce(task.device_arn, day, bounds, work, limits, usage, details)
        if account:
            outcome = self.check_account(day, bounds, details)
            if outcome is not None:
                return outcome
        details["limits"] = self.config.describe_limits(task.device_arn)
        return Outcome("within_limit", details=details)

    def on_runtime(self, task: TaskEvent) -> Outcome:
        """A simulator task ended: its runtime replaces the minimum billed time counted at creation.

        The event carries no execution time, so the runtime is taken as creation to end (an upper
        bound: it includes time in the queue); without ``endedAt`` the minimum billed time stands.
        """
        day, bounds = self._day(task.created_at)
        details = _task_details(task, day)
        if self.ledger is None:
            return Outcome("ignored", "without the ledger a simulator task's runtime is read from Braket")
        duration = task.duration
        least = self.prices.least_task_cost(task.device_arn, task.shots)
        cost = self.prices.least_task_cost(task.device_arn, task.shots, status=task.status, duration=duration)
        if least is None or cost is None:
            return Outcome("ignored", f"device {task.device_arn} has no price", details)
        details["runtime_s"] = None if duration is None else duration.total_seconds()
        details["runtime_basis"] = "createdAt to endedAt" if duration is not None else "minimum billed time"
        counted, usage = self.ledger.record_charge(
            f"runtime#{task.task_arn}", task.device_arn, day, cost - least, expires=bounds[1]
        )
        details.update(counted=counted, ledger_usage=usage.to_json())
        limits = self.config.limits_for(task.device_arn)
        if limits.passed(usage.shots, usage.cost_usd) or self._account_passed_ledger(day):
            return self._reenforce(task.device_arn, day, bounds, limits, details)
        return Outcome("within_limit", details=details)

    def on_job(self, job: JobEvent) -> Outcome:
        """A hybrid job ended: its instance time (billableDuration x hourly price x count) counts."""
        if job.status not in TERMINAL_STATUSES:
            return Outcome("ignored", f"job status {job.status} is not terminal; its time counts at the end")
        if self.ledger is None:
            return Outcome("ignored", "job instance time is counted with the ledger (LEDGER_TABLE) only")
        record = self.clients.braket.get_job(jobArn=job.job_arn)
        used = job_usage(record)  # as the executor's bill measures it
        day, bounds = self._day(record.get("endedAt") or job.created_at)
        details: dict[str, Any] = {
            "job": job.job_arn, "day": day.isoformat(), "instance_type": used.instance_type,
            "instance_count": used.instance_count, "billable_ms": used.billable_ms,
        }
        cost = self.prices.job_cost(used.instance_type, used.billable_ms or 0, used.instance_count)
        if cost is None:
            reason = (
                f"instance type {used.instance_type!r} has no price, so job {job.job_arn} could not be "
                "counted; give it a price in PRICE_OVERRIDES (or COVALENT_BRAKET_PRICES)"
            )
            logger.error("cost guard: %s", reason)
            return Outcome("refused", reason, details)
        counted, usage = self.ledger.record_charge(f"job#{job.job_arn}", None, day, cost, expires=bounds[1])
        details.update(cost_usd=str(cost), counted=counted, ledger_usage=usage.to_json())
        if self.config.account_limits:
            outcome = self.check_account(day, bounds, details)
            if outcome is not None:
                return outcome
        return Outcome("within_limit", details=details)

    # -- counting

    def committed_work(self, task: TaskEvent, bounds: tuple[datetime, datetime]) -> tuple[list[Work], bool]:
        """The day's committed work on the device, read from Braket (the authority).

        The event's own task is looked up directly when the search does not list it yet, so a new
        task is never missed to the search index's delay; one that has already ended unbilled is not
        counted. The flag is False when Braket knows no task of the event's ARN.
        """
        work = self.day_work(task.device_arn, bounds)
        if any(w.arn == task.task_arn for w in work):
            return work, True
        current = _get_task(self.clients.braket, task.task_arn)
        if current is not None and current["status"] in COMMITTED_STATUSES:
            work.append(Work.from_summary(current, self.prices))
        return work, current is not None

    def day_work(self, device_arn: str | None, bounds: tuple[datetime, datetime]) -> list[Work]:
        """Committed tasks created in ``bounds`` on one device (or every device), from Braket's search."""
        found = iter_tasks(
            self.clients.braket, device_arn=device_arn, statuses=COMMITTED_STATUSES, created_between=bounds
        )
        return [Work.from_summary(summary, self.prices) for summary in found]

    @staticmethod
    def reconcile(ledger: Ledger, work: list[Work], day: date, expires: datetime) -> int:
        """Record in the ledger each task Braket lists that it lacks; how many it lacked."""
        return sum(
            ledger.record_task(w.arn, w.device_arn, day, w.shots, w.cost, expires=expires)[0] for w in work
        )

    def check_account(
        self, day: date, bounds: tuple[datetime, datetime], details: dict[str, Any]
    ) -> Outcome | None:
        """Past the account-wide limit (every device's tasks and job time of the day): enforce."""
        limits = self.config.account_limits
        work = [w for w in self.day_work(None, bounds) if self.config.watches(w.device_arn)]
        jobs = self.ledger.jobs_cost(day) if self.ledger is not None else Decimal(0)
        usage = total(work, jobs)
        details["account_usage"] = {**usage.to_json(), "jobs_cost_usd": str(jobs)}
        if not limits.passed(usage.shots, usage.cost_usd):
            return None
        details["limits"] = self.config.describe_limits()
        return self.enforce(None, day, bounds, work, limits, usage, details, extra_cost=jobs)

    def _account_passed_ledger(self, day: date) -> bool:
        account = self.config.account_limits
        if not account or self.ledger is None:
            return False
        usage = self.ledger.usage(None, day)
        return account.passed(usage.shots, usage.cost_usd)

    def _reenforce(
        self, device_arn: str, day: date, bounds: tuple[datetime, datetime], limits: Limits,
        details: dict[str, Any],
    ) -> Outcome:
        """The ledger's total passed a limit after a charge: confirm with Braket, then enforce."""
        work = self.day_work(device_arn, bounds)
        usage = total(work)
        details["usage"] = usage.to_json()
        if limits and limits.passed(usage.shots, usage.cost_usd):
            details["limits"] = self.config.describe_limits(device_arn)
            return self.enforce(device_arn, day, bounds, work, limits, usage, details)
        return self.check_account(day, bounds, details) or Outcome("within_limit", details=details)

    # -- acting

    def refuse(self, task: TaskEvent, details: dict[str, Any]) -> Outcome:
        """A task on a device without a price, under a dollar limit: it cannot be counted, so it is
        cancelled rather than let run as if free."""
        report = cancel_tasks(self.clients.braket, [task.task_arn])
        details["cancel"] = report.to_json()
        reason = (
            f"device {task.device_arn} has no price, so the dollar limit cannot count its task; "
            "the task was cancelled. Give the device a price in PRICE_OVERRIDES (or COVALENT_BRAKET_PRICES), "
            "or guard it with a shot limit only (DEVICE_LIMITS)"
        )
        logger.error("cost guard: refused %s: %s", task.task_arn, reason)
        return Outcome("refused", reason, details)

    def enforce(
        self,
        device_arn: str | None,
        day: date,
        bounds: tuple[datetime, datetime],
        work: list[Work],
        limits: Limits,
        usage: DayTally,
        details: dict[str, Any],
        extra_cost: Decimal = Decimal(0),
    ) -> Outcome:
        """Cancel the newest queued work until back within ``limits`` (or, with CANCEL_SCOPE=all,
        every created or queued task of the day), then tell Slack once per breach.

        ``device_arn`` None is the account-wide limit: work of every watched device counts.
        """
        braket = self.clients.braket
        if self.config.cancel_scope == CANCEL_ALL:
            chosen = [w for w in work if w.status in CANCELLABLE_STATUSES]
        else:
            chosen = excess(work, limits, extra_cost)
        report = cancel_tasks(braket, [w.arn for w in chosen])
        details["cancel_scope"] = self.config.cancel_scope
        details["cancel"] = report.to_json()
        # A duplicate of this event, handled at the same time, may have cancelled some of them first:
        # those count as the guard's cancellations too, so the one message names every task it stopped.
        stopped = [*report.cancelled, *(arn for arn in report.already_finished if _cancelled(braket, arn))]
        details["notified"] = False
        text = slack.breach_message(
            device_arn=device_arn or "all devices of the account",
            day=day.isoformat(),
            task_count=usage.task_count,
            shots=usage.shots,
            cost_usd=str(usage.cost_usd),
            limits=details["limits"],
            cancelled=stopped,
            failed=list(report.failed),
            include_jobs=device_arn is None,
        )
        try:
            details["notified"] = self.notify(device_arn, day, bounds, text, cancelled=report.cancelled)
        except Exception as error:  # a notification problem must not fail the invocation
            details["notify_error"] = f"{type(error).__name__}: {error}"
            logger.error("cost guard: the Slack message was not sent: %s", details["notify_error"])
        return Outcome("limit_passed", details=details)

    def notify(
        self, device_arn: str | None, day: date, bounds: tuple[Any, Any], text: str, cancelled: Iterable[str]
    ) -> bool:
        """Post ``text`` if this invocation is the one to report the breach; True when posted.

        With the ledger, the conditional breach marker elects exactly one poster per device (or the
        account) and day, whatever the duplicates and concurrency. Without it, the poster is the
        invocation whose cancel requests stopped tasks: a duplicate event finds them no longer created
        or queued and stays silent (deploy serialises invocations with a reserved concurrency of 1 in
        that mode).
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

    def _day(self, moment: datetime) -> tuple[date, tuple[datetime, datetime]]:
        day = moment.astimezone(self.config.timezone).date()
        return day, day_bounds(day, self.config.timezone.key)

    def _is_simulator(self, device_arn: str) -> bool:
        price = self.prices.price(device_arn)
        return price is not None and price.is_simulator


def _task_details(task: TaskEvent, day: date) -> dict[str, Any]:
    return {"device_arn": task.device_arn, "day": day.isoformat(), "task": task.task_arn}


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
    if prices is None:
        try:
            prices = _price_table(environ.get(PRICES_ENV), environ.get(PRICE_OVERRIDES, "").strip() or None)
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
