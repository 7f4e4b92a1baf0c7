"""The composed backend: every operation of the model, and the stack's status of all resources."""

from __future__ import annotations

import json

from botocore import xform_name

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.protocol import service_model
from tests.unit.local.braket_api.conftest import FORTE, job_params, task_params


def test_every_operation_of_the_model_is_a_method_of_the_backend() -> None:
    """``responses.py`` calls the operation's snake-case name: a resource model left out of the
    composition would answer its operations with InternalServiceException."""
    missing = [
        name
        for name in service_model().operation_names
        if not callable(getattr(BraketBackend, xform_name(name), None))
    ]
    assert not missing


def test_status_summarizes_jobs_and_tasks(backend: BraketBackend) -> None:
    backend.create_job(job_params(), "us-east-1")
    backend.create_quantum_task(task_params("st", device=FORTE, shots=1), "us-east-1")
    status = backend.status()
    assert status["jobs"]["total"] == 1 and status["jobs"]["byStatus"] == {"QUEUED": 1}
    assert status["tasks"] == {"total": 1, "byStatus": {"QUEUED": 1}}
    json.dumps(status)
