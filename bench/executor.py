"""How fast BraketExecutor brings an electron back, beside baselines measured in the same run.

    python bench/executor.py [--electrons 4] [--poll-freq 10]

Runs trivial electrons as jobs on a local Braket stack (process runner, so a job's own run time is
small and the executor's share shows) and prints:

- per electron, seconds from ``run()`` to the result and GetJob calls made, with the executor's
  back-off (``initial_poll_freq`` 0.25 s up to ``poll_freq``) beside the baseline of a fixed interval
  (``initial_poll_freq = poll_freq``, how the 0.3 plugin polled);
- the wall time of ``--electrons`` electrons run at once beside that of one electron (every
  blocking call runs off the event loop, so they overlap), and the longest the event loop was kept
  from running while they did (a ticker measures its own lateness).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3

from covalent_braket_plugin import jobs
from covalent_braket_plugin.braket import BraketExecutor
from covalent_braket_plugin.local.stack import LocalStack

BUCKET = "amazon-braket-covalent-bench"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images:host-python"
TICK_S = 0.01


def count_get_job() -> list[int]:
    """Count GetJob calls by wrapping the function the executor calls."""
    calls = [0]
    original: Callable[..., Any] = jobs.get_job

    def counted(braket: Any, job_arn: str) -> dict[str, Any]:
        calls[0] += 1
        return original(braket, job_arn)

    jobs.get_job = counted
    return calls


def executor(initial: float, slowest: float) -> BraketExecutor:
    return BraketExecutor(
        s3_bucket_name=BUCKET,
        region="us-east-1",
        ecr_image_uri=IMAGE,
        initial_poll_freq=initial,
        poll_freq=slowest,
    )


def add_one(x: int) -> int:
    return x + 1


async def one(initial: float, slowest: float) -> float:
    metadata = {"dispatch_id": str(uuid.uuid4()), "node_id": 0, "results_dir": "/tmp"}
    start = time.perf_counter()
    assert await executor(initial, slowest).run(add_one, [1], {}, metadata) == 2
    return time.perf_counter() - start


def sequential(label: str, electrons: int, initial: float, slowest: float, calls: list[int]) -> None:
    calls[0] = 0
    seconds = [asyncio.run(one(initial, slowest)) for _ in range(electrons)]
    print(
        f"{label:<34} median {statistics.median(seconds):6.2f} s per electron,"
        f" {calls[0] / electrons:5.1f} GetJob per electron"
    )


async def concurrent(electrons: int, slowest: float) -> tuple[float, float]:
    """(wall seconds, longest event-loop stall in seconds) for ``electrons`` electrons at once."""
    stall = 0.0
    running = True

    async def ticker() -> None:
        nonlocal stall
        while running:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            stall = max(stall, time.perf_counter() - before - TICK_S)

    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    await asyncio.gather(*(one(0.25, slowest) for _ in range(electrons)))
    wall = time.perf_counter() - start
    running = False
    await tick
    return wall, stall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--electrons", type=int, default=4)
    parser.add_argument("--poll-freq", type=float, default=10.0, help="the slowest polling interval")
    args = parser.parse_args()

    with LocalStack(runner="process") as stack:
        os.environ.update(stack.environment())
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("iam").create_role(
            RoleName="AmazonBraketJobsExecutionRole",
            Path="/service-role/",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        calls = count_get_job()
        print(f"local stack {stack.endpoint_url} (process runner), poll_freq {args.poll_freq} s")
        asyncio.run(one(0.25, args.poll_freq))  # warm-up: runner archive upload, imports
        sequential("baseline  fixed interval", args.electrons, args.poll_freq, args.poll_freq, calls)
        sequential("executor  back-off from 0.25 s", args.electrons, 0.25, args.poll_freq, calls)

        single, _ = asyncio.run(concurrent(1, args.poll_freq))
        wall, stall = asyncio.run(concurrent(args.electrons, args.poll_freq))
        print(f"baseline  1 electron                wall {single:6.2f} s")
        print(
            f"executor  {args.electrons} electrons at once       wall {wall:6.2f} s,"
            f" longest event-loop stall {stall * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    main()
