"""``covalent-braket jobs list | logs | cancel`` against the local Braket stack, on jobs the executor made.

The jobs run as processes of this Python (the process runner), the executor is given a ready image
URI so nothing is built, and the commands find the region through a covalent.conf of the test's own.
QPU tasks are held QUEUED by the stack's queue-hold fault, so there is waiting work to cancel.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from covalent._shared_files.exceptions import TaskCancelledError

from covalent_braket_plugin import cli, hybrid_jobs
from covalent_braket_plugin.inventory import jobs
from covalent_braket_plugin.local.stack import JOBS_ROLE_NAME, LocalStack
from tests.integration.conftest import (
    BELL,
    HOST_PYTHON_IMAGE,
    electron_metadata,
    executor_for,
    name_region_in_covalent_conf,
    placeholder_job_spec,
    with_bucket_and_role,
)

BUCKET = "amazon-braket-covalent-ops"
WAIT_S = 120.0
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"


@pytest.fixture
def stack(braket_local_env: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """The stack with the executor's bucket and role, and a covalent.conf naming the region."""
    with_bucket_and_role(braket_local_env, BUCKET)
    name_region_in_covalent_conf(braket_local_env.region, tmp_path, monkeypatch)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)  # the region must come from covalent.conf
    monkeypatch.delenv("AWS_REGION", raising=False)
    return braket_local_env


def _run(function: Any, dispatch_id: str, node_id: int) -> Any:
    return asyncio.run(executor_for(BUCKET).run(function, [], {}, electron_metadata(dispatch_id, node_id)))


def _in_a_thread(function: Any, dispatch_id: str) -> tuple[threading.Thread, list[Any]]:
    """Run ``function`` as node 0 of ``dispatch_id`` in a thread of its own, started; its outcome (the
    result, or what it raised) lands in the list once it ends."""
    outcome: list[Any] = []

    def electron() -> None:
        try:
            outcome.append(_run(function, dispatch_id, 0))
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=electron)
    worker.start()
    return worker, outcome


def _command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _listed(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    status, out, err = _command(capsys, "jobs", "list", "--json", *argv)
    assert status == 0, err
    return json.loads(out)


def test_list_shows_the_executors_jobs_with_their_dispatch_and_node(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    dispatch, other = f"ops-{uuid.uuid4()}", f"ops-{uuid.uuid4()}"

    def hello() -> str:
        print("hello from the job", flush=True)
        return "hi"

    def fail() -> None:
        raise RuntimeError("on purpose")

    assert _run(hello, dispatch, 0) == "hi"
    with pytest.raises(Exception, match="on purpose"):
        _run(fail, dispatch, 1)
    assert _run(hello, other, 0) == "hi"
    # A job made without the executor's tags is not the plugin's.
    braket = boto3.client("braket", **stack.client_kwargs())
    role = f"arn:aws:iam::123456789012:role/{JOBS_ROLE_NAME}"
    name = f"stranger-{uuid.uuid4().hex[:12]}"
    stranger = placeholder_job_spec(name, role, HOST_PYTHON_IMAGE, BUCKET, "stranger")
    hybrid_jobs.create_job(braket, stranger)

    mine = _listed(capsys, "--dispatch-id", dispatch)
    assert [(job["name"], job["status"], job["node_id"]) for job in mine] == [
        (hybrid_jobs.job_name(dispatch, 1, 1), "FAILED", "1"),
        (hybrid_jobs.job_name(dispatch, 0, 1), "COMPLETED", "0"),
    ]
    assert {job["dispatch_id"] for job in mine} == {dispatch}
    assert all(job["device"].endswith("/sv1") and job["created"] and job["ended"] for job in mine)

    everything = _listed(capsys)
    names = {job["name"] for job in everything}
    assert {hybrid_jobs.job_name(dispatch, 0, 1), hybrid_jobs.job_name(other, 0, 1)} <= names
    assert stranger.name not in names

    failed = _listed(capsys, "--status", "failed", "--since", "1h")
    assert hybrid_jobs.job_name(dispatch, 1, 1) in {job["name"] for job in failed}
    assert {job["status"] for job in failed} == {"FAILED"}
    assert _listed(capsys, "--since", "2100-01-01") == []

    status, table, _ = _command(capsys, "jobs", "list", "--dispatch-id", dispatch)
    assert status == 0
    header, *rows = table.splitlines()
    assert header.startswith("NAME") and "DISPATCH ID" in header and "CREATED (UTC)" in header
    assert len(rows) == 2 and all(dispatch in row and " sv1 " in row for row in rows)

    status, log, _ = _command(capsys, "jobs", "logs", hybrid_jobs.job_name(dispatch, 0, 1))
    assert status == 0
    assert "hello from the job" in log
    status, by_arn, _ = _command(capsys, "jobs", "logs", mine[1]["arn"])
    assert status == 0 and by_arn == log

    status, _, err = _command(capsys, "jobs", "logs", stranger.name)
    assert status == 2
    assert f"no job of covalent-braket-plugin is named '{stranger.name}'" in err


def test_cancel_a_running_job_while_following_its_log(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    dispatch = f"ops-{uuid.uuid4()}"
    name = hybrid_jobs.job_name(dispatch, 0, 1)

    def sleepy() -> str:
        import time

        print("started", flush=True)
        time.sleep(600)
        return "never"

    worker, outcome = _in_a_thread(sleepy, dispatch)
    braket = boto3.client("braket", **stack.client_kwargs())
    logs = boto3.client("logs", **stack.client_kwargs())
    deadline = time.monotonic() + WAIT_S
    job: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        running = _listed(capsys, "--dispatch-id", dispatch, "--status", "RUNNING")
        if running and "started" in hybrid_jobs.read_logs(logs, hybrid_jobs.DEFAULT_LOG_GROUP, name):
            job = jobs.resolve_job(braket, name)
            break
        time.sleep(0.2)
    assert job is not None, f"{name} did not start"

    followed: list[str] = []
    final_status: list[str] = []
    follower = threading.Thread(
        target=lambda: final_status.append(
            jobs.follow_logs(
                braket, logs, hybrid_jobs.DEFAULT_LOG_GROUP, job, followed.append, follow=True, interval_s=0.2
            )
        )
    )
    follower.start()
    status, out, err = _command(capsys, "jobs", "cancel", name)
    assert status == 0, err
    assert out.startswith(f"cancelling job {name} (") and out.strip().endswith(": CANCELLING")

    worker.join(WAIT_S)
    follower.join(WAIT_S)
    assert isinstance(outcome[0], TaskCancelledError)
    assert "started" in followed
    # Line by line as the job wrote them, each once: the whole log as it reads after the end.
    assert followed == hybrid_jobs.read_logs(logs, hybrid_jobs.DEFAULT_LOG_GROUP, name).split("\n")
    assert final_status == ["CANCELLED"]  # follow_logs returned once the job had ended

    status, out, _ = _command(capsys, "jobs", "cancel", name, "--json")
    assert status == 0
    document = json.loads(out)
    assert {k: document[k] for k in ("name", "arn", "status", "cancelled")} == {
        "name": name, "arn": job["jobArn"], "status": "CANCELLED", "cancelled": False
    }
    assert document["waiting_tasks"]["requested"] == []  # the job made no quantum task
    status, out, _ = _command(capsys, "jobs", "cancel", job["jobArn"])
    assert out.startswith(f"job {name} had already ended CANCELLED at ") and "nothing to cancel" in out


def test_a_bad_setting_in_covalent_conf_is_named_before_any_call(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "covalent.conf").write_text('[executors.braket]\nregion = "us-east-1"\nregoin = "x"\n')
    status, _, err = _command(capsys, "jobs", "list")
    assert status == 2
    assert "regoin: did you mean 'region'?" in err


def _job_tasks(braket: Any, job_arn: str) -> dict[str, str]:
    """The job's quantum tasks and their statuses, as Braket lists them."""
    pages = braket.get_paginator("search_quantum_tasks").paginate(
        filters=[{"name": "jobArn", "operator": "EQUAL", "values": [job_arn]}]
    )
    return {task["quantumTaskArn"]: task["status"] for page in pages for task in page["quantumTasks"]}


def _until(condition: Any, what: str) -> Any:
    """What ``condition()`` returns once it is true, asked again until ``WAIT_S`` has passed."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {WAIT_S:.0f} s")


def _tasks_once(braket: Any, job_arn: str, statuses: list[str]) -> dict[str, str]:
    """The job's tasks once their statuses are ``statuses`` (in any order)."""
    def found() -> dict[str, str] | None:
        tasks = _job_tasks(braket, job_arn)
        return tasks if sorted(tasks.values()) == sorted(statuses) else None

    return _until(found, f"tasks {statuses} of {job_arn}")


def test_cancel_ends_the_jobs_waiting_quantum_tasks_as_the_executors_cancel_does(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """CancelJob cancels the tasks waiting when it comes (best effort, on AWS as on the stack); a task
    the job makes while it is being stopped comes after it and would run, and be billed, after the job.
    Such a task is made here with the job's token once the job is cancelled: ``jobs cancel`` ends it,
    and so does the executor's cancel."""
    dispatch = f"ops-{uuid.uuid4()}"
    name = hybrid_jobs.job_name(dispatch, 0, 1)
    token_key = f"tokens/{name}"

    def queue_two_then_wait() -> str:
        import os
        import time

        import boto3
        from braket.aws import AwsDevice
        from braket.circuits import Circuit

        forte = AwsDevice("arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1")
        for _ in range(2):
            forte.run(Circuit().h(0).cnot(0, 1), shots=10)
        token = os.environ["AMZN_BRAKET_JOB_TOKEN"]
        boto3.client("s3").put_object(Bucket="amazon-braket-covalent-ops", Key=f"tokens/{name}", Body=token)
        time.sleep(600)
        return "never"

    braket = boto3.client("braket", **stack.client_kwargs())
    s3 = boto3.client("s3", **stack.client_kwargs())
    stack.set_faults(hold_qpu_tasks_s=600)
    worker, outcome = _in_a_thread(queue_two_then_wait, dispatch)
    try:
        job = _until(lambda: next(iter(_listed(capsys, "--dispatch-id", dispatch)), None), f"job {name}")
        queued = _tasks_once(braket, job["arn"], ["QUEUED"] * 2)
        _until(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=token_key).get("KeyCount"), "job token")
        token = s3.get_object(Bucket=BUCKET, Key=token_key)["Body"].read().decode()

        status, out, err = _command(capsys, "jobs", "cancel", name)
        assert status == 0, err
        assert out.startswith(f"cancelling job {name} (")
        worker.join(WAIT_S)
        assert isinstance(outcome[0], TaskCancelledError)
        assert set(_job_tasks(braket, job["arn"]).values()) <= {"CANCELLING", "CANCELLED"}

        def straggler() -> str:
            """A task of the job, made after its CancelJob, as the job's own threads can while it stops."""
            return braket.create_quantum_task(
                deviceArn=FORTE, shots=10, outputS3Bucket=BUCKET, outputS3KeyPrefix=f"jobs/{name}/tasks",
                action=json.dumps(BELL), jobToken=token, clientToken=str(uuid.uuid4()),
            )["quantumTaskArn"]

        late = straggler()
        assert _job_tasks(braket, job["arn"])[late] == "QUEUED"
        status, out, err = _command(capsys, "jobs", "cancel", name, "--json")
        assert status == 0, err
        document = json.loads(out)
        assert (document["status"], document["cancelled"]) == ("CANCELLED", False)
        assert list(document["waiting_tasks"]["cancelled"]) == [late]
        status, out, _ = _command(capsys, "jobs", "cancel", name)
        assert out.strip().endswith("; nothing to cancel")  # nothing waits any more

        later = straggler()
        assert asyncio.run(executor_for(BUCKET).cancel(electron_metadata(dispatch), job["arn"])) is True
        assert set(_tasks_once(braket, job["arn"], ["CANCELLED"] * 4)) == {*queued, late, later}
    finally:
        stack.reset_faults()
        worker.join(WAIT_S)
