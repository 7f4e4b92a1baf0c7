"""Reading "Braket Task State Change" events defensively.

EventBridge delivers at least once and in any order, and the guard must never crash or act on a
half-read event, so everything the handler relies on is checked here and a bad event becomes a
``MalformedEvent`` the handler logs and ignores. Braket sends ``shots`` as a string ("100").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SOURCE = "aws.braket"
DETAIL_TYPE = "Braket Task State Change"
# The only status the guard acts on: every new task passes through CREATED exactly once.
TRIGGER_STATUS = "CREATED"


class MalformedEvent(ValueError):
    """The event is not a well-formed Braket task state change."""


@dataclass(frozen=True)
class TaskEvent:
    """The fields of a task state change the guard needs."""

    task_arn: str
    device_arn: str
    status: str
    shots: int
    created_at: datetime


def parse_event(event: Any) -> TaskEvent:
    """Check ``event`` and extract its task; raise ``MalformedEvent`` saying what is wrong."""
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"an event is a JSON object, got {type(event).__name__}")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise MalformedEvent(
            f"not a {DETAIL_TYPE!r} event from {SOURCE}: "
            f"source={event.get('source')!r}, detail-type={event.get('detail-type')!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent("the event has no detail object")
    task_arn = _text(detail, "quantumTaskArn")
    device_arn = _text(detail, "deviceArn")
    status = _text(detail, "status")
    created = detail.get("createdAt", event.get("time"))
    return TaskEvent(
        task_arn=task_arn,
        device_arn=device_arn,
        status=status,
        shots=parse_shots(detail.get("shots")),
        created_at=parse_timestamp(created),
    )


def parse_shots(value: Any) -> int:
    """Shots as Braket sends them: a decimal string such as "100" (an int is accepted too)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise MalformedEvent(f"shots must be a whole number such as \"100\", got {value!r}")


def parse_timestamp(value: Any) -> datetime:
    """An RFC 3339 time such as "2021-10-28T01:17:42.898Z", as an aware datetime."""
    if not isinstance(value, str):
        raise MalformedEvent(f"createdAt must be an RFC 3339 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise MalformedEvent(f"createdAt {value!r} is not an RFC 3339 time") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _text(detail: Mapping[str, Any], key: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedEvent(f"detail.{key} is missing or empty")
    return value.strip()
