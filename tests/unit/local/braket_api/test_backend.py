"""BraketBackend without an endpoint: jobs and the JobStore, job tokens, paging, spending, events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.devices import DEVICES, capabilities
from covalent_braket_plugin.local.braket_api.errors import BraketError
from covalent_braket_plugin.local.braket_api.events import job_event_detail, task_event_detail
from covalent_braket_plugin.local.faults import Faults

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
ACTION = json.dumps(
    {
        "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
        "source": "OPENQASM 3; qubit[1] q; h q[0];",
    }
)


class RecordingEvents:
    def __init__(self) -> None:
        self.tasks: list[tuple[str, str]] = []
        self.jobs: list[str] = []

    def task_changed(self, task: dict[str, Any], event_name: str) -> None:
        self.tasks.append((task["status"], event_name))

    def job_changed(self, job: dict[str, Any]) -> None:
        self.jobs.append(job["status"])

    def flush(self) -> None:
        pass


class RecordingJobManager:
    def __init__(self) -> None:
        self.submitted: list[tuple[dict[str, Any], str]] = []
        self.cancelled: list[str] = []

    def submit(self, job: dict[str, Any], job_token: str) -> None:
        self.submitted.append((job, job_token))

    def cancel(self, job_arn: str) -> None:
        self.cancelled.append(job_arn)


@pytest.fixture
def manager() -> RecordingJobManager:
    return RecordingJobManager()


@pytest.fixture
def backend(manager: RecordingJobManager) -> Iterator[BraketBackend]:
    faults = Faults()
    faults.update(hold_qpu_tasks_s=600)
    backend = BraketBackend(services=None, faults=faults, job_manager=manager)
    backend.events = RecordingEvents()  # type: ignore[assignment]
    yield backend
    backend.shutdown()


def job_params(name: str = "job-1", token: str = "c1") -> dict[str, Any]:
    return {
        "clientToken": token,
        "jobName": name,
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "algorithmSpecification": {"scriptModeConfig": {"entryPoint": "a:b", "s3Uri": "s3://b/s.tar.gz"}},
        "outputDataConfig": {"s3Path": "s3://b/out"},
        "deviceConfig": {"device": SV1},
        "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
    }


def task_params(token: str, device: str = SV1, shots: int = 10, **extra: Any) -> dict[str, Any]:
    return {
        "clientToken": token,
        "deviceArn": device,
        "shots": shots,
        "outputS3Bucket": "bucket",
        "outputS3KeyPrefix": "tasks",
        "action": ACTION,
        **extra,
    }


def code(exc: pytest.ExceptionInfo[BraketError]) -> str:
    return exc.value.code


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


def test_job_token_ties_tasks_to_their_job(backend: BraketBackend, manager: RecordingJobManager) -> None:
    job_arn = backend.create_job(job_params(), "us-east-1")["jobArn"]
    token = manager.submitted[0][1]
    mine = backend.create_quantum_task(task_params("t1", jobToken=token), "us-east-1")["quantumTaskArn"]
    backend.create_quantum_task(task_params("t2"), "us-east-1")
    assert backend.get_quantum_task({"quantumTaskArn": mine}, "us-east-1")["jobArn"] == job_arn
    found = backend.search_quantum_tasks(
        {"filters": [{"name": "jobArn", "operator": "EQUAL", "values": [job_arn]}]}, "us-east-1"
    )
    assert [t["quantumTaskArn"] for t in found["quantumTasks"]] == [mine]
    with pytest.raises(BraketError) as exc:
        backend.create_quantum_task(task_params("t3", jobToken="forged"), "us-east-1")
    assert code(exc) == "ValidationException"


def test_qpu_tasks_live_in_the_device_region_and_wait_queued(backend: BraketBackend) -> None:
    arn = backend.create_quantum_task(task_params("q", device=FORTE), "eu-west-2")["quantumTaskArn"]
    assert arn.startswith("arn:aws:braket:us-east-1:")
    task = backend.get_quantum_task(
        {"quantumTaskArn": arn, "additionalAttributeNames": ["QueueInfo"]}, "us-east-1"
    )
    assert task["status"] == "QUEUED"
    assert task["queueInfo"] == {"queue": "QUANTUM_TASKS_QUEUE", "queuePriority": "Normal", "position": "1"}
    assert (
        backend.cancel_quantum_task({"quantumTaskArn": arn}, "us-east-1")["cancellationStatus"] == "CANCELLED"
    )
    assert backend.events.tasks == [  # type: ignore[attr-defined]
        ("CREATED", "INSERT"),
        ("QUEUED", "MODIFY"),
        ("CANCELLING", "MODIFY"),
        ("CANCELLED", "MODIFY"),
    ]


def test_simulator_task_without_an_s3_endpoint_fails_with_a_reason(backend: BraketBackend) -> None:
    arn = backend.create_quantum_task(task_params("s"), "us-east-1")["quantumTaskArn"]
    deadline = time.monotonic() + 60
    while backend.get_quantum_task({"quantumTaskArn": arn}, "us-east-1")["status"] != "FAILED":
        assert time.monotonic() < deadline, "the task never ended"
        time.sleep(0.02)
    assert "S3" in backend.get_quantum_task({"quantumTaskArn": arn}, "us-east-1")["failureReason"]


def test_shots_and_actions_are_checked_per_device(backend: BraketBackend) -> None:
    for params in (
        task_params("a", device=FORTE, shots=0),
        task_params("b", device=FORTE, shots=5001),
        task_params("c", device="arn:aws:braket:::device/qpu/none/Nope"),
        task_params(
            "d", action=json.dumps({"braketSchemaHeader": {"name": "braket.ir.ahs.program", "version": "1"}})
        ),
    ):
        with pytest.raises(BraketError) as exc:
            backend.create_quantum_task(params, "us-east-1")
        assert code(exc) == "ValidationException"


def test_paging_is_stable_and_tokens_are_bound_to_their_filters(backend: BraketBackend) -> None:
    arns = [
        backend.create_quantum_task(task_params(f"p{i}", device=FORTE, shots=1), "us-east-1")[
            "quantumTaskArn"
        ]
        for i in range(25)
    ]
    seen: list[str] = []
    params: dict[str, Any] = {"filters": [], "maxResults": 10}
    pages = 0
    while True:
        page = backend.search_quantum_tasks(params, "us-east-1")
        pages += 1
        seen += [t["quantumTaskArn"] for t in page["quantumTasks"]]
        if not page.get("nextToken"):
            break
        params = {**params, "nextToken": page["nextToken"]}
    assert seen == arns and pages == 3
    first = backend.search_quantum_tasks({"filters": [], "maxResults": 10}, "us-east-1")
    other = [{"name": "status", "operator": "EQUAL", "values": ["QUEUED"]}]
    with pytest.raises(BraketError) as exc:
        backend.search_quantum_tasks({"filters": other, "nextToken": first["nextToken"]}, "us-east-1")
    assert code(exc) == "ValidationException"


def test_time_filters(backend: BraketBackend) -> None:
    before = backend.create_quantum_task(task_params("x0", device=FORTE, shots=1), "us-east-1")[
        "quantumTaskArn"
    ]
    middle = backend.create_quantum_task(task_params("x1", device=FORTE, shots=1), "us-east-1")[
        "quantumTaskArn"
    ]
    after = backend.create_quantum_task(task_params("x2", device=FORTE, shots=1), "us-east-1")[
        "quantumTaskArn"
    ]
    stamp = backend.get_quantum_task({"quantumTaskArn": middle}, "us-east-1")["createdAt"].isoformat()

    def search(operator: str, *values: str) -> list[str]:
        filters = [{"name": "createdAt", "operator": operator, "values": list(values)}]
        return [
            t["quantumTaskArn"]
            for t in backend.search_quantum_tasks({"filters": filters}, "us-east-1")["quantumTasks"]
        ]

    assert search("LT", stamp) == [before]
    assert search("LTE", stamp) == [before, middle]
    assert search("GT", stamp) == [after]
    assert search("GTE", stamp) == [middle, after]
    assert search("EQUAL", stamp) == [middle]
    assert search("BETWEEN", stamp, stamp) == [middle]
    with pytest.raises(BraketError):
        search("BETWEEN", stamp)
    with pytest.raises(BraketError):
        search("GT", stamp, stamp)


def test_spending_limits_count_queued_tasks_and_ignore_cancelled(backend: BraketBackend) -> None:
    limit = backend.create_spending_limit(
        {"clientToken": "l", "deviceArn": FORTE, "spendingLimit": "3"}, "us-east-1"
    )
    first = backend.create_quantum_task(task_params("s1", device=FORTE, shots=10), "us-east-1")[
        "quantumTaskArn"
    ]
    backend.create_quantum_task(task_params("s2", device=FORTE, shots=10), "us-east-1")
    with pytest.raises(BraketError) as exc:
        backend.create_quantum_task(task_params("s3", device=FORTE, shots=10), "us-east-1")
    assert code(exc) == "ServiceQuotaExceededException"
    (summary,) = backend.search_spending_limits({}, "us-east-1")["spendingLimits"]
    assert summary["spendingLimitArn"] == limit["spendingLimitArn"] and summary["queuedSpend"] == "2.2"
    backend.cancel_quantum_task({"quantumTaskArn": first}, "us-east-1")
    backend.create_quantum_task(task_params("s4", device=FORTE, shots=10), "us-east-1")
    with pytest.raises(BraketError) as exc:
        backend.create_spending_limit(
            {"clientToken": "l2", "deviceArn": FORTE, "spendingLimit": "9"}, "us-east-1"
        )
    assert code(exc) == "ValidationException"


def test_tags_and_unknown_resources(backend: BraketBackend) -> None:
    arn = backend.create_job(job_params(), "us-east-1")["jobArn"]
    backend.tag_resource({"resourceArn": arn, "tags": {"a": "1"}}, "us-east-1")
    assert backend.list_tags_for_resource({"resourceArn": arn}, "us-east-1") == {"tags": {"a": "1"}}
    with pytest.raises(BraketError) as exc:
        backend.list_tags_for_resource({"resourceArn": arn + "x"}, "us-east-1")
    assert code(exc) == "ResourceNotFoundException"
    with pytest.raises(BraketError) as exc:
        backend.list_tags_for_resource({"resourceArn": "not-an-arn"}, "us-east-1")
    assert code(exc) == "ValidationException"


def test_status_summarizes_jobs_and_tasks(backend: BraketBackend) -> None:
    backend.create_job(job_params(), "us-east-1")
    backend.create_quantum_task(task_params("st", device=FORTE, shots=1), "us-east-1")
    status = backend.status()
    assert status["jobs"]["total"] == 1 and status["jobs"]["byStatus"] == {"QUEUED": 1}
    assert status["tasks"] == {"total": 1, "byStatus": {"QUEUED": 1}}
    json.dumps(status)


def test_every_device_has_valid_capabilities() -> None:
    for device in DEVICES.values():
        caps = capabilities(device)
        assert caps["service"]["shotsRange"][1] == device.max_shots


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


def test_spend_follows_task_status_and_the_limit_period(backend: BraketBackend) -> None:
    limit = backend.create_spending_limit(
        {"clientToken": "l", "deviceArn": FORTE, "spendingLimit": "100"}, "r"
    )
    arn = backend.create_quantum_task(task_params("s1", device=FORTE, shots=10), "us-east-1")[
        "quantumTaskArn"
    ]
    backend.create_quantum_task(task_params("s2", device=FORTE, shots=5), "us-east-1")

    def spend() -> tuple[str, str]:
        (summary,) = backend.search_spending_limits({}, "us-east-1")["spendingLimits"]
        return summary["queuedSpend"], summary["totalSpend"]

    assert spend() == ("1.8", "0")  # 0.30 + 10 x 0.08, 0.30 + 5 x 0.08
    assert backend.transition_task(arn, frozenset({"QUEUED"}), "RUNNING")
    assert backend.transition_task(arn, frozenset({"RUNNING"}), "COMPLETED")
    assert spend() == ("0.7", "1.1")
    past = {
        "startAt": datetime(2020, 1, 1, tzinfo=UTC),
        "endAt": datetime(2021, 1, 1, tzinfo=UTC),
    }
    backend.update_spending_limit(
        {"spendingLimitArn": limit["spendingLimitArn"], "timePeriod": past}, "us-east-1"
    )
    assert spend() == ("0", "0")


def test_held_qpu_tasks_wait_without_a_thread_each_then_run(manager: RecordingJobManager) -> None:
    faults = Faults()
    faults.update(hold_qpu_tasks_s=600)
    backend = BraketBackend(services=None, faults=faults, job_manager=manager)
    try:
        threads = threading.active_count()
        for i in range(200):
            backend.create_quantum_task(task_params(f"h{i}", device=FORTE, shots=1), "us-east-1")
        assert threading.active_count() <= threads + 2  # the releaser and the event sender, at most
        faults.update(hold_qpu_tasks_s=0.1)
        arn = backend.create_quantum_task(task_params("short", device=FORTE, shots=1), "us-east-1")[
            "quantumTaskArn"
        ]
        deadline = time.monotonic() + 60
        while (
            backend.get_quantum_task({"quantumTaskArn": arn}, "us-east-1")["status"] != "FAILED"
        ):  # no S3 here
            assert time.monotonic() < deadline, "the held task was never released"
            time.sleep(0.02)
        assert backend.status()["tasks"]["byStatus"]["QUEUED"] == 200
    finally:
        backend.shutdown()


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
