"""The job-side runner, run as the job runs it: a standalone module in a child process, against S3."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import pytest
from moto.server import ThreadedMotoServer

from covalent_braket_plugin.job import runner

BUCKET = "amazon-braket-runner-test"
OWNER = "123456789012"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    client = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    return client


def run_job(
    tmp_path: Path,
    s3: Any,
    s3_endpoint: str,
    fn: Callable[..., Any],
    *args: Any,
    upload_call: bool = True,
    uploaded: bytes | None = None,
    **kwargs: Any,
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Upload the task, lay the job out like /opt/ml and run the runner the way script mode does.

    The hyperparameters fix the digest of the pickled task; ``uploaded`` puts other bytes in S3 in
    its place, as someone rewriting the object after CreateJob would.
    """
    prefix = f"jobs/{tmp_path.name}"
    task = cloudpickle.dumps((fn, args, kwargs))
    if upload_call:
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/task.pkl", Body=task if uploaded is None else uploaded)
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(runner.source_path(), code / f"{runner.RUNNER_MODULE}.py")
    (tmp_path / "input" / "config").mkdir(parents=True)
    hp_file = tmp_path / "input" / "config" / "hyperparameters.json"
    hp_file.write_text(json.dumps({
        runner.TASK_URI_KEY: f"s3://{BUCKET}/{prefix}/task.pkl",
        runner.TASK_SHA256_KEY: hashlib.sha256(task).hexdigest(),
        runner.OUTPUT_URI_KEY: f"s3://{BUCKET}/{prefix}/output/",
        runner.BUCKET_OWNER_KEY: OWNER,
    }))
    env = {
        "PATH": os.environ["PATH"],
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AMZN_BRAKET_HP_FILE": str(hp_file),
        "AMZN_BRAKET_JOB_RESULTS_DIR": str(tmp_path / "model"),
    }
    # The job has no covalent_braket_plugin: the runner must not import it.
    module, function = runner.ENTRY_POINT.split(":")
    program = (
        f"import sys, {module}\n"
        f"try:\n    {module}.{function}()\n"
        "finally:\n"
        "    assert not [m for m in sys.modules if m.startswith('covalent_braket_plugin')]\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program], cwd=code, env=env, capture_output=True, text=True, timeout=120
    )
    return completed, f"{prefix}/output/"


def read(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_result_and_teed_output_reach_s3_and_the_job_log(tmp_path: Path, s3: Any, s3_endpoint: str) -> None:
    def electron(x: int, *, y: int) -> dict[str, int]:
        import os
        import subprocess
        import sys

        print("from print")
        print("to stderr", file=sys.stderr)
        os.write(1, b"from the descriptor\n")
        subprocess.run(["echo", "from a child process"], check=True)
        return {"sum": x + y}

    completed, output = run_job(tmp_path, s3, s3_endpoint, electron, 2, y=3)

    assert completed.returncode == 0, completed.stderr
    assert cloudpickle.loads(read(s3, output + runner.RESULT_FILE)) == {"sum": 5}
    stdout_log = read(s3, output + runner.STDOUT_FILE).decode()
    for line in ("from print", "from the descriptor", "from a child process"):
        assert line in stdout_log
        assert line in completed.stdout  # still in the job's own log
    assert "to stderr" in read(s3, output + runner.STDERR_FILE).decode()
    assert "to stderr" in completed.stderr
    assert not (tmp_path / "output" / "failure").exists()


def test_exception_gives_error_json_failure_line_and_exit_1(
    tmp_path: Path, s3: Any, s3_endpoint: str
) -> None:
    def electron() -> None:
        print("before the error")
        raise ValueError("the angle is out of range")

    completed, output = run_job(tmp_path, s3, s3_endpoint, electron)

    assert completed.returncode == 1
    error = json.loads(read(s3, output + runner.ERROR_FILE))
    assert error["type"] == "ValueError"
    assert error["message"] == "the angle is out of range"
    assert "raise ValueError" in error["traceback"]
    assert "before the error" in read(s3, output + runner.STDOUT_FILE).decode()
    assert "ValueError: the angle is out of range" in read(s3, output + runner.STDERR_FILE).decode()
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure == "ValueError: the angle is out of range\n"
    assert runner.RESULT_FILE not in [o["Key"].rsplit("/", 1)[-1] for o in
                                      s3.list_objects_v2(Bucket=BUCKET, Prefix=output)["Contents"]]


def test_sys_exit_in_the_electron_is_a_failure(tmp_path: Path, s3: Any, s3_endpoint: str) -> None:
    def electron() -> None:
        raise SystemExit(3)

    completed, output = run_job(tmp_path, s3, s3_endpoint, electron)

    assert completed.returncode == 1
    assert json.loads(read(s3, output + runner.ERROR_FILE))["type"] == "SystemExit"


def test_os_exit_in_the_electron_still_sends_what_it_printed(
    tmp_path: Path, s3: Any, s3_endpoint: str
) -> None:
    def electron() -> None:
        import os
        import sys

        print("the last words, still in Python's buffer")
        print("and to stderr", file=sys.stderr)
        if os.fork() == 0:
            os._exit(0)  # a forked child's exit sends nothing
        os.wait()
        os._exit(3)

    completed, output = run_job(tmp_path, s3, s3_endpoint, electron)

    assert completed.returncode == 3  # the electron's own status
    stdout_log = read(s3, output + runner.STDOUT_FILE).decode()
    assert stdout_log.count("the last words, still in Python's buffer") == 1
    assert "the last words" in completed.stdout  # reached the job's log as well
    assert "and to stderr" in read(s3, output + runner.STDERR_FILE).decode()


def test_unpicklable_result_is_reported_as_the_error(tmp_path: Path, s3: Any, s3_endpoint: str) -> None:
    def electron() -> Any:
        import threading

        return threading.Lock()

    completed, output = run_job(tmp_path, s3, s3_endpoint, electron)

    assert completed.returncode == 1
    assert json.loads(read(s3, output + runner.ERROR_FILE))["type"] == "TypeError"


def test_missing_task_object_still_reports(tmp_path: Path, s3: Any, s3_endpoint: str) -> None:
    completed, output = run_job(tmp_path, s3, s3_endpoint, print, upload_call=False)

    assert completed.returncode == 1
    assert json.loads(read(s3, output + runner.ERROR_FILE))["type"] == "NoSuchKey"
    assert (tmp_path / "output" / "failure").read_text().startswith("NoSuchKey: ")


def test_a_task_rewritten_after_submission_is_never_unpickled(
    tmp_path: Path, s3: Any, s3_endpoint: str
) -> None:
    marker = tmp_path / "forged-code-ran"

    def forged() -> None:
        Path(str(marker)).write_text("ran")

    completed, output = run_job(
        tmp_path, s3, s3_endpoint, print, "the user's task", uploaded=cloudpickle.dumps((forged, (), {}))
    )

    assert completed.returncode == 1
    assert not marker.exists()
    error = json.loads(read(s3, output + runner.ERROR_FILE))
    assert error["type"] == "TaskIntegrityError"
    assert "changed after submission" in error["message"]
    assert (tmp_path / "output" / "failure").read_text().startswith("TaskIntegrityError: ")
    assert "the user's task" not in read(s3, output + runner.STDOUT_FILE).decode()


def test_a_large_result_arrives_whole_through_a_multipart_upload(
    tmp_path: Path, s3: Any, s3_endpoint: str
) -> None:
    def electron(size: int) -> bytes:
        return bytes(range(256)) * (size // 256)

    size = 24 * 2**20  # past boto3's 8 MiB multipart threshold
    completed, output = run_job(tmp_path, s3, s3_endpoint, electron, size)

    assert completed.returncode == 0, completed.stderr
    head = s3.head_object(Bucket=BUCKET, Key=output + runner.RESULT_FILE)
    assert "-" in head["ETag"]  # S3 gives multipart objects an ETag of "<digest>-<parts>"
    assert cloudpickle.loads(read(s3, output + runner.RESULT_FILE)) == electron(size)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"AMZN_BRAKET_JOB_RESULTS_DIR": "/opt/braket/model"}, Path("/opt/braket/output/failure")),
        ({"AMZN_BRAKET_JOB_RESULTS_DIR": "/work/jobs/j-1/model"}, Path("/work/jobs/j-1/output/failure")),
        ({}, Path("/opt/ml/output/failure")),
    ],
)
def test_failure_file_follows_the_job_layout(environ: dict[str, str], expected: Path) -> None:
    assert runner.failure_file(environ) == expected


def test_split_s3_uri_rejects_other_schemes() -> None:
    assert runner.split_s3_uri("s3://b/k/x.pkl") == ("b", "k/x.pkl")
    with pytest.raises(ValueError, match="not an s3://"):
        runner.split_s3_uri("https://b/k")
