"""Reading Braket state-change events defensively.

EventBridge delivers at least once and in any order, and the guard must never crash or act on a
half-read event, so everything the handler relies on is checked here and a bad event becomes a
``MalformedEvent`` the handler logs and ignores. Braket sends ``shots`` as a string ("100").

Values are checked for what Python would choke on later, not only for their type: ``"²"`` passes
``str.isdigit`` but not ``int``; a 5,000-digit shot count passes both checks but exceeds the
interpreter's integer-string limit and any real task; ``9999-12-31T23:00:00-14:00`` is a valid ISO
time that overflows when moved to UTC. Each is refused here, with the field and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SOURCE = "aws.braket"
DETAIL_TYPE = "Braket Task State Change"
JOB_DETAIL_TYPE = "Braket Job State Change"
# The status of a new task: every task passes through CREATED exactly once.
TRIGGER_STATUS = "CREATED"
# Terminal statuses: a simulator task's runtime and a job's billable time are known from then on.
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})

# A shot count is ASCII digits only (not "²" or "٣") and no longer than any device could run.
_SHOTS = re.compile(r"^[0-9]{1,12}$")
_MAX_SHOTS = 10**12
# Times the guard can reason about: a day, its neighbours and the ledger's retention after it stay
# within datetime's range in every time zone.
_EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 11, 1, tzinfo=UTC)


class MalformedEvent(ValueError):
    """The event is not a well-formed Braket task or job state change."""


@dataclass(frozen=True)
class TaskEvent:
    """The fields of a task state change the guard needs."""

    task_arn: str
    device_arn: str
    status: str
    shots: int
    created_at: datetime
    ended_at: datetime | None = None

    @property
    def duration(self) -> timedelta | None:
        """Creation to end, when the event says both: an upper bound of the billed runtime."""
        if self.ended_at is None or self.ended_at < self.created_at:
            return None
        return self.ended_at - self.created_at


@dataclass(frozen=True)
class JobEvent:
    """The fields of a hybrid job state change the guard needs (the rest it reads with GetJob)."""

    job_arn: str
    status: str
    created_at: datetime


def parse_event(event: Any) -> TaskEvent | JobEvent:
    """Check ``event`` and extract its task or job; raise ``MalformedEvent`` saying what is wrong."""
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"an event is a JSON object, got {type(event).__name__}")
    detail_type = event.get("detail-type")
    if event.get("source") != SOURCE or detail_type not in (DETAIL_TYPE, JOB_DETAIL_TYPE):
        raise MalformedEvent(
            f"not a {DETAIL_TYPE!r} or {JOB_DETAIL_TYPE!r} event from {SOURCE}: "
            f"source={event.get('source')!r}, detail-type={detail_type!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent("the event has no detail object")
    created = parse_timestamp(detail.get("createdAt", event.get("time")), "createdAt")
    if detail_type == JOB_DETAIL_TYPE:
        return JobEvent(job_arn=_text(detail, "jobArn"), status=_text(detail, "status"), created_at=created)
    ended = detail.get("endedAt")
    return TaskEvent(
        task_arn=_text(detail, "quantumTaskArn"),
        device_arn=_text(detail, "deviceArn"),
        status=_text(detail, "status"),
        shots=parse_shots(detail.get("shots")),
        created_at=created,
        ended_at=None if ended is None else parse_timestamp(ended, "endedAt"),
    )


def parse_shots(value: Any) -> int:
    """Shots as Braket sends them: a decimal string such as "100" (an int is accepted too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < _MAX_SHOTS:
            return value
        value = "a number out of range"  # str() of a huge int would itself raise
    elif isinstance(value, str) and _SHOTS.match(value.strip()):
        return int(value.strip())
    elif isinstance(value, str) and len(value) > 40:
        value = f"{value[:12]}... ({len(value)} characters)"
    raise MalformedEvent(f"shots must be a whole number of at most 12 digits such as \"100\", got {value!r}")


def parse_timestamp(value: Any, field: str = "createdAt") -> datetime:
    """An RFC 3339 time such as "2021-10-28T01:17:42.898Z", as an aware datetime in UTC."""
    if not isinstance(value, str) or len(value) > 64:
        raise MalformedEvent(f"{field} must be an RFC 3339 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        utc = moment.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise MalformedEvent(f"{field} {value!r} is not an RFC 3339 time in datetime's range") from error
    if not _EARLIEST <= utc <= _LATEST:
        raise MalformedEvent(f"{field} {value!r} is outside the years the guard counts (1970-9999)")
    return utc


def _text(detail: Mapping[str, Any], key: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent(f"detail.{key} is missing or empty")
    return value.strip()
