"""Hybrid jobs: CreateJob and the job manager, the JobStore, CancelJob and the job's tasks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.errors import BraketError
from tests.unit.local.braket_api.conftest import FORTE, RecordingJobManager, code, job_params, task_params


def test_create_job_submits_a_get_job_shaped_record(
    backend: BraketBackend, manager: RecordingJobManager
) -> None:
    arn = backend.create_job(job_params(), "eu-west-2")["jobArn"]
    assert arn.startswith("arn:aws:braket:eu-west-2:123456789012:job/")
    ((record, token),) = manager.submitted
    assert record["jobArn"] == arn and record["status"] == "QUEUED" and record["jobName"] == "job-1"
    assert record["createdAt"].tzinfo is not None
    assert record["events"][0]["eventType"] == "QUEUED_FOR_EXECUTION"
    assert 1 <= len(token) <= 128
    assert backend.create_job(job_params(), "eu-west-2")["jobArn"] == arn  # same client token
    assert len(manager.submitted) == 1
    with pytest.raises(BraketError) as exc:
        backend.create_job(job_params(token="c2"), "eu-west-2")
    assert code(exc) == "ConflictException"


def test_job_store_updates_send_events_once_per_status(backend: BraketBackend) -> None:
    arn = backend.create_job(job_params(), "us-east-1")["jobArn"]
    started = datetime.now(UTC)
    backend.update_job(arn, status="RUNNING", startedAt=started)
    backend.update_job(arn, status="RUNNING", billableDuration=5)
    backend.update_job(arn, status="COMPLETED", endedAt=started)
    backend.update_job(arn, status="FAILED")  # a finished job keeps its status
    job = backend.get_job(arn)
    assert (job["status"], job["startedAt"], job["billableDuration"]) == ("COMPLETED", started, 5)
    assert backend.events.jobs == ["QUEUED", "RUNNING", "COMPLETED"]  # type: ignore[attr-defined]
    job["status"] = "mutated"
    assert backend.get_job(arn)["status"] == "COMPLETED"


def test_job_events_keep_the_latest_twenty(backend: BraketBackend) -> None:
    arn = backend.create_job(job_params(), "us-east-1")["jobArn"]
    for i in range(25):
        backend.add_job_event(arn, "RUNNING", f"step {i}")
    events = backend.get_job(arn)["events"]
    assert len(events) == 20 and events[-1]["message"] == "step 24"


def test_cancel_job_hands_over_to_the_manager(backend: BraketBackend, manager: RecordingJobManager) -> None:
    arn = backend.create_job(job_params(), "us-east-1")["jobArn"]
    assert backend.cancel_job({"jobArn": arn}, "us-east-1")["cancellationStatus"] == "CANCELLING"
    assert backend.cancel_job({"jobArn": arn}, "us-east-1")["cancellationStatus"] == "CANCELLING"
    assert manager.cancelled == [arn]
    backend.update_job(arn, status="CANCELLED")
    with pytest.raises(BraketError) as exc:
        backend.cancel_job({"jobArn": arn}, "us-east-1")
    assert code(exc) == "ConflictException"


def test_cancel_job_cancels_its_waiting_tasks_and_only_them(
    backend: BraketBackend, manager: RecordingJobManager
) -> None:
    """As AWS's CancelJob does: the job's CREATED and QUEUED tasks are cancelled, other tasks stay."""
    job_arn = backend.create_job(job_params(), "us-east-1")["jobArn"]
    token = manager.submitted[0][1]
    mine = [
        backend.create_quantum_task(task_params(f"q{i}", FORTE, jobToken=token), "us-east-1")[
            "quantumTaskArn"
        ]
        for i in range(3)
    ]
    other = backend.create_quantum_task(task_params("other", FORTE), "us-east-1")["quantumTaskArn"]
    queued = {backend.get_quantum_task({"quantumTaskArn": a}, "us-east-1")["status"] for a in mine}
    assert queued == {"QUEUED"}
    backend.cancel_job({"jobArn": job_arn}, "us-east-1")
    statuses = [backend.get_quantum_task({"quantumTaskArn": a}, "us-east-1")["status"] for a in mine]
    assert statuses == ["CANCELLED"] * 3
    assert backend.get_quantum_task({"quantumTaskArn": other}, "us-east-1")["status"] == "QUEUED"
