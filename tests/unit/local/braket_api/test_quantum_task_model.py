"""Quantum tasks: CreateQuantumTask's checks, job tokens, queues, held QPU tasks."""

from __future__ import annotations

import json
import threading
import time

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.errors import BraketError
from covalent_braket_plugin.local.faults import Faults
from tests.unit.local.braket_api.conftest import FORTE, RecordingJobManager, code, job_params, task_params


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
