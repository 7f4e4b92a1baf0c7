"""Fixtures shared by the integration tests: a local stack of a test module's own, boto3 and the
Braket SDK pointed at it, a job execution role in it, and the programs tasks are made of.

Most tests share the session's stack (``braket_local_stack`` / ``braket_local_env`` of the pytest
plugin); a module that changes the stack's state for all its tests (faults, a day's tasks to count,
a runner other than the process one) takes ``stack`` instead, which is its own. A module needing
another runner overrides ``stack``; ``env`` and ``role_arn`` then follow it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from covalent_braket_plugin.executor.job_spec import JobSpec
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.tasks.pricing import PRICES_ENV
from covalent_braket_plugin.testing.pytest_plugin import point_at

BELL: dict[str, Any] = {
    "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
    "source": "OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\nb = measure q;",
}
"""A Bell pair measured on both qubits, as the ``action`` of CreateQuantumTask (JSON-encoded)."""
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def placeholder_job_spec(name: str, role_arn: str, image_uri: str, bucket: str, output: str) -> JobSpec:
    """The CreateJob request of a job made for its record alone: a minute on SV1 whose source archive
    (``nothing.tar.gz``) does not exist, its outputs under ``s3://<bucket>/<output>/``."""
    return JobSpec(
        name=name,
        role_arn=role_arn,
        image_uri=image_uri,
        source_uri=f"s3://{bucket}/nothing.tar.gz",
        device=SV1,
        instance_type="ml.m5.large",
        volume_size_gb=30,
        max_runtime_s=60,
        output_s3_path=f"s3://{bucket}/{output}/",
    )


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack of the module's own, its jobs run as processes, stopped after the module's tests."""
    state_dir = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with LocalStack(port=0, runner="process", state_dir=state_dir) as running:
        yield running


@pytest.fixture(scope="module")
def env(stack: LocalStack) -> Iterator[LocalStack]:
    """Point boto3 and the SDK in this process at ``stack`` for the module, as a user's shell would,
    with the packaged prices (no override file of the user's)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(PRICES_ENV, raising=False)
        yield point_at(stack, patch)


@pytest.fixture(scope="module")
def role_arn(env: LocalStack) -> str:
    """A job execution role in ``env``'s stack."""
    return env.create_jobs_role(f"AmazonBraketJobsExecutionRole-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in a temporary dir: ``AwsQuantumJob.result()`` leaves model.tar.gz in the current dir."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
