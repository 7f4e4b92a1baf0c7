"""S3 traffic of one electron: the task going up, the runner's source archive, the outputs coming back.

Every object of a task lives under one prefix (``covalent-braket/<dispatch>/<node>/<job name>/``):
the pickled task, what the runner writes, and the job's own output data. Removing that prefix after
collection leaves nothing behind. Every request names the bucket owner (``ExpectedBucketOwner``),
so a bucket name taken over by another account is refused instead of receiving the task.

Synchronous on purpose, like ``job_spec``: the executor calls these on its worker threads. Only
:func:`download_outputs` is a coroutine, which fetches several objects side by side on them.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.job import runner

KEY_ROOT = "covalent-braket"
RUNNER_PREFIX = f"{KEY_ROOT}/runner/"
"""Where the runner's archives lie, one key per version, shared by every electron of that version."""

Blocking = Callable[..., Awaitable[Any]]
"""Runs a blocking call off the event loop and awaits it: ``await blocking(fn, *args)``."""


@dataclass(frozen=True)
class TaskLocation:
    """Where one attempt of one electron keeps its objects."""

    bucket: str
    prefix: str

    @classmethod
    def for_task(cls, bucket: str, dispatch_id: str, node_id: int, job_name: str) -> TaskLocation:
        return cls(bucket, f"{KEY_ROOT}/{dispatch_id}/{node_id}/{job_name}/")

    @property
    def task_key(self) -> str:
        return f"{self.prefix}task.pkl"

    @property
    def output_prefix(self) -> str:
        """Where the runner writes the result, stdout, stderr and the error report."""
        return f"{self.prefix}output/"

    @property
    def job_output_prefix(self) -> str:
        """The job's outputDataConfig: Braket's own artefacts (model.tar.gz) land here."""
        return f"{self.prefix}job/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


@dataclass(frozen=True)
class TaskOutputs:
    """What the runner left in S3; ``None`` or empty where it wrote nothing."""

    result: bytes | None
    stdout: str
    stderr: str
    error: dict[str, str] | None


def upload_task(
    s3: Any, location: TaskLocation, payload: bytes, owner: str, progress: Callable[[int], None] | None = None
) -> str:
    """Store the pickled task and return its URI for the job's hyperparameters.

    With ``progress`` (called with each number of bytes sent), boto3's managed transfer sends it,
    in parts when large; without, one PutObject does.
    """
    if progress is None:
        s3.put_object(Bucket=location.bucket, Key=location.task_key, Body=payload, ExpectedBucketOwner=owner)
    else:
        s3.upload_fileobj(
            io.BytesIO(payload),
            location.bucket,
            location.task_key,
            ExtraArgs={"ExpectedBucketOwner": owner},
            Callback=progress,
        )
    return location.uri(location.task_key)


@lru_cache(maxsize=1)
def runner_archive() -> tuple[str, bytes]:
    """The script-mode source archive (gzip tar holding the runner) and its SHA-256.

    Built byte for byte the same from the same runner source (fixed mtimes and owners), so its
    digest names it in S3 (each version of the runner has a key of its own), and the job's script
    mode can check that the archive it downloads is this one (the digest goes into the job's
    hyperparameters).
    """
    source = runner.source_path().read_bytes()
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        # The job's entry point imports the runner by this name.
        info = tarfile.TarInfo(f"{runner.RUNNER_MODULE}.py")
        info.size = len(source)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(source))
    archive = gzip.compress(tar_buffer.getvalue(), mtime=0)
    return hashlib.sha256(archive).hexdigest(), archive


def runner_archive_key() -> str:
    """The runner archive's key: named by its content, so each version of the runner has its own."""
    return f"{RUNNER_PREFIX}{runner_archive()[0][:16]}/source.tar.gz"


def upload_runner_source(s3: Any, bucket: str, owner: str) -> str:
    """Make sure the bucket holds this runner archive, byte for byte, and return its URI.

    One HEAD per electron compares the object's size and SHA-256 checksum with the archive's, and
    the archive is put again (with a SHA-256 checksum, which S3 verifies on receipt and returns on
    HEAD) when the object is missing, differs, or carries no SHA-256 checksum. So an archive that
    was deleted or rewritten is repaired by the next electron, in this process or any other. The
    job checks the digest too (its hyperparameters fix it): this check is what keeps later jobs
    running, not what keeps them safe. Two electrons finding it wrong at once put the same bytes
    twice.
    """
    archive = runner_archive()[1]
    key = runner_archive_key()
    if not _holds(s3, bucket, key, owner, archive):
        s3.put_object(
            Bucket=bucket, Key=key, Body=archive, ChecksumAlgorithm="SHA256", ExpectedBucketOwner=owner
        )
    return f"s3://{bucket}/{key}"


async def download_outputs(
    s3: Any, location: TaskLocation, owner: str, blocking: Blocking, *, completed: bool = True
) -> TaskOutputs:
    """Fetch what the runner wrote; a missing object means the runner never got that far.

    The objects are fetched side by side, each through ``blocking`` (the executor's worker
    threads), so collecting costs one round trip instead of one per object. After a ``completed``
    job the runner wrote a result, not an error, so error.json is asked for only if the result is
    missing.
    """

    async def fetch(name: str) -> bytes | None:
        return await blocking(_get, s3, location.bucket, location.output_prefix + name, owner)

    names = [runner.RESULT_FILE, runner.STDOUT_FILE, runner.STDERR_FILE]
    if not completed:
        names.append(runner.ERROR_FILE)
    found = dict(zip(names, await asyncio.gather(*map(fetch, names)), strict=True))
    if runner.ERROR_FILE not in found and found[runner.RESULT_FILE] is None:
        found[runner.ERROR_FILE] = await fetch(runner.ERROR_FILE)

    def text(name: str) -> str:
        data = found[name]
        return data.decode("utf-8", errors="replace") if data is not None else ""

    error_data = found.get(runner.ERROR_FILE)
    return TaskOutputs(
        result=found[runner.RESULT_FILE],
        stdout=text(runner.STDOUT_FILE),
        stderr=text(runner.STDERR_FILE),
        error=json.loads(error_data) if error_data is not None else None,
    )


def task_keys(location: TaskLocation) -> list[str]:
    """Every key a task may leave: its pickle, the runner's files and the job's model.tar.gz."""
    outputs = [runner.RESULT_FILE, runner.STDOUT_FILE, runner.STDERR_FILE, runner.ERROR_FILE]
    return [
        location.task_key,
        *(location.output_prefix + name for name in outputs),
        # Braket packs the job's results directory to <outputDataConfig.s3Path>/output/model.tar.gz.
        f"{location.job_output_prefix}output/model.tar.gz",
    ]


def delete_task_objects(s3: Any, location: TaskLocation, owner: str) -> None:
    """Remove the task's objects with one DeleteObjects of the keys it may have left, without a listing.

    Keys that are not there count as deleted (S3 answers DeleteObjects so); with Quiet set, only
    failures come back, and they are raised.
    """
    answer = s3.delete_objects(
        Bucket=location.bucket,
        Delete={"Objects": [{"Key": key} for key in task_keys(location)], "Quiet": True},
        ExpectedBucketOwner=owner,
    )
    errors = answer.get("Errors") or []
    if errors:
        raise RuntimeError(
            "could not delete "
            + ", ".join(f"{e.get('Key')} ({e.get('Code')}: {e.get('Message')})" for e in errors)
        )


def _get(s3: Any, bucket: str, key: str, owner: str) -> bytes | None:
    try:
        return s3.get_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner)["Body"].read()
    except ClientError as error:
        if _missing(error):
            return None
        raise


def _holds(s3: Any, bucket: str, key: str, owner: str, content: bytes) -> bool:
    """Whether ``key`` is ``content``: same size and an S3 SHA-256 checksum equal to its digest."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", ExpectedBucketOwner=owner)
    except ClientError as error:
        if _missing(error):
            return False
        raise
    checksum = base64.b64encode(hashlib.sha256(content).digest()).decode()
    return head.get("ContentLength") == len(content) and head.get("ChecksumSHA256") == checksum


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}
