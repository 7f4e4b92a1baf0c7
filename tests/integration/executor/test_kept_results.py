"""A result the client cannot load, on the local stack: the electron fails saying where it was kept,
the object stays in S3, and ``covalent-braket jobs result`` fetches it to a file."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import boto3
import cloudpickle
import pytest

from covalent_braket_plugin import cli, hybrid_jobs, s3_layout
from covalent_braket_plugin.executor import transfer
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import (
    electron_metadata,
    executor_for,
    name_region_in_covalent_conf,
    with_bucket_and_role,
)

BUCKET = "amazon-braket-covalent-kept"


@pytest.fixture
def stack(braket_local_env: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """The session's stack with this module's bucket, and a covalent.conf for ``jobs result``."""
    name_region_in_covalent_conf(braket_local_env.region, tmp_path, monkeypatch)
    return with_bucket_and_role(braket_local_env, BUCKET)


def test_a_result_the_client_cannot_load_is_kept_and_can_be_fetched(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = f"only_in_job_{uuid.uuid4().hex[:8]}"

    def make_an_instance_of_a_job_module(name: str) -> object:
        import importlib
        import sys
        import tempfile
        from pathlib import Path

        where = Path(tempfile.mkdtemp())
        (where / f"{name}.py").write_text("class Answer:\n    value = 42\n")
        sys.path.insert(0, str(where))
        return importlib.import_module(name).Answer()

    dispatch_id = str(uuid.uuid4())
    executor = executor_for(BUCKET)
    metadata = electron_metadata(dispatch_id)
    with pytest.raises(transfer.ResultNotLoaded) as raised:
        asyncio.run(executor.run(make_an_instance_of_a_job_module, [module], {}, metadata))

    name = hybrid_jobs.job_name(dispatch_id, 0, 1)
    location = s3_layout.ElectronLocation.for_electron(BUCKET, dispatch_id, 0, name)
    message = str(raised.value)
    braket = boto3.client("braket", **stack.client_kwargs())
    pages = braket.get_paginator("search_jobs").paginate(filters=[])
    [job] = [j for page in pages for j in page["jobs"] if j["jobName"] == name]
    assert raised.value.job_arn == job["jobArn"] and job["jobArn"] in message
    assert location.uri(location.result_key) in message
    assert f"ModuleNotFoundError: No module named '{module}'" in message
    assert f"covalent-braket jobs result {raised.value.job_arn} --output FILE" in message

    s3 = boto3.client("s3", **stack.client_kwargs())
    kept = s3.list_objects_v2(Bucket=BUCKET, Prefix=location.prefix).get("Contents", [])
    assert {item["Key"].rsplit("/", 1)[-1] for item in kept} >= {"task.pkl", "result.pkl", "stdout.log"}

    output = tmp_path / "result.pkl"
    capsys.readouterr()
    assert cli.main(["jobs", "result", raised.value.job_arn, "--output", str(output)]) == 0
    assert f"from {location.uri(location.result_key)}" in capsys.readouterr().out
    assert output.read_bytes() == s3.get_object(Bucket=BUCKET, Key=location.result_key)["Body"].read()
    # Where the module is importable, the fetched file is the electron's result.
    (tmp_path / f"{module}.py").write_text("class Answer:\n    value = 42\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with output.open("rb") as file:
            assert cloudpickle.load(file).value == 42
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(module, None)


def test_fetching_the_result_of_a_job_that_kept_none_says_why(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dispatch_id = str(uuid.uuid4())
    executor = executor_for(BUCKET)
    metadata = electron_metadata(dispatch_id)
    assert asyncio.run(executor.run(lambda: 7, [], {}, metadata)) == 7  # collected, then cleaned up

    name = hybrid_jobs.job_name(dispatch_id, 0, 1)
    assert cli.main(["jobs", "result", name, "--output", str(tmp_path / "r.pkl")]) != 0
    error = capsys.readouterr().err
    assert "no result at s3://" in error
    assert "set cleanup = false in [executors.braket]" in error  # how to keep the next one
    assert not (tmp_path / "r.pkl").exists()
