"""(1) **Client overhead per electron** (warm image), process runner, trivial electron.

The baseline is the bare minimum boto3 sequence doing the same job on the same stack: S3 PutObject
of the pickled task, CreateJob with the same request, GetJob until the job ends, S3 GetObject of the
result. The job's own run time is taken out on both sides the same way: overhead = wall time of the
electron minus the job's life as the stack records it (``endedAt - createdAt`` of GetJob), which
leaves the client's work before CreateJob and after the job ended. Both sides poll on the same fixed
short schedule (``--overhead-poll``, default 0.1 s, through ``job_spec.poll_delays``), so the time
from ``endedAt`` to the GetJob that sees it is the same small cost on both. Runs alternate between
the two sides so that drift of the stack hits both. Target: ratio <= 1.3.
"""

from __future__ import annotations

import asyncio
from statistics import median

from electrons import Bench, Electron, add_one
from harness import Row

from covalent_braket_plugin.executor import transfer


def client_overhead(bench: Bench, electrons: int, poll: float) -> list[Row]:
    executor = bench.executor(poll, poll)
    settings = executor.settings()
    source_uri = transfer.upload_runner_source(bench.s3, bench.bucket, bench.account_id)
    loop = asyncio.new_event_loop()
    try:
        # Warm-up, not counted: imports, the shared clients, the runner archive's upload.
        loop.run_until_complete(bench.run(executor, add_one, [1], 2))
        bench.bare(settings, source_uri)
        ours: list[Electron] = []
        bare: list[Electron] = []
        for _ in range(electrons):
            bare.append(bench.bare(settings, source_uri))
            ours.append(loop.run_until_complete(bench.run(executor, add_one, [1], 2)))
    finally:
        loop.close()

    def split(side: list[Electron]) -> str:
        overhead, before = median([e.overhead for e in side]), median([e.before_job for e in side])
        after, job = median([e.after_job for e in side]), median([e.ended_at - e.created_at for e in side])
        return f"{overhead:.3f} s (before the job {before:.3f} s + after it {after:.3f} s; job {job:.2f} s)"

    ratio = median([e.overhead for e in ours]) / median([e.overhead for e in bare])
    print(f"(1) executor   median overhead {split(ours)}")
    print(f"(1) bare boto3 median overhead {split(bare)}")
    return [
        Row(
            f"client overhead per electron, warm image (median of {electrons}, polls every {poll} s)",
            f"{median([e.overhead for e in ours]):.3f} s, ratio {ratio:.2f}",
            f"bare boto3 {median([e.overhead for e in bare]):.3f} s",
            "ratio <= 1.3",
            ratio <= 1.3,
        )
    ]
