"""Fixtures shared by the integration tests: a local stack of a test module's own, boto3 and the
Braket SDK pointed at it, a job execution role in it, and the programs tasks are made of.

Most tests share the session's stack (``braket_local_stack`` / ``braket_local_env`` of the pytest
plugin); a module that changes the stack's state for all its tests (faults, a day's tasks to count,
a runner other than the process one) takes ``stack`` instead, which is its own. A module needing
another runner overrides ``stack``; ``env`` and ``role_arn`` then follow it.

The executor's tests and the jobs commands' tests run electrons on the session's stack through
``executor_for``, each module in a bucket named by it (``with_bucket_and_role``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from covalent_braket_plugin.billing.prices import PRICES_ENV
from covalent_braket_plugin.braket import BraketExecutor
from covalent_braket_plugin.hybrid_jobs import JobSpec
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.testing.pytest_plugin import point_at

BELL: dict[str, Any] = {
    "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
    "source": "OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\nb = measure q;",
}
"""A Bell pair measured on both qubits, as the ``action`` of CreateQuantumTask (JSON-encoded)."""
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
HOST_PYTHON_IMAGE = (
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images:host-python"
)
"""A ready image URI for the executor, so that nothing is built: on the process runner a job runs in
this host's Python environment, which stands in for the image."""


def with_bucket_and_role(stack: LocalStack, bucket: str) -> LocalStack:
    """``stack`` with ``bucket`` and the job execution role, the two things the executor needs there;
    either may be there already, from another module's tests on the same stack."""
    s3 = boto3.client("s3", **stack.client_kwargs())
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    stack.create_jobs_role()
    return stack


def name_region_in_covalent_conf(region: str, conf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write a covalent.conf naming ``region`` in ``conf_dir`` and point COVALENT_CONFIG_DIR at it: the
    commands find the account's region there, as the executor does, never in the user's own file."""
    (conf_dir / "covalent.conf").write_text(f'[executors.braket]\nregion = "{region}"\n')
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(conf_dir))


def executor_for(bucket: str, **options: Any) -> BraketExecutor:
    """An executor writing to ``bucket``, with the ready image and polls quick enough for tests;
    ``options`` add settings or replace these."""
    settings: dict[str, Any] = {
        "s3_bucket_name": bucket,
        "region": "us-east-1",
        "ecr_image_uri": HOST_PYTHON_IMAGE,
        "initial_poll_freq": 0.2,
        "poll_freq": 1.0,
    }
    return BraketExecutor(**(settings | options))


def electron_metadata(
    dispatch_id: str | None = None, node_id: int = 0, results_dir: str = "/tmp"
) -> dict[str, Any]:
    """What Covalent passes to ``run`` with an electron: a new dispatch unless ``dispatch_id`` is given."""
    return {"dispatch_id": dispatch_id or str(uuid.uuid4()), "node_id": node_id, "results_dir": results_dir}


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
