"""What someone who may write to the bucket can do to later electrons, on the local stack.

The runner archive is shared by every electron of a runner version, and task.pkl lies in S3 between
its upload and the job's start: a forged runner or task must never run. The forgeries here leave a
marker file when they run, which the tests look for; each job runs on the process runner, in this
host's Python environment.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import tarfile
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import pytest
from covalent._shared_files.exceptions import TaskRuntimeError

from covalent_braket_plugin import hybrid_jobs, s3_layout
from covalent_braket_plugin.executor import runtime, transfer
from covalent_braket_plugin.job import runner
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import electron_metadata, executor_for
from tests.integration.executor.conftest import BUCKET


def forged_runner(marker: Path) -> bytes:
    """A runner archive whose entry point writes ``marker``: proof that the forgery ran."""
    source = f"def main():\n    open({str(marker)!r}, 'w').write('forged runner ran')\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(f"{runner.RUNNER_MODULE}.py")
        info.size = len(source)
        tar.addfile(info, io.BytesIO(source))
    return gzip.compress(buffer.getvalue())


def _s3(stack: LocalStack) -> Any:
    return boto3.client("s3", **stack.client_kwargs())


def _archive_in_bucket(stack: LocalStack) -> bytes:
    return _s3(stack).get_object(Bucket=BUCKET, Key=transfer.runner_archive_key())["Body"].read()


def _run(function: Any, *args: Any, **options: Any) -> Any:
    return asyncio.run(executor_for(BUCKET, **options).run(function, list(args), {}, electron_metadata()))


def _after_runner_upload(monkeypatch: pytest.MonkeyPatch, attack: Any) -> None:
    """Have ``attack(s3, runner_key)`` write to the bucket once an electron's objects are all in S3,
    before its job is created (the executor puts the task first, then the runner archive)."""
    upload = transfer.upload_runner_source

    def upload_then_attack(s3: Any, bucket: str, owner: str) -> str:
        uri = upload(s3, bucket, owner)
        attack(s3, uri.removeprefix(f"s3://{bucket}/"))
        return uri

    monkeypatch.setattr(transfer, "upload_runner_source", upload_then_attack)


def test_a_deleted_or_rewritten_runner_archive_is_put_back_by_the_next_electron(
    stack: LocalStack, tmp_path: Path
) -> None:
    """One process: an archive deleted between two electrons, then one rewritten, is repaired."""
    marker = tmp_path / "forged"
    with runtime.fresh():
        assert _run(lambda: "first") == "first"
        _s3(stack).delete_object(Bucket=BUCKET, Key=transfer.runner_archive_key())
        assert _run(lambda: "after the delete") == "after the delete"
        _s3(stack).put_object(Bucket=BUCKET, Key=transfer.runner_archive_key(), Body=forged_runner(marker))
        assert _run(lambda: "after the rewrite") == "after the rewrite"
    assert not marker.exists()
    assert _archive_in_bucket(stack) == transfer.runner_archive()[1]


def test_an_electron_that_rewrites_the_runner_cannot_run_code_in_later_jobs(
    stack: LocalStack, tmp_path: Path
) -> None:
    """The electron's job itself rewrites the shared archive; the next electron comes from a new
    client process (a fresh runtime: nothing known about S3) and still runs the genuine runner."""
    marker = tmp_path / "forged"
    forged = forged_runner(marker)

    def rewrite_the_runner() -> str:
        import os

        import boto3

        bucket, key = os.environ["AMZN_BRAKET_SCRIPT_S3_URI"].removeprefix("s3://").split("/", 1)
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=forged)
        return key

    with runtime.fresh():
        assert _run(rewrite_the_runner) == transfer.runner_archive_key()
    assert _archive_in_bucket(stack) == forged
    with runtime.fresh():
        assert _run(lambda: "genuine") == "genuine"
    assert not marker.exists()
    assert _archive_in_bucket(stack) == transfer.runner_archive()[1]


def test_a_job_whose_runner_archive_changed_after_upload_fails_saying_so(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "forged"
    forged = forged_runner(marker)
    _after_runner_upload(monkeypatch, lambda s3, key: s3.put_object(Bucket=BUCKET, Key=key, Body=forged))
    metadata = electron_metadata()
    with runtime.fresh(), pytest.raises(TaskRuntimeError) as raised:
        asyncio.run(executor_for(BUCKET, cleanup=False).run(lambda: "never", [], {}, metadata))
    assert not marker.exists()
    message = str(raised.value)
    assert "ended FAILED" in message
    assert "it was changed after submission, so it is not run" in message
    job = _ended_job(stack, metadata)
    assert job["status"] == "FAILED"
    assert f"has SHA-256 {transfer.runner_archive()[0]}" not in job["failureReason"]
    assert f"not {transfer.runner_archive()[0]} fixed when the job was created" in job["failureReason"]


def test_a_task_rewritten_between_upload_and_job_start_is_never_unpickled(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "forged"

    def forged_electron() -> str:
        marker.write_text("forged task ran")
        return "forged"

    def rewrite_the_task(s3: Any, _runner_key: str) -> None:
        location = s3_layout.ElectronLocation.for_electron(BUCKET, metadata["dispatch_id"], 0, job_name)
        s3.put_object(Bucket=BUCKET, Key=location.call_key, Body=cloudpickle.dumps((forged_electron, [], {})))

    metadata = electron_metadata()
    job_name = hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)
    _after_runner_upload(monkeypatch, rewrite_the_task)
    with runtime.fresh(), pytest.raises(TaskRuntimeError) as raised:
        asyncio.run(executor_for(BUCKET).run(lambda: "genuine", [], {}, metadata))
    assert not marker.exists()
    message = str(raised.value)
    assert f"{runner.TaskIntegrityError.__name__}: s3://{BUCKET}/" in message
    assert "the task was changed after submission, so it is not run" in message
    assert "ended FAILED" in message


def _ended_job(stack: LocalStack, metadata: dict[str, Any]) -> dict[str, Any]:
    braket = boto3.client("braket", **stack.client_kwargs())
    name = hybrid_jobs.job_name(metadata["dispatch_id"], metadata["node_id"], 1)
    [summary] = [
        job
        for page in braket.get_paginator("search_jobs").paginate(filters=[])
        for job in page["jobs"]
        if job["jobName"] == name
    ]
    return braket.get_job(jobArn=summary["jobArn"])
