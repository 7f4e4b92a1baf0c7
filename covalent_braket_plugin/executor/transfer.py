"""S3 traffic of one electron: the task going up, the runner's source archive, the outputs coming back.

Every object of a task lives under one prefix (``covalent-braket/<dispatch>/<node>/<job name>/``):
the pickled task, what the runner writes, and the job's own output data. Removing that prefix after
collection leaves nothing behind. Every request names the bucket owner (``ExpectedBucketOwner``),
so a bucket name taken over by another account is refused instead of receiving the task.

The task and the result pass through temporary files, never whole in memory: the task is pickled
into a file (hashed as it is written) and uploaded from it, the result is downloaded into a file and
unpickled from it, so a result of N bytes costs the client about N, the unpickled object itself.

Synchronous on purpose, like ``hybrid_jobs``: the executor calls these on its worker threads. Only
:func:`download_outputs` is a coroutine, which fetches several objects side by side on them.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cloudpickle
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from covalent_braket_plugin.errors import BucketNotFoundError
from covalent_braket_plugin.job import runner
from covalent_braket_plugin.s3_layout import RUNNER_PREFIX, ElectronLocation

DOWNLOAD_CONFIG = TransferConfig(max_io_queue=8)
"""boto3's managed download, with at most 8 chunks (of 256 KiB) waiting to be written: its default
of 100 holds tens of MiB in memory when the network outruns the disk."""
Blocking = Callable[..., Awaitable[Any]]
"""Runs a blocking call off the event loop and awaits it: ``await blocking(fn, *args)``."""


@dataclass(frozen=True)
class ElectronOutputs:
    """What the runner left in S3; ``None``, False or empty where it wrote nothing.

    ``returned`` says whether the runner wrote a result; ``result`` is the file it was downloaded
    to, when it was asked for.
    """

    returned: bool
    result: Path | None
    stdout: str
    stderr: str
    error: dict[str, str] | None


@dataclass(frozen=True)
class PickledCall:
    """The pickled call in a temporary file: its size and SHA-256 (which the job checks)."""

    path: Path
    size: int
    sha256: str


class ResultNotLoaded(RuntimeError):
    """A completed job's result that could not be fetched or unpickled here: it is kept in S3."""

    def __init__(self, job_arn: str, uri: str, cause: BaseException) -> None:
        super().__init__(
            f"The result of Braket job {job_arn} could not be loaded: {type(cause).__name__}: {cause}. "
            f"It was kept at {uri}, with the job's other outputs; fetch it with `covalent-braket jobs "
            f"result {job_arn} --output FILE` and unpickle it (cloudpickle.load) where what it needs "
            "is importable."
        )
        self.job_arn = job_arn
        self.uri = uri


@contextmanager
def bucket_required(bucket: str, region: str | None) -> Iterator[None]:
    """S3's NoSuchBucket, met in the block, as a :class:`BucketNotFoundError` naming the setting and
    the fix.

    boto3's managed uploads (a large task, input data) wrap S3's answer in an S3UploadFailedError,
    raised while handling it, so the answer is that error's context.
    """
    try:
        yield
    except (ClientError, S3UploadFailedError) as error:
        answer = error if isinstance(error, ClientError) else error.__context__
        if isinstance(answer, ClientError) and answer.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise BucketNotFoundError(bucket, region) from None
        raise


class _HashingWriter:
    """A file's ``write`` that also counts and hashes what goes through it."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += memoryview(data).nbytes
        return self.file.write(data)


@asynccontextmanager
async def scratch_dir(parent: str, blocking: Blocking) -> AsyncIterator[Path]:
    """A temporary directory under ``parent`` (``cache_dir``, made if missing) for the block.

    Made and removed through ``blocking``: removing a large task or result takes the file system
    a while, which the event loop must not wait for.
    """

    def make() -> tempfile.TemporaryDirectory[str]:
        os.makedirs(parent, exist_ok=True)
        return tempfile.TemporaryDirectory(dir=parent, prefix="covalent-braket-")

    made = await blocking(make)
    try:
        yield Path(made.name)
    finally:
        await blocking(made.cleanup)


def pickle_call(call: Any, path: Path) -> PickledCall:
    """cloudpickle ``call`` into ``path``, hashing it as it is written, so it is read only to upload."""
    with path.open("wb") as file:
        writer = _HashingWriter(file)
        cloudpickle.dump(call, writer)
    return PickledCall(path, writer.size, writer.digest.hexdigest())


def upload_call(
    s3: Any,
    location: ElectronLocation,
    task: PickledCall,
    owner: str,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Store the pickled task from its file and return its URI for the job's hyperparameters.

    With ``progress`` (called with each number of bytes sent), boto3's managed transfer sends it,
    in parts when large; without, one PutObject does. Either reads the file as it sends.
    """
    if progress is None:
        with task.path.open("rb") as body:
            s3.put_object(Bucket=location.bucket, Key=location.call_key, Body=body, ExpectedBucketOwner=owner)
    else:
        s3.upload_file(
            str(task.path),
            location.bucket,
            location.call_key,
            ExtraArgs={"ExpectedBucketOwner": owner},
            Callback=progress,
        )
    return location.uri(location.call_key)


def download_result(s3: Any, location: ElectronLocation, owner: str, path: Path) -> bool:
    """Download the result into ``path`` (boto3's managed transfer: ranged parts streamed to disk).

    False when the runner wrote no result.
    """
    try:
        s3.download_file(
            location.bucket,
            location.result_key,
            str(path),
            ExtraArgs={"ExpectedBucketOwner": owner},
            Config=DOWNLOAD_CONFIG,
        )
    except ClientError as error:
        if _missing(error):
            return False
        raise
    return True


def load_result(path: Path) -> Any:
    """Unpickle a downloaded result from its file (read as it is unpickled, never whole as bytes)."""
    with path.open("rb") as file:
        return cloudpickle.load(file)


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
    s3: Any, location: ElectronLocation, owner: str, blocking: Blocking, *, result_file: Path | None = None
) -> ElectronOutputs:
    """Fetch what the runner wrote; a missing object means the runner never got that far.

    The objects are fetched side by side, each through ``blocking`` (the executor's worker
    threads), so collecting costs one round trip instead of one per object. With ``result_file``
    (a completed job's) the result is downloaded there, and error.json is asked for only if there
    is no result; without, whether there is a result is all that is asked.
    """

    async def fetch(name: str) -> bytes | None:
        return await blocking(_get, s3, location.bucket, location.output_prefix + name, owner)

    async def result() -> bool:
        if result_file is None:
            return await blocking(_exists, s3, location.bucket, location.result_key, owner)
        return await blocking(download_result, s3, location, owner, result_file)

    names = [runner.STDOUT_FILE, runner.STDERR_FILE]
    if result_file is None:
        names.append(runner.ERROR_FILE)
    returned, *texts = await asyncio.gather(result(), *map(fetch, names))
    found = dict(zip(names, texts, strict=True))
    if runner.ERROR_FILE not in found and not returned:
        found[runner.ERROR_FILE] = await fetch(runner.ERROR_FILE)

    def text(name: str) -> str:
        data = found[name]
        return data.decode("utf-8", errors="replace") if data is not None else ""

    error_data = found.get(runner.ERROR_FILE)
    return ElectronOutputs(
        returned=returned,
        result=result_file if returned else None,
        stdout=text(runner.STDOUT_FILE),
        stderr=text(runner.STDERR_FILE),
        error=json.loads(error_data) if error_data is not None else None,
    )


def electron_keys(location: ElectronLocation) -> list[str]:
    """Every key a task may leave: its pickle, the runner's files and the job's model.tar.gz."""
    outputs = [runner.RESULT_FILE, runner.STDOUT_FILE, runner.STDERR_FILE, runner.ERROR_FILE]
    return [
        location.call_key,
        *(location.output_prefix + name for name in outputs),
        # Braket packs the job's results directory to <outputDataConfig.s3Path>/output/model.tar.gz.
        f"{location.job_output_prefix}output/model.tar.gz",
    ]


def delete_electron_objects(s3: Any, location: ElectronLocation, owner: str) -> None:
    """Remove the task's objects with one DeleteObjects of the keys it may have left, without a listing.

    Keys that are not there count as deleted (S3 answers DeleteObjects so); with Quiet set, only
    failures come back, and they are raised.
    """
    answer = s3.delete_objects(
        Bucket=location.bucket,
        Delete={"Objects": [{"Key": key} for key in electron_keys(location)], "Quiet": True},
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


def _exists(s3: Any, bucket: str, key: str, owner: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner)
    except ClientError as error:
        if _missing(error):
            return False
        raise
    return True


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
