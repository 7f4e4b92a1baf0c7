"""include_modules on the local stack: an electron reads the source of a helper from a module the
job's Python does not have (process runner: the job process gets neither this test's sys.path nor
the module's folder)."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
import uuid
from pathlib import Path

import boto3
import pytest

from covalent_braket_plugin.braket import BraketExecutor
from covalent_braket_plugin.local.stack import LocalStack

BUCKET = "amazon-braket-covalent-integration"
ROLE = "AmazonBraketJobsExecutionRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images:host-python"
HELPER = '''
def cost(angle):
    """A function a source-reading library would compile."""
    return angle * 2
'''


@pytest.fixture
def stack(braket_local_env: LocalStack) -> LocalStack:
    s3 = boto3.client("s3", **braket_local_env.client_kwargs())
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=BUCKET)
    braket_local_env.create_jobs_role(ROLE)
    return braket_local_env


def test_inspect_getsource_on_a_helper_of_an_included_module(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"included_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(HELPER))
    monkeypatch.syspath_prepend(str(tmp_path))
    helper = __import__(module).cost

    def electron() -> tuple[str, float]:
        import importlib
        import inspect

        return inspect.getsource(helper), importlib.import_module(helper.__module__).cost(0.25)

    executor = BraketExecutor(s3_bucket_name=BUCKET, region="us-east-1", ecr_image_uri=IMAGE,
                              initial_poll_freq=0.2, poll_freq=1.0, include_modules=[module])
    metadata = {"dispatch_id": str(uuid.uuid4()), "node_id": 0, "results_dir": "/tmp"}
    source = textwrap.dedent(HELPER).lstrip("\n")
    assert asyncio.run(executor.run(electron, [], {}, metadata)) == (source, 0.5)
