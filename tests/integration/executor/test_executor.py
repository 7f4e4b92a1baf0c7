"""BraketExecutor against the local Braket stack over HTTP: real jobs, run as processes.

On the process runner a job runs in the host's Python environment, which stands in for the job
image; the executor is given a ready image URI (``ecr_image_uri``) so that nothing is built.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import boto3
import pytest
from covalent._shared_files.exceptions import TaskRuntimeError
from covalent._shared_files.util_classes import RESULT_STATUS
from covalent.executor.utils import Signals

from covalent_braket_plugin import hybrid_jobs, s3_layout
from covalent_braket_plugin.braket import BraketExecutor
from covalent_braket_plugin.errors import BucketNotFoundError
from covalent_braket_plugin.executor import runtime, watch
from covalent_braket_plugin.executor.progress import Progress
from covalent_braket_plugin.local.jobs.process_runner import JOB_NICENESS, job_cpus
from covalent_braket_plugin.local.stack import JOBS_ROLE_NAME, LocalStack
from tests.integration.conftest import (
    HOST_PYTHON_IMAGE,
    electron_metadata,
    executor_for,
    placeholder_job_spec,
)
from tests.integration.executor.conftest import BUCKET


def _jobs_named(stack: LocalStack, name: str) -> list[dict[str, Any]]:
    braket = boto3.client("braket", **stack.client_kwargs())
    found = []
    for page in braket.get_paginator("search_jobs").paginate(filters=[]):
        found.extend(job for job in page["jobs"] if job["jobName"] == name)
    return found


def _task_objects(stack: LocalStack, dispatch_id: str) -> list[str]:
    s3 = boto3.client("s3", **stack.client_kwargs())
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{s3_layout.KEY_ROOT}/{dispatch_id}/")
    return [item["Key"] for item in listing.get("Contents", [])]


def _printed(executor: BraketExecutor) -> str:
    """What the electron printed: its stdout less the cost line the executor ends every job's with."""
    *printed, cost = executor.task_stdout.getvalue().splitlines(keepends=True)
    assert cost.startswith("cost: "), cost
    return "".join(printed)


def test_run_returns_the_result_and_the_output_of_the_electron(stack: LocalStack) -> None:
    def square(x: int) -> int:
        import sys

        print(f"squaring {x}")
        print("to stderr", file=sys.stderr)
        return x * x

    executor = executor_for(BUCKET)
    metadata = electron_metadata()
    assert asyncio.run(executor.run(square, [7], {}, metadata)) == 49
    assert _printed(executor) == "squaring 7\n"
    assert executor.task_stderr.getvalue() == "to stderr\n"

    name = hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)
    [job] = _jobs_named(stack, name)
    assert job["status"] == "COMPLETED"
    assert _task_objects(stack, metadata["dispatch_id"]) == []


def test_a_bucket_nobody_made_is_named_with_its_setting_and_creates_no_job(stack: LocalStack) -> None:
    missing = f"amazon-braket-missing-{uuid.uuid4().hex[:8]}"
    metadata = electron_metadata()
    with pytest.raises(BucketNotFoundError, match=f"s3_bucket_name: there is no S3 bucket '{missing}'"):
        asyncio.run(executor_for(missing).run(lambda: 1, [], {}, metadata))
    assert _jobs_named(stack, hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)) == []


def test_a_raising_electron_fails_with_the_remote_traceback(stack: LocalStack) -> None:
    def divide(a: int, b: int) -> float:
        print("dividing")
        return a / b

    executor = executor_for(BUCKET)
    with pytest.raises(TaskRuntimeError) as raised:
        asyncio.run(executor.run(divide, [1, 0], {}, electron_metadata()))
    message = str(raised.value)
    assert "Traceback (most recent call last)" in message
    assert "return a / b" in message  # the electron's own line, from the job
    assert "ZeroDivisionError: division by zero" in message
    assert "ended FAILED" in message
    assert _printed(executor) == "dividing\n"
    assert "ZeroDivisionError" in executor.task_stderr.getvalue()


def test_a_job_that_dies_before_reporting_fails_with_its_cloudwatch_log(stack: LocalStack) -> None:
    def die() -> None:
        import os

        print("the last words of the electron", flush=True)
        os._exit(3)  # no exception, no error report: the process is simply gone

    executor = executor_for(BUCKET)
    with pytest.raises(TaskRuntimeError) as raised:
        asyncio.run(executor.run(die, [], {}, electron_metadata()))
    assert _printed(executor) == "the last words of the electron\n"  # sent before the exit
    message = str(raised.value)
    assert "The job ended before the electron reported a result or an error" in message
    # the job's log, read back from CloudWatch Logs, and the reason Braket gives: the training
    # toolkit's, which names the program's own exit code
    assert "Running entry point covalent_braket_runner:main" in message
    assert "ended FAILED: AlgorithmError: ExecuteUserScriptError:" in message
    assert "ExitCode 3" in message


def test_many_electrons_at_once_are_watched_together_and_each_gets_its_own_result(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More jobs than one SearchJobs filter can name: the watcher pages through the jobs created
    since the oldest, as the stack's SearchJobs filters them by createdAt. Job processes run at the
    lowest priority, off the first CPU, so that they leave the client's CPU time alone."""
    count = watch.ARN_FILTER_MAX + 2

    def niceness(i: int) -> tuple[int, int, list[int]]:
        import os

        return i, os.getpriority(os.PRIO_PROCESS, 0), sorted(os.sched_getaffinity(0))

    async def run_all() -> list[tuple[int, int, list[int]]]:
        executor = executor_for(BUCKET)
        return await asyncio.gather(
            *(executor.run(niceness, [i], {}, electron_metadata()) for i in range(count))
        )

    lines: list[str] = []
    monkeypatch.setattr(runtime.current(), "progress", Progress.quiet(lines.append))  # the executor's log
    results = asyncio.run(run_all())
    assert results == [(i, JOB_NICENESS, sorted(job_cpus())) for i in range(count)]
    assert sum(line.endswith(": RUNNING") for line in lines) >= 1  # state changes reach the log
    assert sum(line.startswith("Braket job covalent-") and line.endswith(": done") for line in lines) == count


def test_cleanup_false_keeps_the_objects_of_the_task(stack: LocalStack) -> None:
    metadata = electron_metadata()
    assert asyncio.run(executor_for(BUCKET, cleanup=False).run(lambda: "kept", [], {}, metadata)) == "kept"
    names = {key.rsplit("/", 1)[-1] for key in _task_objects(stack, metadata["dispatch_id"])}
    assert {"task.pkl", "result.pkl", "stdout.log", "stderr.log"} <= names


def test_throttling_and_server_errors_are_retried_and_make_exactly_one_job(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    """Eight electrons at once make enough Braket calls (a CreateJob each, the watcher's searches)
    that some surely meet a fault: at 40 % faults, all of ten calls pass with a chance of 0.6 %."""
    metadata = [electron_metadata() for _ in range(8)]

    async def run_all() -> list[int]:
        return await asyncio.gather(
            *(executor_for(BUCKET).run(lambda x: x + 1, [41], {}, each) for each in metadata)
        )

    stack.set_faults(throttle_rate=0.2, error_rate=0.2)
    try:
        with caplog.at_level(logging.DEBUG, logger="botocore.retries.standard"):
            assert asyncio.run(run_all()) == [42] * 8
    finally:
        stack.reset_faults()
    assert any("Retry needed, retrying request" in record.getMessage() for record in caplog.records)
    for each in metadata:
        assert len(_jobs_named(stack, hybrid_jobs.job_name(each["dispatch_id"], 0, 1))) == 1


def test_a_repeated_create_job_names_the_job_it_already_made(stack: LocalStack) -> None:
    """What a CreateJob retried after a lost answer does: the job name is the idempotency token."""
    braket = boto3.client("braket", **stack.client_kwargs())
    name = hybrid_jobs.job_name(str(uuid.uuid4()), 5, 1)
    role = f"arn:aws:iam::123456789012:role/service-role/{JOBS_ROLE_NAME}"
    spec = placeholder_job_spec(name, role, HOST_PYTHON_IMAGE, BUCKET, "idempotency")
    first = hybrid_jobs.create_job(braket, spec)
    assert hybrid_jobs.create_job(braket, spec) == first
    assert [job["jobArn"] for job in _jobs_named(stack, name)] == [first]


class Dispatcher:
    """Covalent's dispatcher side of the executor's queues (Signals.GET / PUT / EXIT), as its
    executor_proxy answers them: whether a cancel is requested, and where the job handle goes."""

    def __init__(self, executor: BraketExecutor) -> None:
        self.executor = executor
        self.cancel_requested = False
        self.job_handle: str | None = None
        self.handle_stored = asyncio.Event()
        executor._init_runtime()

    async def serve(self) -> None:
        while True:
            action, body = await self.executor._send_queue.get()
            if action == Signals.EXIT:
                return
            if action == Signals.GET and body == "cancel_requested":
                answer: Any = self.cancel_requested
            elif action == Signals.PUT and body[0] == "job_handle":
                self.job_handle = json.loads(body[1])
                self.handle_stored.set()
                answer = True
            else:
                raise AssertionError(f"unexpected message {action} {body}")
            await self.executor._recv_queue.put((True, answer))


@pytest.mark.parametrize("cancelled_when", ["QUEUED", "RUNNING"])
def test_an_electron_cancelled_while_queued_or_running_ends_cancelled(
    stack: LocalStack, cancelled_when: str
) -> None:
    """Queued: the executor's own watch sees the request and cancels the job before it starts.
    Running: as ct.cancel does, the request is marked and a new executor cancels the job too."""
    braket = boto3.client("braket", **stack.client_kwargs())

    def sleepy() -> str:
        import time

        print("started", flush=True)
        time.sleep(600)
        return "never"

    async def dispatch_then_cancel() -> tuple[tuple[Any, str, str, Any], str]:
        executor = executor_for(BUCKET)
        dispatcher = Dispatcher(executor)
        server = asyncio.create_task(dispatcher.serve())
        metadata = electron_metadata()
        execution = asyncio.create_task(
            executor.execute(sleepy, [], {}, metadata["dispatch_id"], "/tmp", metadata["node_id"])
        )
        await dispatcher.handle_stored.wait()
        while (await asyncio.to_thread(braket.get_job, jobArn=dispatcher.job_handle))[
            "status"
        ] != cancelled_when:
            await asyncio.sleep(0.2)
        dispatcher.cancel_requested = True
        if cancelled_when == "RUNNING":
            canceller = executor_for(BUCKET).from_dict(json.loads(json.dumps(executor_for(BUCKET).to_dict())))
            assert await canceller.cancel(metadata, dispatcher.job_handle) is True
        outcome = await execution
        await server
        return outcome, dispatcher.job_handle

    if cancelled_when == "QUEUED":
        stack.set_faults(hold_jobs_s=300)
    try:
        (result, stdout, _, status), job_arn = asyncio.run(dispatch_then_cancel())
    finally:
        stack.reset_faults()
    assert result is None and status == RESULT_STATUS.CANCELLED
    job = braket.get_job(jobArn=job_arn)
    assert job["status"] == "CANCELLED"
    if cancelled_when == "QUEUED":
        # nothing ran, so nothing was printed and nothing billed: the cost line says $0
        assert "startedAt" not in job and stdout.startswith("cost: $0.00 ") and stdout.count("\n") == 1


def test_cancel_of_an_ended_job_is_false(stack: LocalStack) -> None:
    metadata = electron_metadata()
    assert asyncio.run(executor_for(BUCKET).run(lambda: 1, [], {}, metadata)) == 1
    [job] = _jobs_named(stack, hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1))
    assert asyncio.run(executor_for(BUCKET).cancel(metadata, job["jobArn"])) is False
