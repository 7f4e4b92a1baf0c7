"""(3) **From job completion to the result in hand**, and **GetJob calls per job-minute**.

The electrons sleep ``--long-seconds`` (spread between the two values, several at once); the delay
is the wall clock when the result was in hand minus the job's ``endedAt`` (the stack runs on this
machine, same clock), p50 over the electrons. GetJob calls per job-minute are calls over the jobs'
``endedAt - createdAt``, with **all status calls per job-minute** beside them (the shared watcher's
SearchJobs pages plus GetJob). The executor runs with its default back-off (``initial_poll_freq`` to
``poll_freq``); the baseline, run at the same time on the same stack, is per-job polling as the
executor did it before its shared watcher: the bare boto3 sequence polling GetJob on that same
back-off, one loop per job. Targets: p50 <= 1.5 s, <= 12 GetJob per job-minute.
"""

from __future__ import annotations

import asyncio
from statistics import median

from electrons import DEFAULT_INITIAL_POLL, Bench, Electron, sleep_for
from harness import Row

from covalent_braket_plugin.executor import transfer


def completion_delay(bench: Bench, electrons: int, shortest: float, longest: float, poll: float) -> list[Row]:
    step = (longest - shortest) / max(electrons - 1, 1)
    durations = [shortest + i * step for i in range(electrons)]
    initial = min(DEFAULT_INITIAL_POLL, poll)
    executor = bench.executor(initial, poll)
    settings = executor.settings()
    source_uri = transfer.upload_runner_source(bench.s3, bench.bucket, bench.account_id)
    searches_before = bench.ledger.search_calls

    async def both() -> tuple[list[Electron], list[Electron]]:
        ours = asyncio.gather(*(bench.run(executor, sleep_for, [s], s) for s in durations))
        baseline = asyncio.gather(
            *(asyncio.to_thread(bench.bare, settings, source_uri, sleep_for, (s,), s) for s in durations)
        )
        return tuple(await asyncio.gather(ours, baseline))  # type: ignore[return-value]

    ours, baseline = asyncio.run(both())
    searches = bench.ledger.search_calls - searches_before

    def p50(side: list[Electron]) -> float:
        return median([e.after_job for e in side])

    def job_minutes(side: list[Electron]) -> float:
        return sum(e.job_minutes for e in side)

    def get_jobs(side: list[Electron]) -> float:
        return sum(e.get_job_calls for e in side) / job_minutes(side)

    status_calls = (searches + sum(e.get_job_calls for e in ours)) / job_minutes(ours)
    for side, label in ((ours, "executor"), (baseline, "per-job")):
        delays = ", ".join(f"{e.after_job:.1f}" for e in side)
        print(f"(3) {label:<8} delays {delays} s; {get_jobs(side):.1f} GetJob per job-minute")
    print(f"(3) executor {searches} SearchJobs calls: {status_calls:.1f} status calls per job-minute")
    setup = f"{electrons} x sleep {shortest:.0f}-{longest:.0f} s, each side"
    old = f"per-job GetJob back-off {initial} -> {poll} s"
    return [
        Row(
            f"job endedAt -> result in hand, p50 ({setup})",
            f"{p50(ours):.2f} s",
            f"{old}: {p50(baseline):.2f} s",
            "<= 1.5 s",
            p50(ours) <= 1.5,
        ),
        Row(
            "GetJob calls per job-minute (same jobs)",
            f"{get_jobs(ours):.1f}",
            f"{old}: {get_jobs(baseline):.1f}",
            "<= 12",
            get_jobs(ours) <= 12,
        ),
        Row(
            "all status calls (SearchJobs + GetJob) per job-minute",
            f"{status_calls:.1f}",
            f"{old}: {get_jobs(baseline):.1f}",
            "",
            None,
        ),
    ]
