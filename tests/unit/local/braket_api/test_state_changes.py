"""EventBridge events of tasks and jobs, shaped as AWS sends them."""

from __future__ import annotations

from datetime import UTC, datetime

from covalent_braket_plugin.local.braket_api.state_changes import job_event_detail, task_event_detail
from tests.unit.local.braket_api.conftest import SV1


def test_event_details_match_aws() -> None:
    created = datetime(2021, 10, 28, 1, 17, 42, 898000, tzinfo=UTC)
    task = {
        "quantumTaskArn": "t",
        "status": "CREATED",
        "deviceArn": SV1,
        "shots": 100,
        "outputS3Bucket": "b",
        "outputS3Directory": "d",
        "createdAt": created,
    }
    assert task_event_detail(task, "INSERT") == {
        "quantumTaskArn": "t",
        "status": "CREATED",
        "deviceArn": SV1,
        "shots": "100",
        "outputS3Bucket": "b",
        "outputS3Directory": "d",
        "createdAt": "2021-10-28T01:17:42.898Z",
        "eventName": "INSERT",
    }
    ended = task_event_detail({**task, "status": "COMPLETED", "endedAt": created}, "MODIFY")
    assert ended["endedAt"] == "2021-10-28T01:17:42.898Z"
    job = job_event_detail({"jobArn": "j", "status": "FAILED", "startedAt": created, "failureReason": "boom"})
    assert job == {
        "jobArn": "j",
        "status": "FAILED",
        "startedAt": "2021-10-28T01:17:42.898Z",
        "failureReason": "boom",
    }
