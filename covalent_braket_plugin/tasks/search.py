"""Find quantum tasks with SearchQuantumTasks, letting the service do the filtering.

The device, the statuses (one EQUAL filter with several values) and the creation window (BETWEEN)
all go to the service, so only matching tasks come back; pages hold 100 tasks, and each matching task
is read exactly once. Nothing relies on the order the service lists tasks in, which is undocumented.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TASK_STATUSES = ("CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED")
# Statuses a task can still be cancelled from before it runs (QUEUED only on a best-effort basis).
CANCELLABLE_STATUSES = ("CREATED", "QUEUED")
PAGE_SIZE = 100  # the largest page SearchQuantumTasks serves

# BETWEEN includes both ends; the last instant of a half-open window, at the service's millisecond
# precision, keeps a task created exactly at midnight out of the day before.
_LAST_INSTANT = timedelta(milliseconds=1)


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
    device_arn: str | None = None,
    statuses: Iterable[str] | None = None,
    created_between: tuple[datetime, datetime] | None = None,
) -> list[dict[str, Any]]:
    """The SearchQuantumTasks filters for a device, some statuses and a half-open creation window."""
    filters: list[dict[str, Any]] = []
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
    return filters


def iter_tasks(
    braket_client: Any,
    *,
    device_arn: str | None = None,
    statuses: Iterable[str] | None = None,
    created_between: tuple[datetime, datetime] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every QuantumTaskSummary matching the filters, 100 per request, in the service's order.

    ``created_between`` is half-open ``[start, end)`` like ``day_bounds`` returns. Listing every task
    of the account needs at least one filter (the API requires the list, not its contents), so an
    unfiltered call sends an empty filter list.
    """
    filters = task_filters(device_arn=device_arn, statuses=statuses, created_between=created_between)
    paginator = braket_client.get_paginator("search_quantum_tasks")
    for page in paginator.paginate(filters=filters, PaginationConfig={"PageSize": PAGE_SIZE}):
        for task in page.get("quantumTasks", []):
            if created_between is not None and task["createdAt"] >= created_between[1]:
                continue  # finer than the millisecond the filter can express
            yield task
