"""Braket task events are read defensively: shots arrive as strings, bad events are named."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from covalent_braket_plugin.guard.events import JobEvent, MalformedEvent, parse_event

TASK = "arn:aws:braket:us-east-1:123456789012:quantum-task/3f1e4b2c-0000-4000-8000-000000000001"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"


def task_event(**detail: Any) -> dict[str, Any]:
    """An event as EventBridge delivers it for a new task (values as Braket sends them)."""
    body = {
        "quantumTaskArn": TASK,
        "status": "CREATED",
        "deviceArn": FORTE,
        "shots": "100",
        "outputS3Bucket": "amazon-braket-results",
        "outputS3Directory": "tasks/1",
        "createdAt": "2021-10-28T01:17:42.898Z",
        "eventName": "INSERT",
    }
    body.update(detail)
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Braket Task State Change",
        "source": "aws.braket",
        "account": "123456789012",
        "time": "2021-10-28T01:17:43Z",
        "region": "us-east-1",
        "resources": [TASK],
        "detail": {k: v for k, v in body.items() if v is not None},
    }


def test_a_real_event_is_read() -> None:
    task = parse_event(task_event())
    assert task.task_arn == TASK
    assert task.device_arn == FORTE
    assert task.status == "CREATED"
    assert task.shots == 100  # "100" in the event
    assert task.created_at == datetime(2021, 10, 28, 1, 17, 42, 898000, tzinfo=UTC)


def test_unknown_fields_are_ignored() -> None:
    event = task_event(futureField={"nested": [1, 2]}, shots="12")
    event["new-top-level"] = "x"
    assert parse_event(event).shots == 12


def test_a_job_event_is_read() -> None:
    event = {
        "source": "aws.braket", "detail-type": "Braket Job State Change", "time": "2026-11-21T12:00:00Z",
        "detail": {"jobArn": "arn:aws:braket:us-east-1:123456789012:job/j", "status": "COMPLETED"},
    }
    job = parse_event(event)
    assert isinstance(job, JobEvent) and job.status == "COMPLETED"
    assert job.created_at == datetime(2026, 11, 21, 12, tzinfo=UTC)


def test_integer_shots_are_accepted_too() -> None:
    assert parse_event(task_event(shots=7)).shots == 7


def test_created_at_falls_back_to_the_event_time() -> None:
    assert parse_event(task_event(createdAt=None)).created_at == datetime(
        2021, 10, 28, 1, 17, 43, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        (None, "JSON object"),
        ([], "JSON object"),
        ({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}, "not a"),
        ({**task_event(), "detail-type": "Braket Job State Change"}, "jobArn"),
        ({**task_event(), "detail-type": "EC2 Instance State-change Notification"}, "not a"),
        ({k: v for k, v in task_event().items() if k != "detail"}, "detail object"),
        (task_event(shots="²"), "shots"),  # str.isdigit() says yes, int() says no
        (task_event(shots="٣"), "shots"),  # an Arabic-Indic digit: int() would read it as 3
        (task_event(shots="1" * 5000), "shots"),  # past int()'s digit limit, and any real task
        (task_event(shots=10**5000), "shots"),
        (task_event(createdAt="9999-12-31T23:00:00+14:00"), "createdAt"),
        (task_event(createdAt="0001-01-01T00:00:00+14:00"), "createdAt"),
        (task_event(createdAt="9999-12-31T23:59:59-14:00"), "createdAt"),  # overflows moving to UTC
        (task_event(endedAt="later"), "endedAt"),
        ({**task_event(), "detail": "CREATED"}, "detail object"),
        (task_event(quantumTaskArn=None), "quantumTaskArn"),
        (task_event(deviceArn=""), "deviceArn"),
        (task_event(status=None), "status"),
        (task_event(shots=None), "shots"),
        (task_event(shots="-5"), "shots"),
        (task_event(shots="1e3"), "shots"),
        (task_event(shots=True), "shots"),
        (task_event(shots=1.5), "shots"),
        (task_event(createdAt="yesterday"), "createdAt"),
        (task_event(createdAt=12345), "createdAt"),
    ],
)
def test_malformed_events_are_refused_with_a_reason(event: Any, complaint: str) -> None:
    with pytest.raises(MalformedEvent, match=complaint):
        parse_event(event)
