"""BraketExecutor's story of one electron, with S3 and CloudWatch Logs from moto and a scripted Braket.

The Braket stand-in records every request and plays a job's life from a list of statuses; the
"job" itself (what the runner does in a real job) is played by the test, in process.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import boto3
import cloudpickle
import pytest
from botocore.exceptions import ClientError
from covalent._shared_files.exceptions import TaskCancelledError, TaskRuntimeError
from moto import mock_aws

from covalent_braket_plugin import braket as entry_point
from covalent_braket_plugin import hybrid_jobs, s3_layout
from covalent_braket_plugin.errors import BucketNotFoundError
from covalent_braket_plugin.executor import runtime, transfer, watch
from covalent_braket_plugin.executor.executor import LARGE_UPLOAD_BYTES, BraketExecutor
from covalent_braket_plugin.executor.progress import Progress
from covalent_braket_plugin.images import PythonVersionMismatchError
from covalent_braket_plugin.job import runner, script_mode
from covalent_braket_plugin.settings import BraketExecutorSettings, ExecutorConfigError

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "amazon-braket-executor-unit"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/amazon-braket-covalent:unit"
JOB_ARN = f"arn:aws:braket:{REGION}:{ACCOUNT}:job/6a4b0d0e-0d4c-4b43-9f0e-111111111111"
EXECUTOR_MODULE = "covalent_braket_plugin.executor.executor"
METADATA = {"dispatch_id": "1d0e6f8c-8f57-4a0c-9a55-1d6f2b9c7a10", "node_id": 2, "results_dir": "/tmp"}
OPTIONS = {
    "s3_bucket_name": BUCKET,
    "region": REGION,
    "ecr_image_uri": IMAGE,
    "poll_freq": 0.05,
    "initial_poll_freq": 0.01,
}


class FakeBraket:
    """Braket's job API as a script: create_job starts ``job``; each status check (SearchJobs or
    GetJob) walks one step through ``statuses``."""

    def __init__(self, statuses: list[str], job: Callable[[dict], None] | None = None) -> None:
        self.statuses = list(statuses)
        self.job = job
        self.calls: list[tuple[str, dict]] = []
        self.failure_reason = ""
        self.seen: str | None = None  # the status the last check saw

    def create_job(self, **request: Any) -> dict:
        self.calls.append(("create_job", request))
        if self.job:
            self.job(request)
        return {"jobArn": JOB_ARN}

    def _status(self, step: bool) -> dict:
        if step or self.seen is None:
            self.seen = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"jobArn": JOB_ARN, "jobName": self.created()["jobName"], "status": self.seen}

    def search_jobs(self, **request: Any) -> dict:
        self.calls.append(("search_jobs", request))
        return {"jobs": [{**self._status(step=True), "createdAt": datetime.now(UTC)}]}

    def get_job(self, jobArn: str, additionalAttributeNames: list[str] | None = None) -> dict:
        self.calls.append(
            ("get_job", {"jobArn": jobArn, "additionalAttributeNames": additionalAttributeNames})
        )
        job = self._status(step=False)  # what the last search saw
        job["instanceConfig"] = {"instanceType": "ml.m5.large", "instanceCount": 1}
        if job["status"] in hybrid_jobs.TERMINAL_STATUSES:
            job["billableDuration"] = 60_000
        if self.failure_reason:
            job["failureReason"] = self.failure_reason
        if additionalAttributeNames and job["status"] == "QUEUED":
            job["queueInfo"] = {"queue": "JOBS_QUEUE", "position": "2"}
        return job

    def cancel_job(self, jobArn: str) -> dict:
        self.calls.append(("cancel_job", {"jobArn": jobArn}))
        if self.statuses[0] in hybrid_jobs.TERMINAL_STATUSES:
            raise ClientError({"Error": {"Code": "ConflictException", "Message": "ended"}}, "CancelJob")
        self.statuses = ["CANCELLING", "CANCELLED"]
        return {"jobArn": jobArn, "cancellationStatus": "CANCELLING"}

    def get_paginator(self, operation: str) -> Any:
        """SearchQuantumTasks' paginator: the job ran no quantum task."""
        assert operation == "search_quantum_tasks"
        fake = self

        class Pages:
            def paginate(self, **request: Any) -> Iterator[dict]:
                fake.calls.append(("search_quantum_tasks", request))
                yield {"quantumTasks": []}

        return Pages()

    def tag_resource(self, resourceArn: str, tags: dict[str, str]) -> dict:
        self.calls.append(("tag_resource", {"resourceArn": resourceArn, "tags": tags}))
        return {}

    def created(self) -> dict:
        return next(request for name, request in self.calls if name == "create_job")

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class Dispatcher:
    """What Covalent's dispatcher answers the executor: cancel requested or not, job handle stored."""

    def __init__(self) -> None:
        self.cancel_requested = False
        self.job_handles: list[str] = []
        self.on_question: Callable[[], None] = lambda: None

    def attach(self, executor: BraketExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
        async def get_cancel_requested() -> bool:
            self.on_question()
            return self.cancel_requested

        async def set_job_handle(handle: str) -> bool:
            self.job_handles.append(handle)
            return True

        executor._send_queue = None  # as after Covalent's _init_runtime
        monkeypatch.setattr(executor, "get_cancel_requested", get_cancel_requested)
        monkeypatch.setattr(executor, "set_job_handle", set_job_handle)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto's S3, CloudWatch Logs and STS, with the bucket made; BraketExecutor's clients are these."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(f"{EXECUTOR_MODULE}._configured_options", dict)
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        yield {"session": session, "s3": s3, "logs": session.client("logs")}


class FakeAws:
    """The AWS session electrons share: the scripted Braket (in any region), moto's S3 and logs."""

    account_id = ACCOUNT
    region = REGION

    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients
        self.regions: list[str | None] = []  # the regions Braket clients were asked for

    def client(self, service: str, region: str | None = None) -> Any:
        if service == "braket":
            self.regions.append(region)
        return self.clients[service]


def _use(monkeypatch: pytest.MonkeyPatch, aws: dict[str, Any], fake: FakeBraket) -> None:
    session = FakeAws({"braket": fake, "s3": aws["s3"], "logs": aws["logs"]})
    monkeypatch.setattr(runtime.current(), "session", lambda settings: session)


def _s3_object(s3: Any, uri: str) -> bytes:
    parsed = urlparse(uri)
    return s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()


def _play(
    s3: Any, *, stdout: str = "", stderr: str = "", error: dict | None = None
) -> Callable[[dict], None]:
    """A job that does what the runner does: load the task, run it, write its outputs to S3."""

    def job(request: dict) -> None:
        hp = request["hyperParameters"]
        assert hp[runner.BUCKET_OWNER_KEY] == ACCOUNT
        task = _s3_object(s3, hp[runner.TASK_URI_KEY])
        assert hp[runner.TASK_SHA256_KEY] == hashlib.sha256(task).hexdigest()
        source = _s3_object(s3, request["algorithmSpecification"]["scriptModeConfig"]["s3Uri"])
        assert hp[script_mode.SOURCE_SHA256_KEY] == hashlib.sha256(source).hexdigest()
        fn, args, kwargs = cloudpickle.loads(task)
        parsed = urlparse(hp[runner.OUTPUT_URI_KEY])
        files = {runner.STDOUT_FILE: stdout.encode(), runner.STDERR_FILE: stderr.encode()}
        if error is None:
            files[runner.RESULT_FILE] = cloudpickle.dumps(fn(*args, **kwargs))
        else:
            files[runner.ERROR_FILE] = json.dumps(error).encode()
        for name, body in files.items():
            s3.put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/") + name, Body=body)

    return job


def _keys(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def _task_keys(s3: Any) -> list[str]:
    return [key for key in _keys(s3) if not key.startswith(f"{s3_layout.KEY_ROOT}/runner/")]


def _run(executor: BraketExecutor, fn: Callable = lambda x, y: x + y, args: tuple = (2,), **kw: Any) -> Any:
    return asyncio.run(executor.run(fn, list(args), kw or {"y": 3}, dict(METADATA)))


# --- settings -------------------------------------------------------------------------------------


def test_a_bad_setting_fails_in_the_constructor_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{EXECUTOR_MODULE}._configured_options", dict)
    with pytest.raises(ExecutorConfigError, match="storage"):
        BraketExecutor(**OPTIONS, storage=0)


def test_settings_come_from_covalent_conf_with_keyword_arguments_winning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = {**OPTIONS, "classical_device": "ml.m5.xlarge", "storage": 50, "profile": ""}
    configured = {"executors.braket": conf}
    monkeypatch.setattr(f"{EXECUTOR_MODULE}.get_config", lambda key: configured.get(key, {}))
    executor = BraketExecutor(storage=60, profile=None)
    assert (executor.classical_device, executor.storage, executor.profile) == ("ml.m5.xlarge", 60, "")
    assert executor.time_limit == 300  # Covalent's own attribute carries the job's time limit


def test_an_empty_keyword_argument_leaves_the_setting_to_covalent_conf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured = {"executors.braket": OPTIONS}
    monkeypatch.setattr(f"{EXECUTOR_MODULE}.get_config", lambda key: configured.get(key, {}))
    executor = BraketExecutor(region="", s3_bucket_name=" ")
    assert (executor.region, executor.s3_bucket_name) == (REGION, BUCKET)


def test_every_key_of_the_0_3_plugin_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{EXECUTOR_MODULE}._configured_options", dict)
    old = {
        "credentials": "",
        "profile": "",
        "s3_bucket_name": BUCKET,
        "ecr_repo_name": "amazon-braket-covalent-job-images",
        "cache_dir": "/tmp/covalent",
        "poll_freq": 30,
        "braket_job_execution_role_name": "CovalentBraketJobsExecutionRole",
        "quantum_device": "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
        "classical_device": "ml.m5.large",
        "storage": 30,
        "time_limit": 300,
    }
    executor = BraketExecutor(**old)
    assert executor.settings().braket_job_execution_role_name == "CovalentBraketJobsExecutionRole"


def test_the_executor_travels_as_json_and_comes_back_with_the_same_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(f"{EXECUTOR_MODULE}._configured_options", dict)
    executor = BraketExecutor(**OPTIONS, tags={"team": "q"}, pip_packages=["numpy"])
    sent = json.loads(json.dumps(executor.to_dict()))
    assert sent["short_name"] == "braket"
    # Covalent's dispatcher builds the executor from covalent.conf, then replaces its __dict__.
    received = BraketExecutor(**OPTIONS).from_dict(sent)
    assert received.settings() == executor.settings()


def test_plugin_defaults_are_valid_settings_covalent_can_write_to_its_toml_file() -> None:
    import toml

    defaults = toml.loads(toml.dumps({"executors": {"braket": entry_point._EXECUTOR_PLUGIN_DEFAULTS}}))
    assert BraketExecutorSettings.from_options(**defaults["executors"]["braket"]) == BraketExecutorSettings()


def test_covalent_finds_the_plugin_by_its_short_name() -> None:
    from covalent.executor import _executor_manager

    assert _executor_manager.executor_plugins_map["braket"] is BraketExecutor
    assert entry_point.EXECUTOR_PLUGIN_NAME == "BraketExecutor"


@pytest.mark.parametrize(
    "first_import",
    ["import covalent", "import covalent_braket_plugin.braket", "from covalent import executor"],
)
def test_covalent_knows_the_plugin_whichever_is_imported_first(first_import: str) -> None:
    code = (
        f"{first_import}\n"
        "import covalent as ct\n"
        "from covalent.executor import BraketExecutor, _executor_manager\n"
        "assert _executor_manager.executor_plugins_map['braket'] is BraketExecutor\n"
        "assert ct.executor.BraketExecutor is BraketExecutor\n"
        "print(BraketExecutor.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "covalent_braket_plugin.braket"
    # No warning that the plugin is ill-defined, whichever came first (covalent logs to stdout).
    assert "well-defined plugin class" not in done.stdout + done.stderr


# --- run ------------------------------------------------------------------------------------------


def test_run_returns_the_result_and_the_remote_output(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(
        ["QUEUED", "QUEUED", "RUNNING", "COMPLETED"], _play(aws["s3"], stdout="hello\n", stderr="careful\n")
    )
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS, tags={"team": "q"})
    dispatcher = Dispatcher()
    dispatcher.attach(executor, monkeypatch)

    assert _run(executor) == 5
    # the cost line ends the output; the instance type has no price in the packaged table
    cost = "cost: unknown (known part $0.00) = job unknown (ml.m5.large, 1 min)\n"
    assert executor.task_stdout.getvalue() == "hello\n" + cost
    assert executor.task_stderr.getvalue() == "careful\n"
    assert dispatcher.job_handles == [JOB_ARN]
    # One search per status check; GetJob only to ask a job still QUEUED for its place in the queue;
    # once it ended, GetJob, its tasks and a tag for its bill.
    names = ["create_job", "search_jobs", "search_jobs", "get_job", "search_jobs", "search_jobs"]
    # Then the job's tasks once more, for the summary per device that ends the output.
    assert fake.names() == [*names, "get_job", "search_quantum_tasks", "tag_resource", "search_quantum_tasks"]
    assert fake.calls[-2][1]["tags"] == {"covalent:cost": "v1 job=ml.m5.large*1*60000"}
    assert fake.calls[3][1]["additionalAttributeNames"] == ["QueueInfo"]


def test_the_job_request_carries_the_task_the_image_and_the_settings(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["COMPLETED"], _play(aws["s3"]))
    _use(monkeypatch, aws, fake)
    _run(BraketExecutor(**OPTIONS, tags={"team": "q"}, time_limit=600, storage=40))

    request = fake.created()
    assert request["jobName"] == request["clientToken"]
    assert request["jobName"].startswith("covalent-1d0e6f8c-n2-a")
    assert request["algorithmSpecification"]["containerImage"] == {"uri": IMAGE}
    script = request["algorithmSpecification"]["scriptModeConfig"]
    assert _s3_object(aws["s3"], script["s3Uri"]) == transfer.runner_archive()[1]
    assert request["deviceConfig"] == {"device": "arn:aws:braket:::device/quantum-simulator/amazon/sv1"}
    assert request["instanceConfig"]["volumeSizeInGb"] == 40
    assert request["stoppingCondition"] == {"maxRuntimeInSeconds": 600}
    assert request["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonBraketJobsExecutionRole"
    assert request["tags"] == {
        "team": "q",
        hybrid_jobs.TAG_DISPATCH_ID: METADATA["dispatch_id"],
        hybrid_jobs.TAG_NODE_ID: "2",
    }
    output = request["hyperParameters"][runner.OUTPUT_URI_KEY]
    assert output.endswith("/") and output.startswith(f"s3://{BUCKET}/{s3_layout.KEY_ROOT}/")
    assert request["outputDataConfig"]["s3Path"].startswith(output.removesuffix("output/"))


def test_job_states_and_a_large_upload_are_reported_in_the_log(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["QUEUED", "QUEUED", "RUNNING", "COMPLETED"], _play(aws["s3"]))
    _use(monkeypatch, aws, fake)
    lines: list[str] = []
    monkeypatch.setattr(runtime.current(), "progress", Progress.quiet(lines.append))
    big = b"x" * LARGE_UPLOAD_BYTES

    assert _run(BraketExecutor(**OPTIONS), lambda data, y: len(data) + y, (big,)) == len(big) + 3
    name = fake.created()["jobName"]
    assert lines == [
        f"{name}: uploading the task...",
        f"{name}: uploading the task: done (8.4 MB)",
        f"Braket job {name}...",
        f"Braket job {name}: QUEUED",
        f"Braket job {name}: QUEUED, position 2 in JOBS_QUEUE",
        f"Braket job {name}: RUNNING",
        f"Braket job {name}: COMPLETED",
        f"Braket job {name}: done",
    ]


@pytest.mark.parametrize("size", [1, LARGE_UPLOAD_BYTES], ids=["small task", "large task"])
def test_a_missing_bucket_names_the_setting_and_how_to_make_it(
    monkeypatch: pytest.MonkeyPatch, aws: dict, size: int
) -> None:
    fake = FakeBraket(["COMPLETED"])
    _use(monkeypatch, aws, fake)
    missing = "amazon-braket-nobody-made-this"
    with pytest.raises(BucketNotFoundError) as raised:
        _run(BraketExecutor(**{**OPTIONS, "s3_bucket_name": missing}), lambda data: len(data), (b"x" * size,))
    message = str(raised.value)
    assert f"s3_bucket_name: there is no S3 bucket {missing!r}" in message
    assert f"covalent-braket setup --region {REGION} --bucket {missing}" in message
    assert "an existing amazon-braket-* bucket" in message
    assert "An error occurred" not in message
    assert fake.calls == []


def test_each_run_of_an_electron_is_a_new_job(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(["COMPLETED"], _play(aws["s3"]))
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)
    metadata = {**METADATA, "dispatch_id": "run-twice"}
    asyncio.run(executor.run(lambda: 1, [], {}, metadata))
    asyncio.run(executor.run(lambda: 1, [], {}, metadata))
    names = [request["jobName"] for name, request in fake.calls if name == "create_job"]
    assert names == [hybrid_jobs.job_name("run-twice", 2, 1), hybrid_jobs.job_name("run-twice", 2, 2)]


def test_the_task_objects_are_removed_after_collection(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(["COMPLETED"], _play(aws["s3"], stdout="x"))
    _use(monkeypatch, aws, fake)
    _run(BraketExecutor(**OPTIONS))
    assert _task_keys(aws["s3"]) == []


def test_cleanup_false_keeps_the_task_objects(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(["COMPLETED"], _play(aws["s3"], stdout="x"))
    _use(monkeypatch, aws, fake)
    _run(BraketExecutor(**OPTIONS, cleanup=False))
    names = sorted(key.rsplit("/", 1)[-1] for key in _task_keys(aws["s3"]))
    assert names == sorted(["task.pkl", runner.RESULT_FILE, runner.STDOUT_FILE, runner.STDERR_FILE])


def test_cancel_requests_are_asked_at_the_jobs_turns_on_the_watchers_clock(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["QUEUED", "QUEUED", "RUNNING", "COMPLETED"], _play(aws["s3"]))
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)
    dispatcher = Dispatcher()
    searched_before: list[int] = []  # how many searches had been made at each question
    dispatcher.on_question = lambda: searched_before.append(fake.names().count("search_jobs"))
    dispatcher.attach(executor, monkeypatch)
    _run(executor)
    # once before anything is uploaded, once before the task goes up, once before the runner (all
    # before the job, no search yet), then once after each search while the job is watched, none
    # after the search that saw it end: no timer of the electron's own
    searches = fake.names().count("search_jobs")
    assert searched_before == [0, 0, 0, *range(1, searches)]


# --- failures -------------------------------------------------------------------------------------


def test_a_raising_electron_gives_task_runtime_error_with_the_remote_traceback(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    report = {
        "type": "ValueError",
        "message": "bad input",
        "traceback": 'Traceback (most recent call last):\n  File "<electron>"\nValueError: bad input\n',
    }
    fake = FakeBraket(["RUNNING", "FAILED"], _play(aws["s3"], stdout="before\n", error=report))
    fake.failure_reason = "AlgorithmError: ValueError: bad input, exit code: 1"
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)

    with pytest.raises(TaskRuntimeError) as raised:
        _run(executor)
    message = str(raised.value)
    assert report["traceback"].strip() in message
    assert fake.failure_reason in message and JOB_ARN in message
    assert executor.task_stderr.getvalue().count(report["traceback"].strip()) == 1
    assert executor.task_stdout.getvalue().startswith("before\ncost: ")
    assert _task_keys(aws["s3"]) == []


def test_a_job_that_died_before_reporting_falls_back_to_its_cloudwatch_log(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["FAILED"])
    fake.failure_reason = "AlgorithmError: ModuleNotFoundError: No module named 'covalent', exit code: 1"
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)
    name = hybrid_jobs.job_name(METADATA["dispatch_id"], METADATA["node_id"], 1)
    logs = aws["logs"]
    now_ms = int(time.time() * 1000)
    logs.create_log_group(logGroupName="/aws/braket/jobs")
    for stream, lines in (
        ("algo-1", ["Traceback (most recent call last):", "ModuleNotFoundError: covalent"]),
    ):
        logs.create_log_stream(logGroupName="/aws/braket/jobs", logStreamName=f"{name}/{stream}")
        logs.put_log_events(
            logGroupName="/aws/braket/jobs",
            logStreamName=f"{name}/{stream}",
            logEvents=[{"timestamp": now_ms + i, "message": line} for i, line in enumerate(lines)],
        )

    with pytest.raises(TaskRuntimeError) as raised:
        _run(executor)
    assert "ModuleNotFoundError: covalent" in str(raised.value)
    assert fake.failure_reason in str(raised.value)


def test_a_traceback_the_runner_printed_to_stderr_is_not_repeated(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    traceback = "Traceback (most recent call last):\nKeyError: 'x'\n"
    error = {"type": "KeyError", "message": "'x'", "traceback": traceback}
    fake = FakeBraket(["FAILED"], _play(aws["s3"], stderr=traceback, error=error))
    fake.failure_reason = "AlgorithmError: KeyError: 'x', exit code: 1"
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)
    with pytest.raises(TaskRuntimeError):
        _run(executor)
    stderr = executor.task_stderr.getvalue()
    assert stderr.count("KeyError: 'x'\n") == 1
    assert stderr.endswith(f"ended FAILED: {fake.failure_reason}\n")


def test_a_job_that_failed_after_the_electron_returned_says_so(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["FAILED"], _play(aws["s3"]))
    fake.failure_reason = "InternalError: uploading the results failed"
    _use(monkeypatch, aws, fake)
    with pytest.raises(
        TaskRuntimeError, match="The electron returned, but its job did not complete"
    ) as raised:
        _run(BraketExecutor(**OPTIONS))
    assert fake.failure_reason in str(raised.value)


def test_a_completed_job_without_a_result_is_a_failure(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(["COMPLETED"])
    _use(monkeypatch, aws, fake)
    with pytest.raises(TaskRuntimeError, match="ended COMPLETED"):
        _run(BraketExecutor(**OPTIONS))


def test_a_job_cancelled_elsewhere_gives_task_cancelled_error(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["RUNNING", "CANCELLED"])
    _use(monkeypatch, aws, fake)
    with pytest.raises(TaskCancelledError):
        _run(BraketExecutor(**OPTIONS))
    assert _task_keys(aws["s3"]) == []


def test_an_image_that_cannot_be_built_fails_before_anything_is_uploaded(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["COMPLETED"])
    _use(monkeypatch, aws, fake)

    class MismatchedBuilder:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        async def ensure_image(self) -> str:
            raise PythonVersionMismatchError("the base image runs Python 3.9, the client 3.11")

    monkeypatch.setattr(f"{EXECUTOR_MODULE}.ImageBuilder", MismatchedBuilder)
    executor = BraketExecutor(**{**OPTIONS, "ecr_image_uri": "", "cleanup": False})
    with pytest.raises(PythonVersionMismatchError, match=r"3\.9"):
        _run(executor)
    assert fake.calls == [] and _keys(aws["s3"]) == []


# --- cancellation ---------------------------------------------------------------------------------


def test_cancel_requested_before_upload_touches_nothing(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(["COMPLETED"])
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)
    dispatcher = Dispatcher()
    dispatcher.cancel_requested = True
    dispatcher.attach(executor, monkeypatch)
    with pytest.raises(TaskCancelledError):
        _run(executor)
    assert fake.calls == [] and _keys(aws["s3"]) == []


def test_cancel_requested_while_the_image_builds_creates_no_job(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["COMPLETED"])
    _use(monkeypatch, aws, fake)
    dispatcher = Dispatcher()
    built: list[str] = []

    class SlowBuilder:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        async def ensure_image(self) -> str:
            dispatcher.cancel_requested = True
            await asyncio.sleep(0.2)
            built.append(IMAGE)
            return IMAGE

    monkeypatch.setattr(f"{EXECUTOR_MODULE}.ImageBuilder", SlowBuilder)
    executor = BraketExecutor(**{**OPTIONS, "ecr_image_uri": ""})
    dispatcher.attach(executor, monkeypatch)

    async def run_then_let_the_build_finish() -> None:
        with pytest.raises(TaskCancelledError, match="image"):
            await executor.run(lambda: 1, [], {}, dict(METADATA))
        await asyncio.sleep(0.3)

    asyncio.run(run_then_let_the_build_finish())
    assert fake.calls == []
    assert built == [IMAGE]  # the shared build went on for the electrons still waiting for it
    assert _task_keys(aws["s3"]) == []


def test_cancel_requested_while_running_cancels_the_job(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(["QUEUED", "RUNNING", "RUNNING", "RUNNING"])
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)
    dispatcher = Dispatcher()

    def cancel_once_running() -> None:
        dispatcher.cancel_requested = fake.names().count("search_jobs") >= 2

    dispatcher.on_question = cancel_once_running
    dispatcher.attach(executor, monkeypatch)
    with pytest.raises(TaskCancelledError):
        _run(executor)
    assert fake.names().count("cancel_job") == 1
    # waited for Braket to report it CANCELLED, then looked for its tasks still waiting (after the
    # cancel and after the end) before its bill
    ended = fake.names().index("get_job")
    assert fake.names()[ended - 1 : ended + 1] == ["search_jobs", "get_job"]
    assert fake.names()[ended + 1 :] == [
        "search_quantum_tasks", "search_quantum_tasks", "tag_resource", "search_quantum_tasks"
    ]
    assert _task_keys(aws["s3"]) == []


def test_a_stop_that_failed_is_logged_and_tried_again_at_the_next_tick(
    monkeypatch: pytest.MonkeyPatch, aws: dict, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeBraket(["RUNNING", "RUNNING", "RUNNING", "RUNNING"])
    _use(monkeypatch, aws, fake)
    cancel_job = fake.cancel_job
    error = {"Error": {"Code": "InternalServiceException", "Message": "try later"}}
    refused = ClientError(error, "CancelJob")

    def cancel_once_refused(jobArn: str) -> dict:
        if fake.names().count("cancel_job") == 0:
            fake.calls.append(("cancel_job", {"jobArn": jobArn}))
            raise refused
        return cancel_job(jobArn)

    monkeypatch.setattr(fake, "cancel_job", cancel_once_refused)
    executor = BraketExecutor(**OPTIONS)
    dispatcher = Dispatcher()

    def cancel_once_created() -> None:
        dispatcher.cancel_requested = "create_job" in fake.names()

    dispatcher.on_question = cancel_once_created
    dispatcher.attach(executor, monkeypatch)
    with caplog.at_level("ERROR"), pytest.raises(TaskCancelledError):
        _run(executor)
    assert fake.names().count("cancel_job") == 2
    assert f"Could not stop Braket job {JOB_ARN} (Covalent asked to cancel the electron)" in caplog.text
    assert f"cancel it with `covalent-braket jobs cancel {JOB_ARN}`" in caplog.text


def test_an_error_while_waiting_leaves_the_job_running_and_its_objects_in_place(
    monkeypatch: pytest.MonkeyPatch, aws: dict
) -> None:
    fake = FakeBraket(["RUNNING"])
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)
    dispatcher = Dispatcher()

    def break_after_submission() -> None:
        if fake.names().count("search_jobs") >= 1:
            raise RuntimeError("dispatcher went away")

    dispatcher.on_question = break_after_submission
    dispatcher.attach(executor, monkeypatch)
    with pytest.raises(RuntimeError, match="went away"):
        _run(executor)
    assert "cancel_job" not in fake.names()
    assert any(key.endswith("/task.pkl") for key in _task_keys(aws["s3"]))  # the job still needs it


def test_a_wait_braket_refuses_names_the_job_left_running(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(["RUNNING"])
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "SearchJobs")
    monkeypatch.setattr(fake, "search_jobs", lambda **_: (_ for _ in ()).throw(denied))
    _use(monkeypatch, aws, fake)
    with pytest.raises(watch.WatchAbandoned, match="left running") as raised:
        _run(BraketExecutor(**OPTIONS))
    assert JOB_ARN in str(raised.value)
    assert "cancel_job" not in fake.names()
    assert any(key.endswith("/task.pkl") for key in _task_keys(aws["s3"]))


def test_a_closing_server_cancels_the_job(monkeypatch: pytest.MonkeyPatch, aws: dict) -> None:
    fake = FakeBraket(["RUNNING"])
    _use(monkeypatch, aws, fake)
    executor = BraketExecutor(**OPTIONS)

    async def close_while_running() -> None:
        electron = asyncio.ensure_future(executor.run(lambda: 1, [], {}, dict(METADATA)))
        while "search_jobs" not in fake.names():
            await asyncio.sleep(0.01)
        electron.cancel()  # what the event loop's shutdown does to a running electron
        with pytest.raises(asyncio.CancelledError):
            await electron

    asyncio.run(close_while_running())
    assert fake.names().count("cancel_job") == 1


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["RUNNING"], True),
        (["QUEUED"], True),
        (["CANCELLED"], True),
        (["COMPLETED"], False),
        (["FAILED"], False),
    ],
)
def test_cancel_is_true_once_braket_cancels_the_job(
    monkeypatch: pytest.MonkeyPatch, statuses: list[str], expected: bool
) -> None:
    fake = FakeBraket(statuses)
    fake.calls.append(("create_job", {"jobName": "covalent-x"}))
    session = FakeAws({"braket": fake})
    monkeypatch.setattr(f"{EXECUTOR_MODULE}._configured_options", dict)
    monkeypatch.setattr(runtime.current(), "session", lambda settings: session)
    executor = BraketExecutor(**OPTIONS)
    west = JOB_ARN.replace(REGION, "us-west-2")
    assert asyncio.run(executor.cancel({"dispatch_id": "d", "node_id": 1}, west)) is expected
    assert session.regions == ["us-west-2"]  # the job's own region, whatever the settings say


def test_cancel_without_a_job_handle_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{EXECUTOR_MODULE}._configured_options", dict)
    executor = BraketExecutor(**OPTIONS)
    assert asyncio.run(executor.cancel({"dispatch_id": "d", "node_id": 1}, None)) is False
