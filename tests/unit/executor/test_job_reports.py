"""Metrics read back from a job's log lines and a job's quantum tasks counted per device (AWS stubbed)."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from covalent_braket_plugin.executor import job_tasks, metrics

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"


def _logs() -> tuple[object, Stubber]:
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return logs, Stubber(logs)


def test_metrics_are_the_log_metric_lines_of_every_stream_and_page() -> None:
    logs, stubber = _logs()
    streams = ["job-a/algo-1-1", "job-a/algo-2-1"]
    found = {"logStreams": [{"logStreamName": name} for name in streams]}
    stubber.add_response("describe_log_streams", found,
                         {"logGroupName": "/aws/braket/jobs", "logStreamNamePrefix": "job-a/"})
    request = {"logGroupName": "/aws/braket/jobs", "logStreamNames": streams,
               "filterPattern": metrics.METRICS_PATTERN}
    stubber.add_response("filter_log_events", {"nextToken": "t", "events": [
        {"timestamp": 1, "message": "Metrics - timestamp=10.0; energy=0.5; iteration_number=0;"},
        {"timestamp": 2, "message": "Metrics - timestamp=12.0; energy=-1.5; iteration_number=2;"},
    ]}, request)
    stubber.add_response("filter_log_events", {"events": [
        {"timestamp": 3, "message": "Metrics - timestamp=11.0; energy=-0.5; iteration_number=1;"},
        {"timestamp": 4, "message": "Metrics - timestamp=13.0; fidelity=0.9;"},
    ]}, {**request, "nextToken": "t"})
    with stubber:
        read = metrics.read_metrics(logs, "/aws/braket/jobs", "job-a")
    assert [value for value in read["energy"] if value is not None] == [0.5, -1.5, -0.5]
    assert [summary.line() for summary in metrics.summarize(read)] == [
        "energy: 3 values, last -1.5, min -1.5, max 0.5",  # the latest logged, not the last line read
        "fidelity: 1 value, last 0.9, min 0.9, max 0.9",
    ]


def test_a_job_without_a_log_or_metrics_reports_nothing() -> None:
    logs, stubber = _logs()
    stubber.add_client_error("describe_log_streams", "ResourceNotFoundException")  # no log group yet
    stubber.add_response("describe_log_streams", {"logStreams": []})  # no stream of this job
    with stubber:
        assert metrics.report(logs, "/aws/braket/jobs", "job-a") == ""
        assert metrics.report(logs, "/aws/braket/jobs", "job-a") == ""


def test_tasks_are_counted_per_device_with_their_shots_and_statuses() -> None:
    braket = boto3.client("braket", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(braket)
    job_arn = "arn:aws:braket:us-east-1:123456789012:job/abc"

    def task(i: int, device: str, status: str, shots: int) -> dict[str, object]:
        return {"quantumTaskArn": f"arn:aws:braket:us-east-1:123456789012:quantum-task/{i}",
                "status": status, "deviceArn": device, "shots": shots, "outputS3Bucket": "b",
                "outputS3Directory": "d", "createdAt": "2026-01-01T00:00:00Z"}

    stubber.add_response("search_quantum_tasks", {"quantumTasks": [
        task(1, SV1, "COMPLETED", 100), task(2, GARNET, "QUEUED", 10), task(3, SV1, "FAILED", 100),
        task(4, SV1, "COMPLETED", 50),
    ]}, {"filters": [{"name": "jobArn", "operator": "EQUAL", "values": [job_arn]}], "maxResults": 100})
    stubber.add_response("search_quantum_tasks", {"quantumTasks": []})
    with stubber:
        assert job_tasks.report(braket, job_arn) == (  # in the order of the devices' ARNs
            "Braket job quantum tasks: sv1: 3 tasks, 250 shots (2 COMPLETED, 1 FAILED)\n"
            "Braket job quantum tasks: Garnet: 1 task, 10 shots (1 QUEUED)\n"
        )
        assert job_tasks.report(braket, job_arn) == ""
