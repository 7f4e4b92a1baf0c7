"""A ``BraketBackend`` without an endpoint (no S3, IAM or EventBridge), its events and its job
manager recorded, and the requests the tests of its resource models send it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.errors import BraketError
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
    """QPU tasks are held QUEUED (nothing runs them); simulator tasks run and fail, having no S3."""
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
