"""Script mode of Amazon Braket Hybrid Jobs: fetch the job's source code and run its entry point.

This is what Braket's own job images run as ``SAGEMAKER_PROGRAM`` (``braket_container.py``), redone
so that the same program serves every place a job of this project runs:

* inside a job image, copied to ``/opt/ml/code/braket_container.py`` with
  ``ENV SAGEMAKER_PROGRAM=braket_container.py`` (on Amazon Braket and on the local stack's docker
  runner), where it works under ``/opt/ml`` exactly like Braket's program;
* on the local stack's process runner, with ``SAGEMAKER_BASE_DIR`` (the training toolkit's own
  variable for a base dir other than /opt/ml) naming the job's work dir.

Either way it is started by SageMaker's training toolkit (``train``), which passes every
hyperparameter as a ``--name value`` argument. Like Braket's program it ignores its arguments and
reads the hyperparameters from their file: the arguments carry the same values, JSON-decoded and
re-encoded by the toolkit, and a name the program does not know must never stop a job.

It must stay standalone (standard library and boto3 only, no import of this package), because it is
copied into images that do not have the package installed.

A job whose hyperparameters carry ``COVALENT_SOURCE_SHA256`` (the executor's jobs) runs its source
only when the downloaded archive has that SHA-256: hyperparameters are fixed at CreateJob, while the
archive in S3 can be rewritten by anyone who may write to the bucket.

The steps follow Braket's program: read ``AMZN_BRAKET_SCRIPT_S3_URI``, ``_ENTRY_POINT`` and
``_COMPRESSION_TYPE``; download the source (one file for ``NONE``, a tar.gz archive for ``GZIP``)
and unpack it into the code dir; pip-install any ``requirements.txt``; run the entry point
(``"package.module:function"`` is imported and called, with the hyperparameters as keyword
arguments when its signature takes them; ``"package.module"`` is run like ``python -m``) in a
child process whose working dir is the code dir; on error append ``"<ExceptionType>: <message>"``
to ``<ml root>/output/failure`` (the service turns that file into the job's failureReason) and
exit with the user code's exit code.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import inspect
import json
import os
import runpy
import shutil
import subprocess
import sys
import tarfile
import traceback
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

DEFAULT_ML_ROOT = Path("/opt/ml")
BASE_DIR_VARIABLE = "SAGEMAKER_BASE_DIR"
"""The training toolkit's variable for a base dir other than /opt/ml."""
RUN_CHILD_FLAG = "--covalent-braket-run-entry-point"
"""First argument of the child process that runs the entry point. The toolkit's arguments are the
job's hyperparameter names, so only a job with a hyperparameter of exactly this name and no other
could be mistaken for the child."""
SOURCE_SHA256_KEY = "COVALENT_SOURCE_SHA256"
BRAKET_ROOT = Path("/opt/braket")


class ScriptModeError(Exception):
    """A step before the user code failed; the message becomes the job's failure reason."""


def code_dir(ml_root: Path) -> Path:
    """Where the source is unpacked and the user code runs (Braket's layout under /opt/braket/code)."""
    return ml_root / "code" / "customer_code" / "extracted"


def failure_file(ml_root: Path) -> Path:
    return ml_root / "output" / "failure"


def log_failure(ml_root: Path, message: str) -> None:
    """Append ``message`` to the failure file; Braket reports its content as failureReason."""
    path = failure_file(ml_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as failure:
        failure.write(message)


def link_braket_root(ml_root: Path) -> None:
    """Make /opt/braket point at /opt/ml inside a container, as Braket's program does.

    The AMZN_BRAKET_* paths name /opt/braket; the service mounts the job's files under /opt/ml.
    An existing /opt/braket (a runner that mounted it itself) is left alone.
    """
    if ml_root != DEFAULT_ML_ROOT:
        return
    try:
        BRAKET_ROOT.symlink_to(DEFAULT_ML_ROOT, target_is_directory=True)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise ScriptModeError(f"Symlink failure: {exc}") from exc


def script_settings() -> tuple[str, str, str]:
    """(s3 uri, entry point, compression type) of the job's source, from the environment."""
    s3_uri = os.environ.get("AMZN_BRAKET_SCRIPT_S3_URI", "")
    entry_point = os.environ.get("AMZN_BRAKET_SCRIPT_ENTRY_POINT", "")
    compression = os.environ.get("AMZN_BRAKET_SCRIPT_COMPRESSION_TYPE", "NONE") or "NONE"
    if not s3_uri:
        raise ScriptModeError("No customer script specified (AMZN_BRAKET_SCRIPT_S3_URI is not set)")
    if not entry_point:
        raise ScriptModeError("No customer entry point specified (AMZN_BRAKET_SCRIPT_ENTRY_POINT is not set)")
    return s3_uri, entry_point, compression.strip().upper()


def download_source(s3_uri: str, destination: Path) -> Path:
    """Download the one S3 object holding the job's source; boto3 finds the endpoint in the env."""
    parsed = urlparse(s3_uri, allow_fragments=False)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    destination.mkdir(parents=True, exist_ok=True)
    local_file = destination / (Path(key).name or "source")
    try:
        import boto3  # here, so an image without boto3 fails with a reason, and the rest needs no AWS SDK

        boto3.client("s3").download_file(bucket, key, str(local_file))
    except Exception as exc:
        raise ScriptModeError(f"Unable to download code from {s3_uri}: {exc}") from exc
    return local_file


def read_hyperparameters() -> dict[str, Any]:
    """The job's hyperparameters (``$AMZN_BRAKET_HP_FILE``); none when the job has no such file."""
    hp_file = os.environ.get("AMZN_BRAKET_HP_FILE")
    if not hp_file or not Path(hp_file).is_file():
        return {}
    return dict(json.loads(Path(hp_file).read_text(encoding="utf-8")))


def verify_source(source: Path, hyperparameters: dict[str, Any]) -> None:
    """Refuse a source whose SHA-256 differs from the one the hyperparameters fix, when they fix one."""
    expected = hyperparameters.get(SOURCE_SHA256_KEY)
    if expected is None:
        return
    digest = hashlib.sha256()
    with open(source, "rb") as file:
        while chunk := file.read(1 << 16):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ScriptModeError(
            f"The job's source {source.name} has SHA-256 {digest.hexdigest()}, not {expected} fixed "
            "when the job was created: it was changed after submission, so it is not run"
        )


def unpack_source(source: Path, compression: str, destination: Path) -> None:
    """Unpack a GZIP tar archive, or copy a single uncompressed file, into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    if compression == "GZIP":
        try:
            with tarfile.open(source, "r:gz") as archive:
                if hasattr(tarfile, "data_filter"):
                    archive.extractall(destination, filter="data")
                else:  # Python 3.11 before 3.11.4 has no extraction filters
                    archive.extractall(destination)
        except (OSError, tarfile.TarError) as exc:
            raise ScriptModeError(f"Unable to unpack archive {source.name} of type GZIP: {exc}") from exc
    elif compression == "NONE":
        shutil.copy(source, destination)
    else:
        raise ScriptModeError(f"Unknown compression type {compression!r}; expected NONE or GZIP")


def install_requirements(code: Path) -> None:
    """pip-install every requirements.txt found in the source, in the interpreter that runs it."""
    for requirements in sorted(code.rglob("requirements.txt")):
        print(f"Installing requirements from {requirements.relative_to(code)}", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-r", str(requirements)], cwd=code, check=False
        )
        if result.returncode != 0:
            raise ScriptModeError(
                f"Unable to install requirements from {requirements.relative_to(code)}: "
                f"pip exited with code {result.returncode}"
            )


def resolve_entry_point(entry_point: str) -> Callable[..., Any]:
    """``"module:function"`` -> the function; ``"module"`` -> a call that runs it as ``__main__``."""
    module_name, _, function_name = entry_point.partition(":")
    if function_name:
        return getattr(importlib.import_module(module_name), function_name)
    return lambda: runpy.run_module(module_name, run_name="__main__", alter_sys=True)


def bind_hyperparameters(function: Callable[..., Any]) -> dict[str, Any]:
    """Keyword arguments for ``function`` from the hyperparameters, when its signature takes them all.

    Like Braket's program: each value is converted by the parameter's annotation when that is a
    class (``int``, ``float``...), and kept a string otherwise; a signature that does not accept the
    hyperparameters gets none of them.
    """
    hyperparameters = read_hyperparameters()
    if not hyperparameters:
        return {}
    try:
        inspect.signature(function).bind(**hyperparameters)
    except (TypeError, ValueError):
        return {}
    try:
        annotations = typing.get_type_hints(function)
    except Exception:  # annotations naming what the module cannot resolve: keep the strings
        annotations = {}
    return {
        name: annotations[name](value) if isinstance(annotations.get(name), type) else value
        for name, value in hyperparameters.items()
    }


def run_user_code(ml_root: Path, entry_point: str) -> int:
    """Run the entry point in this process (the child); record an exception in the failure file."""
    code = code_dir(ml_root)
    sys.path.insert(0, str(code))
    try:
        function = resolve_entry_point(entry_point)
        function(**bind_hyperparameters(function))
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log_failure(ml_root, message)
        traceback.print_exc()
        return 1
    return 0


def exit_status(returncode: int) -> int:
    """A child killed by signal N reports -N; a shell would report 128 + N."""
    return returncode if returncode >= 0 else 128 - returncode


def run(ml_root: Path) -> int:
    """Prepare the source and run the user code in a child process; return its exit code."""
    link_braket_root(ml_root)
    s3_uri, entry_point, compression = script_settings()
    code = code_dir(ml_root)
    original = code.parent / "original"
    source = download_source(s3_uri, original)
    verify_source(source, read_hyperparameters())
    unpack_source(source, compression, code)
    install_requirements(code)
    print(f"Running entry point {entry_point}", flush=True)
    print("Running Code As Process", flush=True)
    child = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), RUN_CHILD_FLAG, entry_point],
        cwd=code,
        check=False,
    )
    print("Code Run Finished", flush=True)
    return exit_status(child.returncode)


def drop_own_directory_from_path() -> None:
    """Forget the directory of this file, which Python puts first on sys.path for a script.

    Run from an installed plugin, that directory is the plugin package, whose ``braket.py`` would
    shadow the Braket SDK for the user code (and any other module there could shadow a user's).
    """
    own = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if not entry or Path(entry).resolve() != own]


def ml_root_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The directory laid out like /opt/ml: ``$SAGEMAKER_BASE_DIR`` when set, as for the toolkit."""
    return Path(environ.get(BASE_DIR_VARIABLE) or DEFAULT_ML_ROOT).resolve()


def main(argv: list[str] | None = None) -> int:
    """Run the job's source; ``argv`` (the toolkit's ``--name value`` arguments) is not read.

    Only the child this program starts for the user code is told apart, by ``RUN_CHILD_FLAG``.
    """
    drop_own_directory_from_path()
    argv = sys.argv[1:] if argv is None else argv
    ml_root = ml_root_dir()
    if len(argv) == 2 and argv[0] == RUN_CHILD_FLAG:
        return run_user_code(ml_root, argv[1])
    try:
        return run(ml_root)
    except ScriptModeError as exc:
        log_failure(ml_root, str(exc))
        print(exc, file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
