"""Quantum tasks through Braket's own API: find them with SearchQuantumTasks, cancel them one by one.

Finding lets the service do the filtering: the job, the device, the statuses (one EQUAL filter with
several values) and the creation window (BETWEEN) all go to the service, so only matching tasks come
back; pages hold 100 tasks, and each matching task is read exactly once. Nothing relies on the order
the service lists tasks in, which is undocumented.

Cancelling races with the device: a task may finish between being listed and being cancelled.
Braket answers that with ConflictException, which is an outcome to report, not an error to raise.

Below the tools that count, price and stop work (AmazonBraketlib, the cost guard, the bill, a job's
stop), which all search and cancel the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

TASK_STATUSES = ("CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED")
# Statuses a task can still be cancelled from before it runs (QUEUED only on a best-effort basis).
CANCELLABLE_STATUSES = ("CREATED", "QUEUED")
PAGE_SIZE = 100  # the largest page SearchQuantumTasks serves

# BETWEEN includes both ends; the last instant of a half-open window, at the service's millisecond
# precision, keeps a task created exactly at midnight out of the day before.
_LAST_INSTANT = timedelta(milliseconds=1)


# --- finding ----------------------------------------------------------------------------------------
def day_bounds(day: date, tz: str = "UTC") -> tuple[datetime, datetime]:
    """The half-open window ``[start, end)`` of a calendar day in time zone ``tz``, in UTC.

    Days across a daylight-saving change last 23 or 25 hours; building both ends from local
    midnights (rather than adding 24 hours) gets them right.
    """
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """``moment`` as the RFC 3339 UTC text with milliseconds that the Braket filters take."""
    if moment.tzinfo is None:
        raise ValueError("a filter time needs a time zone")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def task_filters(
    *,
    job_arn: str | None = None,
    device_arn: str | None = None,
    statuses: Iterable[str] | None = None,
    created_between: tuple[datetime, datetime] | None = None,
    created_since: datetime | None = None,
) -> list[dict[str, Any]]:
    """The SearchQuantumTasks filters for a job, a device, some statuses, and a half-open creation
    window or a creation time from which on (inclusive)."""
    if created_between is not None and created_since is not None:
        raise ValueError("give created_between or created_since, not both")
    filters: list[dict[str, Any]] = []
    if job_arn:
        filters.append({"name": "jobArn", "operator": "EQUAL", "values": [job_arn]})
    if device_arn:
        filters.append({"name": "deviceArn", "operator": "EQUAL", "values": [device_arn]})
    if statuses is not None:
        wanted = set(statuses)
        unknown = sorted(wanted - set(TASK_STATUSES))
        if unknown:
            raise ValueError(f"unknown task status {', '.join(unknown)}; known: {', '.join(TASK_STATUSES)}")
        if not wanted:
            raise ValueError("statuses is empty: pass None for every status")
        values = sorted(wanted, key=TASK_STATUSES.index)
        filters.append({"name": "status", "operator": "EQUAL", "values": values})
    if created_between is not None:
        start, end = created_between
        if end <= start:
            raise ValueError(f"empty creation window: {start.isoformat()} .. {end.isoformat()}")
        values = [rfc3339(start), rfc3339(end - _LAST_INSTANT)]
        filters.append({"name": "createdAt", "operator": "BETWEEN", "values": values})
    if created_since is not None:
        filters.append({"name": "createdAt", "operator": "GTE", "values": [rfc3339(created_since)]})
    return filters


def iter_tasks(
    braket_client: Any,
    *,
    job_arn: str | None = None,
    device_arn: str | None = None,
    statuses: Iterable[str] | None = None,
    created_between: tuple[datetime, datetime] | None = None,
    created_since: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """Every QuantumTaskSummary matching the filters, 100 per request, in the service's order.

    ``job_arn`` finds the tasks a hybrid job created (they carry its ARN, though their summaries do
    not name it, so a search of several jobs could not tell whose each task is: one job per search).
    ``created_between`` is half-open ``[start, end)`` like ``day_bounds`` returns; ``created_since``
    includes its instant (at the service's millisecond), so a task created at the same millisecond
    as the last one seen is not missed, and comes back again. Listing every task
    of the account needs at least one filter (the API requires the list, not its contents), so an
    unfiltered call sends an empty filter list.
    """
    filters = task_filters(
        job_arn=job_arn,
        device_arn=device_arn,
        statuses=statuses,
        created_between=created_between,
        created_since=created_since,
    )
    paginator = braket_client.get_paginator("search_quantum_tasks")
    for page in paginator.paginate(filters=filters, PaginationConfig={"PageSize": PAGE_SIZE}):
        for task in page.get("quantumTasks", []):
            if created_between is not None and task["createdAt"] >= created_between[1]:
                continue  # finer than the millisecond the filter can express
            yield task


# --- cancelling -------------------------------------------------------------------------------------
@dataclass
class CancelReport:
    """The outcome of one cancel request per task.

    ``cancelled`` maps each ARN to the cancellationStatus Braket returned (CANCELLING or CANCELLED);
    ``already_finished`` maps ARNs Braket refused because they had already ended to its message;
    ``failed`` maps the rest to the reason. With ``dry_run`` nothing was sent and only
    ``requested`` is filled.
    """

    requested: tuple[str, ...]
    dry_run: bool = False
    cancelled: dict[str, str] = field(default_factory=dict)
    already_finished: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no request failed (a task that had already finished is not a failure)."""
        return not self.failed

    def add(self, other: CancelReport) -> None:
        """Take in the outcomes of ``other``, a later request: a task it cancelled no longer failed."""
        self.requested += tuple(arn for arn in other.requested if arn not in self.requested)
        self.cancelled.update(other.cancelled)
        self.already_finished.update(other.already_finished)
        for arn in [*other.cancelled, *other.already_finished]:
            self.failed.pop(arn, None)
        self.failed.update(other.failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": list(self.requested),
            "dry_run": self.dry_run,
            "cancelled": dict(self.cancelled),
            "already_finished": dict(self.already_finished),
            "failed": dict(self.failed),
        }


def cancel_tasks(braket_client: Any, arns: Iterable[str], *, dry_run: bool = False) -> CancelReport:
    """Ask Braket to cancel each task once; never raises for a single task's refusal."""
    requested = tuple(dict.fromkeys(arns))  # each task once, in the order given
    report = CancelReport(requested=requested, dry_run=dry_run)
    if dry_run:
        return report
    for arn in requested:
        try:
            response = braket_client.cancel_quantum_task(quantumTaskArn=arn)
        except ClientError as error:
            details = error.response.get("Error", {})
            message = f"{details.get('Code', 'Error')}: {details.get('Message', str(error))}"
            if details.get("Code") == "ConflictException":
                report.already_finished[arn] = message
            else:
                report.failed[arn] = message
        except BotoCoreError as error:
            report.failed[arn] = f"{type(error).__name__}: {error}"
        else:
            report.cancelled[arn] = response["cancellationStatus"]
    return report
