"""What runs inside the Braket job: load the electron from S3, run it, send back its result or error.

The executor uploads this file, renamed ``covalent_braket_runner.py``, in the job's source archive;
the image's script-mode program calls ``covalent_braket_runner:main``. It must therefore stand
alone: standard library, boto3 and cloudpickle only, never an import of covalent_braket_plugin
(which the job image does not have). The client imports it too, for the names of its files.

Hyperparameters (``$AMZN_BRAKET_HP_FILE``) say where things are:

- ``COVALENT_TASK_URI``: ``s3://bucket/key`` of ``cloudpickle.dumps((fn, args, kwargs))``;
- ``COVALENT_OUTPUT_URI``: ``s3://bucket/prefix/`` that receives the files below;
- ``COVALENT_TASK_SHA256``: the SHA-256 of ``task.pkl``, fixed at CreateJob. The task is unpickled
  only when its digest matches, so whoever can write to the bucket cannot swap in code of their own.
- ``COVALENT_BUCKET_OWNER``: account id every S3 call passes as ExpectedBucketOwner, so a bucket
  taken over by another account is never written to.

The task and the result pass through temporary files, never whole in memory, and the result is
uploaded with boto3's managed (multipart) transfer.

Output, all through S3 so that it never depends on CloudWatch: ``result.pkl`` (cloudpickle of the
return value) on success; ``error.json`` (``{"type", "message", "traceback"}``) on failure; always
``stdout.log`` and ``stderr.log``. Output is teed at the file descriptor level, so what the electron,
its C extensions and its child processes print still reaches the job's logs as well. On failure
``"<Type>: <message>"`` is appended to the job's ``output/failure`` file (Braket turns it into the
job's failureReason) and the process exits with status 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, NoReturn
from urllib.parse import urlparse

import boto3
import cloudpickle

# Names the client shares with the job (imported by the executor).
RUNNER_MODULE = "covalent_braket_runner"
ENTRY_POINT = f"{RUNNER_MODULE}:main"
TASK_URI_KEY = "COVALENT_TASK_URI"
TASK_SHA256_KEY = "COVALENT_TASK_SHA256"
OUTPUT_URI_KEY = "COVALENT_OUTPUT_URI"
BUCKET_OWNER_KEY = "COVALENT_BUCKET_OWNER"
RESULT_FILE = "result.pkl"
ERROR_FILE = "error.json"
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"

DEFAULT_HP_FILE = "/opt/ml/input/config/hyperparameters.json"
DEFAULT_FAILURE_FILE = "/opt/ml/output/failure"
# Braket's failureReason is short; the full traceback is in error.json.
MAX_FAILURE_CHARS = 1000
_READ_BYTES = 65536


def source_path() -> Path:
    """This file, for the executor to put in the job's source archive as ``covalent_braket_runner.py``."""
    return Path(__file__)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def instance_rank(hp_file: str) -> int:
    """This instance's place among the job's instances (0 for the first, and for a single instance).

    Read from ``resourceconfig.json`` beside the hyperparameters file, where SageMaker, which runs
    Braket's job instances, names the hosts and the current one.
    """
    try:
        config = json.loads((Path(hp_file).parent / "resourceconfig.json").read_text())
        return sorted(config["hosts"]).index(config["current_host"])
    except (OSError, ValueError, KeyError):
        return 0


def rank_output_uri(output_uri: str, rank: int) -> str:
    """Where an instance writes: the job's output prefix for rank 0, whose result is the electron's;
    ``rank-<k>/`` under it for the others, which run the electron too."""
    return output_uri if rank == 0 else f"{output_uri.rstrip('/')}/rank-{rank}/"


def failure_file(environ: Mapping[str, str] = os.environ) -> Path:
    """The job's failure file: ``<ml root>/output/failure``.

    The ml root is the parent of AMZN_BRAKET_JOB_RESULTS_DIR (``/opt/braket/model`` in an image, the
    job's work dir on the local process runner); without it, the standard ``/opt/ml``.
    """
    results_dir = environ.get("AMZN_BRAKET_JOB_RESULTS_DIR")
    if results_dir:
        return Path(results_dir).parent / "output" / "failure"
    return Path(DEFAULT_FAILURE_FILE)


class _FdTee:
    """Copy everything written to a file descriptor into a temporary file while it still reaches
    its target.

    Works below Python's ``sys.stdout``, so output of C code and child processes is caught too; a
    file rather than memory holds it, so a chatty electron cannot exhaust the job's memory.
    """

    def __init__(self, fd: int, stream: Any) -> None:
        self._fd = fd
        self._stream = stream
        self.captured: BinaryIO = tempfile.TemporaryFile()  # noqa: SIM115 - read after the tee ends
        self._saved = -1
        self._reader: threading.Thread | None = None

    def __enter__(self) -> _FdTee:
        self._stream.flush()
        self._saved = os.dup(self._fd)
        read_end, write_end = os.pipe()
        os.dup2(write_end, self._fd)
        os.close(write_end)
        self._reader = threading.Thread(target=self._copy, args=(read_end,), daemon=True)
        self._reader.start()
        return self

    def _copy(self, read_end: int) -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(_READ_BYTES):
                self.captured.write(chunk)
                os.write(self._saved, chunk)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stream.flush()
        os.dup2(self._saved, self._fd)  # drops our write end of the pipe; children may hold theirs
        if self._reader is not None:
            # A child process still holding the pipe open must not hang the job.
            self._reader.join(timeout=10)
        os.close(self._saved)
        self.captured.seek(0)


class _Output:
    """Writes the job's output files to the S3 prefix of COVALENT_OUTPUT_URI."""

    def __init__(self, s3: Any, output_uri: str, owner: str) -> None:
        self._s3 = s3
        self._bucket, prefix = split_s3_uri(output_uri)
        self._prefix = prefix if prefix.endswith("/") or not prefix else f"{prefix}/"
        self._owner = owner

    def put(self, name: str, body: bytes | BinaryIO) -> None:
        owner = {"ExpectedBucketOwner": self._owner} if self._owner else {}
        self._s3.put_object(Bucket=self._bucket, Key=f"{self._prefix}{name}", Body=body, **owner)

    def upload(self, name: str, file: BinaryIO) -> None:
        """Upload a file of any size (boto3 switches to multipart uploads for large ones)."""
        owner = {"ExpectedBucketOwner": self._owner} if self._owner else {}
        self._s3.upload_fileobj(file, self._bucket, f"{self._prefix}{name}", ExtraArgs=owner)


class TaskIntegrityError(Exception):
    """``task.pkl`` is not the task the job was created with; it is never unpickled."""


def file_sha256(file: BinaryIO) -> str:
    """The hex SHA-256 of a file's content, read in chunks from its start; leaves it at its start."""
    file.seek(0)
    digest = hashlib.sha256()
    while chunk := file.read(_READ_BYTES):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _load_task(
    s3: Any, task_uri: str, expected_sha256: str, owner: str
) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """Download the task to a temporary file, check its digest, and only then unpickle it."""
    bucket, key = split_s3_uri(task_uri)
    expected = {"ExpectedBucketOwner": owner} if owner else {}
    with tempfile.TemporaryFile() as file:
        body = s3.get_object(Bucket=bucket, Key=key, **expected)["Body"]
        for chunk in body.iter_chunks(_READ_BYTES):
            file.write(chunk)
        actual = file_sha256(file)
        if actual != expected_sha256:
            raise TaskIntegrityError(
                f"{task_uri} has SHA-256 {actual}, not {expected_sha256 or '(none given)'} fixed when the "
                "job was created: the task was changed after submission, so it is not run"
            )
        fn, args, kwargs = cloudpickle.load(file)
    return fn, tuple(args), dict(kwargs)


def error_report(error: BaseException) -> dict[str, str]:
    """What error.json holds: the exception's type name, message and formatted traceback."""
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }


def _append_failure(error: BaseException) -> None:
    """One ``"<Type>: <message>"`` line in the job's failure file, which becomes its failureReason."""
    path = failure_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as failure:
        failure.write(f"{type(error).__name__}: {error}"[:MAX_FAILURE_CHARS] + "\n")


@contextmanager
def _outputs_sent_on_os_exit(output: _Output, stdout: _FdTee, stderr: _FdTee) -> Iterator[None]:
    """While the electron runs, make ``os._exit`` send what it printed before the process ends.

    ``os._exit`` ends the process at once: no ``finally``, no flush of Python's buffers, no time for
    the tee threads to copy what is still in their pipes. So it is replaced by a function that
    flushes, ends both tees (their last bytes reach the job's log and the captured files) and puts
    stdout.log and stderr.log before it exits with the electron's status. A process the electron
    forked calls ``os._exit`` too, for itself: there it is left alone.
    """
    real_exit = os._exit
    runner_pid = os.getpid()

    def exit_with_outputs(status: int) -> NoReturn:
        if os.getpid() == runner_pid:
            with suppress(Exception):  # whatever fails here, the process must still end
                stderr.__exit__(None, None, None)
                stdout.__exit__(None, None, None)
                output.put(STDOUT_FILE, stdout.captured)
                output.put(STDERR_FILE, stderr.captured)
        real_exit(status)

    os._exit = exit_with_outputs
    try:
        yield
    finally:
        os._exit = real_exit


def main() -> None:
    """Run the electron the hyperparameters name; exit with status 1 when it (or its loading) fails."""
    error: BaseException | None = None
    try:
        hp_file = os.environ.get("AMZN_BRAKET_HP_FILE", DEFAULT_HP_FILE)
        with open(hp_file) as file:
            hyperparameters = json.load(file)
        owner = hyperparameters.get(BUCKET_OWNER_KEY, "")
        s3 = boto3.client("s3")
        output = _Output(s3, rank_output_uri(hyperparameters[OUTPUT_URI_KEY], instance_rank(hp_file)), owner)
        with _FdTee(1, sys.stdout) as stdout, _FdTee(2, sys.stderr) as stderr:
            result = tempfile.TemporaryFile()  # noqa: SIM115 - uploaded after the tees end
            try:
                fn, args, kwargs = _load_task(
                    s3, hyperparameters[TASK_URI_KEY], hyperparameters.get(TASK_SHA256_KEY, ""), owner
                )
                with _outputs_sent_on_os_exit(output, stdout, stderr):
                    cloudpickle.dump(fn(*args, **kwargs), result)
            except (Exception, SystemExit) as exc:  # sys.exit() in an electron is a failure too
                error = exc
                traceback.print_exc()
        output.put(STDOUT_FILE, stdout.captured)
        output.put(STDERR_FILE, stderr.captured)
        with result:
            if error is None:
                result.seek(0)
                output.upload(RESULT_FILE, result)
            else:
                output.put(ERROR_FILE, json.dumps(error_report(error)).encode())
    except Exception as exc:  # the job could not even report: its failureReason must still say why
        error = error or exc
        traceback.print_exc()
    if error is not None:
        _append_failure(error)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
