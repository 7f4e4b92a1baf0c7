"""Checkpoints across attempts on the local stack: an electron killed on its first attempt resumes
from its checkpoint on the second, through the SDK's save_job_checkpoint / load_job_checkpoint
(process runner)."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest
from covalent._shared_files.exceptions import TaskRuntimeError

from covalent_braket_plugin import hybrid_jobs, s3_layout
from covalent_braket_plugin.executor.checkpoints import checkpoint_prefix
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import electron_metadata, executor_for
from tests.integration.executor.conftest import BUCKET

ITERATIONS = 10
KILLED_AFTER = 4


def test_an_electron_killed_on_its_first_attempt_resumes_from_its_checkpoint(stack: LocalStack) -> None:
    def variational_loop(iterations: int, killed_after: int) -> dict[str, Any]:
        import os
        import signal

        from braket.jobs import load_job_checkpoint, save_job_checkpoint

        try:
            state = load_job_checkpoint()
            started = state["iteration"]
        except FileNotFoundError:
            state, started = {"iteration": 0, "energies": []}, 0
        for iteration in range(started, iterations):
            state["energies"].append(-iteration)
            state["iteration"] = iteration + 1
            save_job_checkpoint(state)
            if started == 0 and iteration + 1 == killed_after:
                os.kill(os.getpid(), signal.SIGKILL)  # the instance dies mid-loop
        return {"started": started, **state}

    metadata = electron_metadata(node_id=3)

    def attempt() -> Any:
        executor = executor_for(BUCKET, checkpoints=True)
        return asyncio.run(executor.run(variational_loop, [ITERATIONS, KILLED_AFTER], {}, metadata))

    with pytest.raises(TaskRuntimeError):
        attempt()
    outcome = attempt()  # the next attempt of the same electron, as Covalent's retries make it

    assert outcome == {"started": KILLED_AFTER, "iteration": ITERATIONS,
                       "energies": [-i for i in range(ITERATIONS)]}
    s3 = boto3.client("s3", **stack.client_kwargs())
    second = hybrid_jobs.job_name(metadata["dispatch_id"], 3, 2)
    location = s3_layout.ElectronLocation.for_electron(BUCKET, metadata["dispatch_id"], 3, second)
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=checkpoint_prefix(location))
    # The first attempt's checkpoint, renamed for the second job, then saved over by it.
    assert [item["Key"] for item in listing["Contents"]] == [f"{checkpoint_prefix(location)}{second}.json"]
    braket = boto3.client("braket", **stack.client_kwargs())
    [job] = [j for page in braket.get_paginator("search_jobs").paginate(filters=[])
             for j in page["jobs"] if j["jobName"] == second]
    config = braket.get_job(jobArn=job["jobArn"])["checkpointConfig"]
    assert config["s3Uri"] == location.uri(checkpoint_prefix(location))


def test_without_the_setting_a_job_has_no_checkpoint_location(stack: LocalStack) -> None:
    metadata = electron_metadata()
    executor = executor_for(BUCKET)
    assert asyncio.run(executor.run(lambda: 1, [], {}, metadata)) == 1
    braket = boto3.client("braket", **stack.client_kwargs())
    name = hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)
    [job] = [j for page in braket.get_paginator("search_jobs").paginate(filters=[])
             for j in page["jobs"] if j["jobName"] == name]
    assert "s3Uri" not in (braket.get_job(jobArn=job["jobArn"]).get("checkpointConfig") or {})
