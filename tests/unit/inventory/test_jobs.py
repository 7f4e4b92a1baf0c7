"""The executor's jobs (``inventory/jobs.py``): which jobs are the plugin's, listing, output, logs, cancel."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from covalent_braket_plugin.inventory import jobs
from covalent_braket_plugin.inventory.formatting import format_time, table
from covalent_braket_plugin.inventory.jobs import JobFilter, PluginJob

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ARN = "arn:aws:braket:us-east-1:123456789012:job/covalent-abc-n0-a1-0123456789"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def summary(name: str, status: str = "COMPLETED", tags: dict[str, str] | None = None, **extra: Any) -> dict:
    return {
        "jobName": name,
        "jobArn": f"arn:aws:braket:us-east-1:123456789012:job/{name}",
        "status": status,
        "device": SV1,
        "createdAt": NOW - timedelta(hours=1),
        "tags": tags if tags is not None else {"covalent:dispatch_id": "d-1", "covalent:node_id": "0"},
        **extra,
    }


# --- what is the plugin's job, and which SearchJobs filters Braket applies ---------------------


def test_filter_keeps_jobs_with_the_dispatch_tag_only() -> None:
    assert JobFilter().matches(summary("a"))
    assert not JobFilter().matches(summary("b", tags={}))
    assert not JobFilter().matches(summary("c", tags={"covalent:node_id": "0"}))
    assert not JobFilter().matches({"jobName": "d"})  # no tags at all
    assert JobFilter(dispatch_id="d-1").matches(summary("e"))
    assert not JobFilter(dispatch_id="d-2").matches(summary("f"))


def test_status_and_since_become_search_filters() -> None:
    assert JobFilter().search_filters() == []
    since = datetime(2026, 11, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    assert JobFilter(statuses=("RUNNING", "QUEUED"), since=since).search_filters() == [
        {"name": "status", "operator": "EQUAL", "values": ["RUNNING", "QUEUED"]},
        {"name": "createdAt", "operator": "GTE", "values": ["2026-11-01T06:00:00Z"]},
    ]
    with pytest.raises(ValueError, match="--status: DONE is not a job status"):
        JobFilter(statuses=("DONE",))


def _braket() -> tuple[Any, Stubber]:
    client = boto3.client("braket", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def test_list_pages_through_search_jobs_and_keeps_the_plugins_jobs_newest_first() -> None:
    braket, stubber = _braket()
    older = summary("older", createdAt=NOW - timedelta(days=2), endedAt=NOW - timedelta(days=1))
    newer = summary("newer", status="RUNNING", tags={"covalent:dispatch_id": "d-2", "covalent:node_id": "3"})
    foreign = summary("someone-elses", tags={"team": "x"})
    stubber.add_response(
        "search_jobs", {"jobs": [older, foreign], "nextToken": "page-2"}, {"filters": [], "maxResults": 100}
    )
    stubber.add_response(
        "search_jobs", {"jobs": [newer]}, {"filters": [], "maxResults": 100, "nextToken": "page-2"}
    )
    with stubber:
        found = jobs.list_jobs(braket, JobFilter())
    assert [job.name for job in found] == ["newer", "older"]
    assert found[0].dispatch_id == "d-2" and found[0].node_id == "3" and found[0].ended is None


def test_table_and_json() -> None:
    job = PluginJob.from_summary(summary("covalent-x", endedAt=NOW))
    text = jobs.jobs_table([job])
    header, row = text.splitlines()
    assert header.split() == [
        "NAME",
        "STATUS",
        "DISPATCH",
        "ID",
        "NODE",
        "DEVICE",
        "CREATED",
        "(UTC)",
        "ENDED",
        "(UTC)",
    ]
    assert row.split() == [
        "covalent-x",
        "COMPLETED",
        "d-1",
        "0",
        "sv1",
        "2026-11-22",
        "11:00:00",
        "2026-11-22",
        "12:00:00",
    ]
    assert jobs.jobs_table([]) == "(no jobs of covalent-braket-plugin)"
    assert job.to_json() == {
        "name": "covalent-x",
        "arn": "arn:aws:braket:us-east-1:123456789012:job/covalent-x",
        "status": "COMPLETED",
        "dispatch_id": "d-1",
        "node_id": "0",
        "device": SV1,
        "created": "2026-11-22T11:00:00+00:00",
        "ended": "2026-11-22T12:00:00+00:00",
    }
    assert json.loads(json.dumps(job.to_json()))["ended"].endswith("+00:00")


def test_format_helpers() -> None:
    assert format_time(None) == "-"
    assert (
        format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))))
        == "2026-01-02 02:04:05"
    )
    assert table(("A", "LONGER"), [("wide value", "x")]) == "A           LONGER\nwide value  x"
    assert jobs.device_label(SV1) == "sv1"
    assert jobs.device_label("local:braket/braket.local.qubit") == "local:braket/braket.local.qubit"


# --- resolving, logs and cancel -----------------------------------------------------------------


def test_a_name_resolves_among_the_plugins_jobs_only() -> None:
    braket, stubber = _braket()
    stubber.add_response(
        "search_jobs", {"jobs": [summary("wanted", tags={})]}, {"filters": [], "maxResults": 100}
    )
    with stubber, pytest.raises(jobs.JobNotFoundError, match="jobs list` shows their names"):
        jobs.resolve_job(braket, "wanted")


def _get_job(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "jobName": "covalent-abc-n0-a1-0123456789",
        "jobArn": ARN,
        "status": status,
        "createdAt": NOW,
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "algorithmSpecification": {"scriptModeConfig": {"entryPoint": "m:f", "s3Uri": "s3://b/k"}},
        "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
        "outputDataConfig": {"s3Path": "s3://b/o"},
        "stoppingCondition": {"maxRuntimeInSeconds": 60},
        **extra,
    }


WAITING = {
    "filters": [
        {"name": "jobArn", "operator": "EQUAL", "values": [ARN]},
        {"name": "status", "operator": "EQUAL", "values": ["CREATED", "QUEUED"]},
    ],
    "maxResults": 100,
}
"""The search for the job's quantum tasks still waiting, which follows every cancel."""
TASK = "arn:aws:braket:us-east-1:123456789012:quantum-task/left-waiting"


def _waiting_task() -> dict[str, Any]:
    return {
        "quantumTaskArn": TASK, "status": "QUEUED", "deviceArn": SV1, "shots": 10,
        "outputS3Bucket": "b", "outputS3Directory": "t", "createdAt": NOW,
    }


def test_cancel_of_a_running_job() -> None:
    braket, stubber = _braket()
    stubber.add_response("cancel_job", {"jobArn": ARN, "cancellationStatus": "CANCELLING"}, {"jobArn": ARN})
    stubber.add_response("search_quantum_tasks", {"quantumTasks": []}, WAITING)
    with stubber:
        outcome = jobs.cancel(braket, _get_job("RUNNING"))
    stubber.assert_no_pending_responses()
    assert outcome.cancelled
    assert outcome.message() == f"cancelling job covalent-abc-n0-a1-0123456789 ({ARN}): CANCELLING"


def test_cancel_of_an_ended_job_says_so_and_only_looks_for_tasks_left_waiting() -> None:
    braket, stubber = _braket()
    stubber.add_response("search_quantum_tasks", {"quantumTasks": []}, WAITING)  # and no CancelJob
    with stubber:
        outcome = jobs.cancel(braket, _get_job("COMPLETED", endedAt=NOW))
    stubber.assert_no_pending_responses()
    assert not outcome.cancelled
    assert outcome.message() == (
        "job covalent-abc-n0-a1-0123456789 had already ended COMPLETED at 2026-11-22 12:00:00 UTC; "
        "nothing to cancel"
    )


def test_cancel_of_an_ended_job_cancels_the_tasks_it_left_waiting() -> None:
    braket, stubber = _braket()
    stubber.add_response("search_quantum_tasks", {"quantumTasks": [_waiting_task()]}, WAITING)
    cancelling = {"quantumTaskArn": TASK, "cancellationStatus": "CANCELLING"}
    stubber.add_response("cancel_quantum_task", cancelling, {"quantumTaskArn": TASK})
    stubber.add_response("search_quantum_tasks", {"quantumTasks": []}, WAITING)
    with stubber:
        outcome = jobs.cancel(braket, _get_job("CANCELLED", endedAt=NOW))
    stubber.assert_no_pending_responses()
    assert outcome.waiting_tasks.cancelled == {TASK: "CANCELLING"}
    assert outcome.message().endswith("; cancelled 1 quantum task of it still waiting")
    assert outcome.to_json()["waiting_tasks"]["cancelled"] == {TASK: "CANCELLING"}


def test_cancel_of_a_job_that_ends_meanwhile() -> None:
    braket, stubber = _braket()
    stubber.add_client_error("cancel_job", service_error_code="ConflictException", http_status_code=409)
    stubber.add_response("get_job", _get_job("FAILED", endedAt=NOW), {"jobArn": ARN})
    stubber.add_response("search_quantum_tasks", {"quantumTasks": []}, WAITING)
    stubber.add_response("get_job", _get_job("FAILED", endedAt=NOW), {"jobArn": ARN})
    with stubber:
        outcome = jobs.cancel(braket, _get_job("RUNNING"))
    stubber.assert_no_pending_responses()
    assert not outcome.cancelled and outcome.status == "FAILED"
    assert "had already ended FAILED" in outcome.message()


class FakeLogs:
    """CloudWatch Logs whose one stream grows by a line each time it is read."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.reads = 0

    def get_paginator(self, name: str) -> Any:
        assert name == "describe_log_streams"
        return self

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        return [{"logStreams": [{"logStreamName": f"{kwargs['logStreamNamePrefix']}instance-0"}]}]

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("nextToken") == "end":  # read to the end: no more events, the same token
            return {"events": [], "nextForwardToken": "end"}
        self.reads += 1
        shown = self.lines[: self.reads]
        return {"events": [{"message": line} for line in shown], "nextForwardToken": "end"}


def test_follow_writes_each_line_once_until_the_job_ends() -> None:
    braket, stubber = _braket()
    stubber.add_response("get_job", _get_job("RUNNING"), {"jobArn": ARN})
    stubber.add_response("get_job", _get_job("COMPLETED"), {"jobArn": ARN})
    logs = FakeLogs(["one", "two", "three", "four"])
    written: list[str] = []
    with stubber:
        status = jobs.follow_logs(
            braket,
            logs,
            "/aws/braket/jobs",
            _get_job("RUNNING"),
            written.append,
            follow=True,
            sleep=lambda s: None,
        )
    assert status == "COMPLETED"
    assert written == ["one", "two", "three"]  # the last read came after the job was seen ended
