"""A Braket API outage while jobs run, on the local stack: the jobs and their objects come through.

The stack answers every Braket request (or nine in ten) with InternalServiceException for longer
than botocore's retries last; then the faults end. Both electrons' results must come back, with no
CancelJob sent and every object of both jobs still in S3 during the outage. botocore's retries are
shortened (two attempts) and the watcher's outage back-off capped at 2 s to keep the test short;
what is tested is what happens after the retries are spent, which is the same with ten.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.config import Config

from covalent_braket_plugin import hybrid_jobs, s3_layout
from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.executor import runtime, watch
from covalent_braket_plugin.executor.progress import Progress
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import electron_metadata, executor_for, with_bucket_and_role

BUCKET = "amazon-braket-covalent-outages"
QUICK_RETRIES = Config(retries={"mode": "standard", "max_attempts": 2})
OUTAGE_S = 12.0
"""Several failed searches of two quick attempts each, and a few rounds of the watcher's back-off."""
JOB_S = OUTAGE_S + 14.0
"""How long each electron sleeps: it outlives the outage, so its end is seen after it."""


@pytest.fixture
def stack(braket_local_env: LocalStack) -> LocalStack:
    """The session's stack with a bucket of this module's own, whose objects the tests list."""
    return with_bucket_and_role(braket_local_env, BUCKET)


@pytest.fixture
def braket_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The executor's Braket calls by operation, counted in its own clients (quick retries)."""
    calls: Counter[str] = Counter()

    def session(**options: Any) -> AwsSession:
        made = AwsSession(config=QUICK_RETRIES, **options)
        made.boto_session.events.register("before-call.braket", lambda model, **_: calls.update([model.name]))
        return made

    monkeypatch.setattr(runtime, "AwsSession", session)
    monkeypatch.setattr(watch, "OUTAGE_SLOWEST_RETRY_S", 2.0)
    return calls


def _wait_until_running(stack: LocalStack, names: list[str], timeout: float = 60.0) -> None:
    braket = boto3.client("braket", **stack.client_kwargs())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [
            job for page in braket.get_paginator("search_jobs").paginate(filters=[]) for job in page["jobs"]
        ]
        statuses = {job["jobName"]: job["status"] for job in jobs if job["jobName"] in names}
        if len(statuses) == len(names) and set(statuses.values()) == {"RUNNING"}:
            return
        time.sleep(0.5)
    raise AssertionError(f"jobs {names} not RUNNING after {timeout} s")


def _objects(stack: LocalStack, dispatch_ids: list[str]) -> list[str]:
    s3 = boto3.client("s3", **stack.client_kwargs())
    keys = []
    for dispatch_id in dispatch_ids:
        listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{s3_layout.KEY_ROOT}/{dispatch_id}/")
        keys.extend(item["Key"] for item in listing.get("Contents", []))
    return keys


@pytest.mark.parametrize("error_rate", [1.0, 0.9])
def test_jobs_running_through_an_api_outage_come_back_uncancelled(
    stack: LocalStack, braket_calls: Counter[str], error_rate: float
) -> None:
    def sleeper(i: int, seconds: float) -> int:
        import time

        time.sleep(seconds)
        return i * 10

    dispatch_ids = [str(uuid.uuid4()) for _ in range(2)]
    names = [hybrid_jobs.job_name(dispatch_id, 0, 1) for dispatch_id in dispatch_ids]
    lines: list[str] = []
    executor = executor_for(BUCKET, initial_poll_freq=0.5, poll_freq=2.0)

    async def scenario() -> tuple[list[int], list[str]]:
        electrons = asyncio.gather(
            *(
                executor.run(sleeper, [i, JOB_S], {}, electron_metadata(d))
                for i, d in enumerate(dispatch_ids)
            )
        )
        await asyncio.to_thread(_wait_until_running, stack, names)
        stack.set_faults(error_rate=error_rate)
        try:
            await asyncio.sleep(OUTAGE_S)
            assert not electrons.done()  # nobody gave up
        finally:
            stack.reset_faults()
        during = await asyncio.to_thread(_objects, stack, dispatch_ids)
        return await electrons, during

    with runtime.fresh(progress=Progress.quiet(lines.append)):
        results, objects_after_outage = asyncio.run(scenario())

    assert results == [0, 10]
    assert braket_calls["CancelJob"] == 0
    assert sorted(key.rsplit("/", 1)[-1] for key in objects_after_outage) == ["task.pkl", "task.pkl"]
    if error_rate == 1.0:  # at 0.9 a search may get through now and then; at 1.0 none does
        for name in names:
            told = [line for line in lines if line.startswith(f"Braket job {name}: Braket API unreachable (")]
            assert len(told) == 1 and "InternalServiceException" in told[0]
            assert any(
                line.startswith(f"Braket job {name}: Braket API reachable again after") for line in lines
            )
