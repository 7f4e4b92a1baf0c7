"""Hybrid Jobs through the official Braket SDK, over HTTP, against a LocalStack whose jobs run as
processes: results, logs, failures, cancel and the time limit, as a user of Amazon Braket sees them."""

from __future__ import annotations

import os
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from braket.aws import AwsQuantumJob
from braket.jobs.config import StoppingCondition

from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
WAIT_GUARD_S = 180.0
"""Upper bound on waiting for a job, so a broken job fails the test instead of hanging it."""
JOB_SCRIPT = textwrap.dedent(
    """
    import os
    import time
    from pathlib import Path

    from braket.aws import AwsDevice
    from braket.circuits import Circuit
    from braket.jobs import get_results_dir, save_job_result


    def bell():
        print("job says hello")
        device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])
        counts = device.run(Circuit().h(0).cnot(0, 1), shots=20).result().measurement_counts
        print("counts", dict(counts))
        save_job_result({"counts": dict(counts), "greeting": "hello"})


    def fail():
        print("going to fail")
        raise ValueError("the angle is out of range")


    def report_start():
        # This code runs in a child of the job's program: the parent's command line is what the
        # training toolkit (here the process runner standing in for it) started the program with.
        command = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode().split("\\0")[:-1]
        names = ("SM_CURRENT_HOST", "SM_HOSTS", "SM_HP_DEPTH", "SM_USER_ENTRY_POINT")
        save_job_result({"command": command, "toolkit": {name: os.environ.get(name) for name in names}})


    def run_forever():
        Path(get_results_dir(), "pid").write_text(str(os.getpid()))
        print("running until stopped", flush=True)
        while True:
            time.sleep(0.2)
    """
)


@pytest.fixture(scope="module")
def source_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("source") / "algorithm.py"
    path.write_text(JOB_SCRIPT)
    return path


def create_job(source_file: Path, role_arn: str, function: str, **kwargs: Any) -> AwsQuantumJob:
    return AwsQuantumJob.create(
        device=SV1,
        source_module=str(source_file),
        entry_point=f"algorithm:{function}",
        job_name=f"sdk-{function.replace('_', '-')}-{uuid.uuid4().hex[:8]}",
        role_arn=role_arn,
        **kwargs,
    )


def wait_for_state(job: AwsQuantumJob, *states: str) -> str:
    deadline = time.monotonic() + WAIT_GUARD_S
    while (state := job.state()) not in states:
        assert time.monotonic() < deadline, f"{job.arn} stayed {state}, never reached {states}"
        time.sleep(0.2)
    return state


def wait_for_file(path: Path) -> str:
    deadline = time.monotonic() + WAIT_GUARD_S
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def work_dir(stack: LocalStack, job: AwsQuantumJob) -> Path:
    return stack.state_dir / "jobs" / f"{job.name}-{job.arn.rsplit('/', 1)[1]}"


def process_is_gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "zombie" in next(line for line in status.splitlines() if line.startswith("State:"))


def processes_working_in(directory: Path) -> list[int]:
    """Live processes whose working dir or command line lies in ``directory``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or proc.name == str(os.getpid()):
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile, or not ours to inspect
        in_directory = cwd.startswith(str(directory)) or str(directory) in cmdline
        if in_directory and not process_is_gone(int(proc.name)):
            found.append(int(proc.name))
    return found


def assert_in_order(output: str, lines: list[str]) -> None:
    position = 0
    for line in lines:
        position = output.find(line, position)
        assert position >= 0, f"{line!r} missing, or out of order, in:\n{output}"
        position += len(line)


def test_job_completes_with_its_result_logs_and_tasks(env, role_arn, source_file, capsys, in_tmp_dir):
    job = create_job(source_file, role_arn, "bell", wait_until_complete=True)

    assert job.state() == "COMPLETED", job.metadata().get("failureReason")
    result = job.result()
    assert result["greeting"] == "hello"
    assert set(result["counts"]) <= {"00", "11"} and sum(result["counts"].values()) == 20
    capsys.readouterr()
    job.logs(poll_interval_seconds=0)
    output = capsys.readouterr().out
    assert "job says hello" in output and "counts" in output
    # The lines of Braket's job container, in its order, as the SDK's own integration tests expect them.
    expected = [
        '"user_entry_point": "braket_container.py"',
        "Invoking script with the following command:",
        "braket_container.py",
        "Running Code As Process",
        "job says hello",
        "Code Run Finished",
        "sagemaker-training-toolkit INFO     Reporting training SUCCESS",
    ]
    assert_in_order(output, expected)
    tasks = job.get_tasks()
    assert len(tasks) == 1 and tasks[0].state() == "COMPLETED"
    metadata = job.metadata()
    assert metadata["billableDuration"] >= 0
    assert [event["eventType"] for event in metadata["events"]][-1] == "COMPLETED"


def test_the_program_is_started_as_the_training_toolkit_starts_it(env, role_arn, source_file, in_tmp_dir):
    job = create_job(source_file, role_arn, "report_start", hyperparameters={"depth": 2, "name": "bell"},
                     wait_until_complete=True)

    assert job.state() == "COMPLETED", job.metadata().get("failureReason")
    result = job.result()
    command = result["command"]
    assert command[command.index("--") + 1:] == ["braket_container.py", "--depth", "2", "--name", "bell"]
    assert result["toolkit"] == {"SM_CURRENT_HOST": "algo-1", "SM_HOSTS": '["algo-1"]', "SM_HP_DEPTH": "2",
                                 "SM_USER_ENTRY_POINT": "braket_container.py"}


def test_failing_script_reports_the_exception(env, role_arn, source_file, capsys):
    job = create_job(source_file, role_arn, "fail")

    assert wait_for_state(job, *TERMINAL) == "FAILED"
    assert "ValueError: the angle is out of range" in job.metadata()["failureReason"]
    capsys.readouterr()
    job.logs(poll_interval_seconds=0)
    output = capsys.readouterr().out
    expected = ["Running Code As Process", "ValueError: the angle is out of range", "Code Run Finished"]
    assert_in_order(output, expected)
    assert "sagemaker-training-toolkit ERROR    Reporting training FAILURE" in output
    assert "Reporting training SUCCESS" not in output


def test_failed_job_leaves_only_its_script_in_s3(env, role_arn, source_file):
    """A failed job on AWS uploads no results archive: only the SDK's script archive stays."""
    job = create_job(source_file, role_arn, "fail")
    assert wait_for_state(job, *TERMINAL) == "FAILED"
    metadata = job.metadata()
    bucket, _, output_path = metadata["outputDataConfig"]["s3Path"].removeprefix("s3://").partition("/")
    prefix = f"jobs/{metadata['jobName']}/"
    assert output_path.startswith(prefix)
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    keys = [item["Key"] for item in listed]
    assert [key for key in keys if key.endswith("source.tar.gz")], keys
    assert not [key for key in keys if key.endswith("model.tar.gz")], keys


def test_cancelled_job_stops_its_process(env, role_arn, source_file):
    job = create_job(source_file, role_arn, "run_forever")
    wait_for_state(job, "RUNNING")
    pid = int(wait_for_file(work_dir(env, job) / "model" / "pid"))
    assert pid in processes_working_in(work_dir(env, job))

    assert job.cancel() in ("CANCELLING", "CANCELLED")

    assert wait_for_state(job, *TERMINAL) == "CANCELLED"
    assert process_is_gone(pid)
    assert not processes_working_in(work_dir(env, job))


def test_time_limit_stops_the_job(env, role_arn, source_file):
    limit = StoppingCondition(maxRuntimeInSeconds=3)
    job = create_job(source_file, role_arn, "run_forever", stopping_condition=limit)

    assert wait_for_state(job, *TERMINAL) == "FAILED"
    assert "time limit" in job.metadata()["failureReason"]
    assert not processes_working_in(work_dir(env, job))
