"""JobManager with the process runner: a job's life from QUEUED to its end, against a LocalStack's S3
and CloudWatch Logs, with an in-memory JobStore standing in for the Braket backend."""

from __future__ import annotations

import copy
import io
import json
import os
import tarfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.jobs.contract import results_key
from covalent_braket_plugin.local.jobs.logs import LOG_GROUP
from covalent_braket_plugin.local.jobs.manager import JOB_EVENT_TYPES, JobManager
from covalent_braket_plugin.local.services import LocalServices
from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
BUCKET = "amazon-braket-us-east-1-123456789012"
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
WAIT_GUARD_S = 180.0
"""Upper bound on waiting for a job to end, so a broken job fails the test instead of hanging it."""

JOB_CODE = textwrap.dedent(
    """
    import json
    import os
    import time
    from pathlib import Path


    def results_dir():
        return Path(os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"])


    def succeed():
        print("hello from the job")
        print("second line")
        (results_dir() / "results.json").write_text(json.dumps({"answer": 42}))


    def fail():
        print("about to fail")
        raise ValueError("bad input 7")


    def exit_3():
        raise SystemExit(3)


    def run_forever():
        (results_dir() / "pid").write_text(str(os.getpid()))
        print("running", flush=True)
        while True:
            time.sleep(0.2)


    def use_inputs(alpha: float, label):
        data = Path(os.environ["AMZN_BRAKET_INPUT_DIR"], "training", "numbers.txt").read_text()
        checkpoint = Path(os.environ["AMZN_BRAKET_CHECKPOINT_DIR"], "state.txt")
        previous = checkpoint.read_text() if checkpoint.exists() else ""
        checkpoint.write_text(previous + "+")
        (results_dir() / "results.json").write_text(json.dumps({
            "data": data, "alpha": alpha * 2, "label": label, "previous": previous,
            "hp": json.loads(Path(os.environ["AMZN_BRAKET_HP_FILE"]).read_text()),
            "token": os.environ["AMZN_BRAKET_JOB_TOKEN"], "device": os.environ["AMZN_BRAKET_DEVICE_ARN"],
        }))
    """
)
MODULE_SCRIPT = 'import json, os\nprint("ran as a module", __name__)\n'


class MemoryJobStore:
    """The JobStore protocol over a dict, the way the Braket backend keeps records."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self._changed = threading.Condition()

    def add(self, job: dict[str, Any]) -> None:
        with self._changed:
            self.jobs[job["jobArn"]] = copy.deepcopy(job)

    def get_job(self, job_arn: str) -> dict[str, Any]:
        with self._changed:
            return copy.deepcopy(self.jobs[job_arn])

    def update_job(self, job_arn: str, **fields: Any) -> None:
        with self._changed:
            self.jobs[job_arn].update(fields)
            self._changed.notify_all()

    def add_job_event(self, job_arn: str, event_type: str, message: str) -> None:
        with self._changed:
            event = {"eventType": event_type, "timeOfEvent": datetime.now(UTC), "message": message}
            self.jobs[job_arn].setdefault("events", []).append(event)
            self._changed.notify_all()

    def wait_for(self, job_arn: str, *statuses: str) -> dict[str, Any]:
        with self._changed:
            done = self._changed.wait_for(lambda: self.jobs[job_arn]["status"] in statuses, WAIT_GUARD_S)
            assert done, f"job never reached {statuses}: {self.jobs[job_arn]}"
            return copy.deepcopy(self.jobs[job_arn])


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(port=0, runner="process") as running:
        yield running


@pytest.fixture(scope="module")
def services(stack: LocalStack) -> LocalServices:
    services = LocalServices(stack.endpoint_url, stack.credentials)
    services.client("s3").create_bucket(Bucket=BUCKET)
    return services


@pytest.fixture
def store() -> MemoryJobStore:
    return MemoryJobStore()


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def manager(
    services: LocalServices, faults: Faults, store: MemoryJobStore, tmp_path: Path
) -> Iterator[JobManager]:
    jobs = JobManager(
        services=services, faults=faults, runner="process", work_dir=tmp_path / "jobs", registry_address=None
    )
    jobs.bind_store(store)
    yield jobs
    jobs.shutdown()


def upload_source(
    services: LocalServices, name: str, files: dict[str, str], compression: str = "GZIP"
) -> str:
    key = f"jobs/{name}/script/" + ("source.tar.gz" if compression == "GZIP" else next(iter(files)))
    if compression == "GZIP":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(f"source_dir/{path}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        body = buffer.getvalue()
    else:
        body = next(iter(files.values())).encode()
    services.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def make_job(
    services: LocalServices, entry_point: str, files: dict[str, str] | None = None, compression: str = "GZIP",
    **fields: Any,
) -> dict[str, Any]:
    name = f"job-{uuid.uuid4().hex[:12]}"
    source = upload_source(services, name, files or {"job_code.py": JOB_CODE}, compression)
    job = {
        "jobArn": f"arn:aws:braket:us-east-1:123456789012:job/{uuid.uuid4()}",
        "jobName": name,
        "status": "QUEUED",
        "roleArn": "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole",
        "algorithmSpecification": {
            "scriptModeConfig": {"entryPoint": entry_point, "s3Uri": source, "compressionType": compression}
        },
        "outputDataConfig": {"s3Path": f"s3://{BUCKET}/jobs/{name}/data"},
        "checkpointConfig": {
            "s3Uri": f"s3://{BUCKET}/jobs/{name}/checkpoints",
            "localPath": "/opt/jobs/checkpoints",
        },
        "instanceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1, "volumeSizeInGb": 30},
        "deviceConfig": {"device": SV1},
        "stoppingCondition": {"maxRuntimeInSeconds": 600},
        "createdAt": datetime.now(UTC),
        "events": [],
    }
    job.update(fields)
    return job


def submit(store: MemoryJobStore, manager: JobManager, job: dict[str, Any], token: str = "token-1") -> None:
    store.add(job)
    manager.submit(job, token)


def read_results(services: LocalServices, job: dict[str, Any]) -> dict[str, bytes]:
    bucket, key = results_key(job)
    body = services.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers() if member.isfile()}


def log_messages(services: LocalServices, job: dict[str, Any]) -> list[str]:
    logs = services.client("logs")
    stream = f"{job['jobName']}/{job['jobArn'].rsplit('/', 1)[1]}"
    events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True)["events"]
    return [event["message"] for event in events]


def event_types(job: dict[str, Any]) -> list[str]:
    return [event["eventType"] for event in job["events"]]


def process_is_gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether ``pid`` ends (or is a zombie) within ``within_s``: a killed process takes a moment to
    exit on a loaded machine."""
    status = Path(f"/proc/{pid}/status")
    deadline = time.monotonic() + within_s
    while True:
        try:
            state = next(line for line in status.read_text().splitlines() if line.startswith("State:"))
        except (FileNotFoundError, ProcessLookupError):
            return True
        if "zombie" in state:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def wait_for_file(path: Path) -> str:
    deadline = time.monotonic() + WAIT_GUARD_S
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def test_completed_job_publishes_results_logs_and_events(services, store, manager):
    job = make_job(services, "source_dir.job_code:succeed")
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "COMPLETED", done.get("failureReason")
    assert done["startedAt"] <= done["endedAt"]
    assert isinstance(done["billableDuration"], int) and done["billableDuration"] >= 0
    assert "failureReason" not in done
    assert json.loads(read_results(services, job)["results.json"]) == {"answer": 42}
    messages = log_messages(services, job)
    assert "hello from the job" in messages and "second line" in messages
    assert messages.index("hello from the job") < messages.index("second line")
    types = event_types(done)
    assert set(types) <= JOB_EVENT_TYPES
    assert types[0] == "STARTING_INSTANCE" and types[-1] == "COMPLETED"
    assert types.index("STARTING_INSTANCE") < types.index("RUNNING") < types.index("UPLOADING_RESULTS")
    assert manager.runner_name == "process"


def test_failing_job_reports_the_exception_as_failure_reason(services, store, manager):
    job = make_job(services, "source_dir.job_code:fail")
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "FAILED"
    assert "ValueError: bad input 7" in done["failureReason"]
    assert "exit code: 1" in done["failureReason"]
    assert event_types(done)[-1] == "FAILED"
    assert "about to fail" in log_messages(services, job)
    assert any("Traceback" in line for line in log_messages(services, job))


def test_exit_code_without_exception_fails_the_job_as_the_toolkit_reports_it(services, store, manager):
    job = make_job(services, "source_dir.job_code:exit_3")
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "FAILED"
    assert "ExecuteUserScriptError:\nExitCode 3\n" in done["failureReason"]
    assert done["failureReason"].endswith("exit code: 1")  # the toolkit's own exit code


def test_inputs_hyperparameters_and_checkpoints_reach_the_job(services, store, manager):
    job = make_job(
        services, "source_dir.job_code:use_inputs",
        hyperParameters={"alpha": "1.5", "label": "x"},
    )
    s3 = services.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"data/{job['jobName']}/numbers.txt", Body=b"1 2 3")
    s3.put_object(Bucket=BUCKET, Key=f"jobs/{job['jobName']}/checkpoints/state.txt", Body=b"*")
    job["inputDataConfig"] = [
        {"channelName": "training",
         "dataSource": {"s3DataSource": {"s3Uri": f"s3://{BUCKET}/data/{job['jobName']}"}}},
    ]
    submit(store, manager, job, token="the-token")

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "COMPLETED", done.get("failureReason")
    results = json.loads(read_results(services, job)["results.json"])
    assert results == {
        "data": "1 2 3", "alpha": 3.0, "label": "x", "previous": "*",
        "hp": {"alpha": "1.5", "label": "x"}, "token": "the-token", "device": SV1,
    }
    checkpoint = s3.get_object(Bucket=BUCKET, Key=f"jobs/{job['jobName']}/checkpoints/state.txt")
    assert checkpoint["Body"].read() == b"*+"


def test_missing_input_channel_fails_before_running(services, store, manager):
    job = make_job(services, "source_dir.job_code:succeed")
    job["inputDataConfig"] = [
        {"channelName": "training", "dataSource": {"s3DataSource": {"s3Uri": f"s3://{BUCKET}/nothing/here"}}},
    ]
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "FAILED"
    assert "training" in done["failureReason"]
    assert "RUNNING" not in event_types(done)


def test_single_file_module_entry_point_runs_as_main(services, store, manager):
    job = make_job(services, "job_module", files={"job_module.py": MODULE_SCRIPT}, compression="NONE")
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "COMPLETED", done.get("failureReason")
    assert "ran as a module __main__" in log_messages(services, job)


def test_cancel_stops_the_running_process(services, store, manager, tmp_path):
    job = make_job(services, "source_dir.job_code:run_forever")
    submit(store, manager, job)
    store.wait_for(job["jobArn"], "RUNNING")
    pid_file = tmp_path / "jobs" / f"{job['jobName']}-{job['jobArn'].rsplit('/', 1)[1]}" / "model" / "pid"
    pid = int(wait_for_file(pid_file))

    store.update_job(job["jobArn"], status="CANCELLING")
    manager.cancel(job["jobArn"])
    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "CANCELLED"
    assert event_types(done)[-1] == "CANCELLED"
    assert process_is_gone(pid)


def test_cancel_while_held_in_queue_never_starts(services, store, manager, faults):
    faults.update(hold_jobs_s=3600)
    job = make_job(services, "source_dir.job_code:succeed")
    submit(store, manager, job)

    store.update_job(job["jobArn"], status="CANCELLING")
    manager.cancel(job["jobArn"])
    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "CANCELLED"
    assert "startedAt" not in done
    assert "RUNNING" not in event_types(done)


def test_time_limit_stops_the_job(services, store, manager):
    job = make_job(services, "source_dir.job_code:run_forever", stoppingCondition={"maxRuntimeInSeconds": 2})
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "FAILED"
    assert "time limit" in done["failureReason"] and "maxRuntimeInSeconds" in done["failureReason"]
    assert "MAX_RUNTIME_EXCEEDED" in event_types(done)


def test_process_runner_refuses_a_job_without_script_mode(services, store, manager):
    job = make_job(services, "unused")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"
    job["algorithmSpecification"] = {"containerImage": {"uri": image}}
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "FAILED"
    assert "scriptModeConfig" in done["failureReason"]


def test_shutdown_stops_every_running_job(services, store, faults, tmp_path):
    jobs = JobManager(services=services, faults=faults, runner="process", work_dir=tmp_path / "jobs",
                      registry_address=None)
    jobs.bind_store(store)
    job = make_job(services, "source_dir.job_code:run_forever")
    submit(store, jobs, job)
    store.wait_for(job["jobArn"], "RUNNING")
    pid_file = tmp_path / "jobs" / f"{job['jobName']}-{job['jobArn'].rsplit('/', 1)[1]}" / "model" / "pid"
    pid = int(wait_for_file(pid_file))

    jobs.shutdown()

    assert process_is_gone(pid)
    assert store.get_job(job["jobArn"])["status"] == "CANCELLED"
    with pytest.raises(RuntimeError):
        jobs.submit(make_job(services, "source_dir.job_code:succeed"), "token")


def test_unknown_runner_is_rejected(services, faults, tmp_path):
    with pytest.raises(ValueError, match="runner"):
        JobManager(
            services=services, faults=faults, runner="kubernetes", work_dir=tmp_path, registry_address=None
        )


def test_environment_does_not_leak_host_credentials(monkeypatch):
    from covalent_braket_plugin.local.jobs.process_runner import child_environment

    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "secret")
    env = child_environment({"AWS_ACCESS_KEY_ID": "testing"})
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["PATH"] == os.environ["PATH"]


def test_results_that_cannot_be_uploaded_fail_the_job(services, store, manager):
    job = make_job(services, "source_dir.job_code:succeed")
    job["outputDataConfig"] = {"s3Path": "s3://amazon-braket-no-such-bucket/jobs/out"}
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "FAILED"
    assert "unable to upload" in done["failureReason"]


def test_a_failing_program_keeps_its_reason_when_the_upload_fails_too(services, store, manager):
    job = make_job(services, "source_dir.job_code:fail")
    job["outputDataConfig"] = {"s3Path": "s3://amazon-braket-no-such-bucket/jobs/out"}
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "FAILED"
    assert "ValueError: bad input 7" in done["failureReason"]


def test_held_job_starts_only_after_the_hold(services, store, manager, faults):
    faults.update(hold_jobs_s=1.0)
    job = make_job(services, "source_dir.job_code:succeed")
    submitted_at = datetime.now(UTC)
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "COMPLETED", done.get("failureReason")
    assert (done["startedAt"] - submitted_at).total_seconds() >= 1.0


def test_processes_left_behind_by_the_program_end_with_the_job(services, store, manager, tmp_path):
    code = JOB_CODE + textwrap.dedent(
        """
        def leave_a_child():
            import subprocess, sys
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            (results_dir() / "pid").write_text(str(child.pid))
            print("left a child behind")
        """
    )
    job = make_job(services, "source_dir.job_code:leave_a_child", files={"job_code.py": code})
    submit(store, manager, job)

    done = store.wait_for(job["jobArn"], *TERMINAL)

    assert done["status"] == "COMPLETED", done.get("failureReason")
    pid_file = tmp_path / "jobs" / f"{job['jobName']}-{job['jobArn'].rsplit('/', 1)[1]}" / "model" / "pid"
    assert process_is_gone(int(pid_file.read_text()))
    assert "left a child behind" in log_messages(services, job)
