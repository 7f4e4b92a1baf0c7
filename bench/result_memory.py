"""(6) **Peak client memory for a result** of each of ``--result-mib`` sizes (200 MiB and 1 GiB).

A fresh process runs one electron returning that many bytes (after a warm-up electron), and its
peak RSS (``ru_maxrss``) over the electron is set beside the result's size (target <= 1.2 N). The
baseline, in another fresh process on the same object: the whole-in-memory path (GetObject's body
read into bytes, then ``cloudpickle.loads``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import cloudpickle
from electrons import HOST_IMAGE, REGION, Bench
from harness import Row

from covalent_braket_plugin import hybrid_jobs, s3_layout
from covalent_braket_plugin.braket import BraketExecutor

MIB = 2**20


def peak_rss() -> int:
    """The process's peak resident set so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def streamed_result_peak(bucket: str, size: int, answer: Any) -> None:
    """In a fresh process: one electron returning ``size`` bytes; its peak RSS over the electron."""
    executor = BraketExecutor(
        s3_bucket_name=bucket,
        region=REGION,
        ecr_image_uri=HOST_IMAGE,
        initial_poll_freq=0.5,
        poll_freq=2.0,
        cleanup=False,
    )

    def metadata() -> dict[str, Any]:
        return {"dispatch_id": str(uuid.uuid4()), "node_id": 0, "results_dir": "/tmp"}

    # Made here, so pickled by value: the job has no module of the benchmark to import them from.
    def one() -> int:
        return 1

    def many_bytes(size: int) -> bytes:
        return b"r" * size

    async def length(electron: dict[str, Any]) -> int:
        # Not the result itself: asyncio.run's SIGINT handling formats the repr of its main task,
        # result included, in full (reprlib truncates a bytes repr only after making it), which
        # would add N to the figure. A Covalent server's electrons are never a loop's main task.
        return len(await executor.run(many_bytes, [size], {}, electron))

    asyncio.run(executor.run(one, [], {}, metadata()))  # warm-up: imports, clients, runner archive
    electron = metadata()
    before = peak_rss()
    returned = asyncio.run(length(electron))
    grown = peak_rss() - before
    if returned != size:
        raise RuntimeError(f"the electron returned {returned} bytes, not {size}")
    name = hybrid_jobs.job_name(electron["dispatch_id"], 0, 1)
    location = s3_layout.ElectronLocation.for_electron(bucket, electron["dispatch_id"], 0, name)
    answer.send((grown, location.result_key))


def whole_in_memory_peak(bucket: str, key: str, size: int, answer: Any) -> None:
    """In a fresh process: the whole-in-memory path on the same object, and its peak RSS over it."""
    s3 = boto3.client("s3")
    s3.head_object(Bucket=bucket, Key=key)  # warm-up: the client's first request
    before = peak_rss()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    result = cloudpickle.loads(body)
    grown = peak_rss() - before
    if len(result) != size:
        raise RuntimeError(f"the object held {len(result)} bytes, not {size}")
    answer.send(grown)


def in_fresh_process(target: Callable[..., None], *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=target, args=(*args, send))
    child.start()
    send.close()
    try:
        return receive.recv()
    except EOFError:
        raise RuntimeError(
            f"{target.__name__} failed in its process (exit status {child.exitcode})"
        ) from None
    finally:
        child.join()


def result_memory(bench: Bench, mib: int) -> list[Row]:
    size = mib * MIB
    streamed, key = in_fresh_process(streamed_result_peak, bench.bucket, size)
    whole = in_fresh_process(whole_in_memory_peak, bench.bucket, key, size)
    bench.s3.delete_object(Bucket=bench.bucket, Key=key)
    print(
        f"(6) {mib} MiB result: peak RSS +{streamed / MIB:.0f} MiB ({streamed / size:.2f} N) through a "
        f"temporary file; +{whole / MIB:.0f} MiB ({whole / size:.2f} N) whole in memory"
    )
    return [
        Row(
            f"peak client RSS for a {mib} MiB result (N)",
            f"+{streamed / MIB:.0f} MiB = {streamed / size:.2f} N",
            f"whole in memory: +{whole / MIB:.0f} MiB = {whole / size:.2f} N",
            "<= 1.2 N",
            streamed <= 1.2 * size,
        )
    ]
