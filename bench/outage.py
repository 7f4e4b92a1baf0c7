"""(5) **An outage of the Braket API** while ``--outage-jobs`` jobs run.

Once all are RUNNING, the stack answers every Braket request with InternalServiceException for each
of ``--outages`` seconds (90 s and 5 min; ``--quick``: 20 s and 60 s), then the faults end. Targets:
every result comes back, 0 CancelJob calls, 0 objects lost (every task.pkl still in S3 when the
outage ends). The figure printed beside them: the status requests (SearchJobs and GetJob, each HTTP
attempt of botocore's retries counted) the executor spent during the outage, with its default
retries.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from electrons import DEFAULT_INITIAL_POLL, DEFAULT_POLL, Bench, sleep_for
from harness import CallCounter, Row

from covalent_braket_plugin import hybrid_jobs, s3_layout
from covalent_braket_plugin.executor import runtime

STATUS_OPERATIONS = ("SearchJobs", "GetJob")


def outage(bench: Bench, jobs: int, outage_s: float) -> list[Row]:
    job_s = outage_s + 30.0
    executor = bench.executor(DEFAULT_INITIAL_POLL, DEFAULT_POLL, time_limit=int(job_s) + 120)
    settings = executor.settings()
    dispatch_ids = [str(uuid.uuid4()) for _ in range(jobs)]
    names = [hybrid_jobs.job_name(d, 0, 1) for d in dispatch_ids]
    requests = CallCounter()
    requests.attach(runtime.current().session(settings).client("braket"))

    def all_running() -> None:
        while True:
            pages = bench.braket.get_paginator("search_jobs").paginate(filters=[])
            statuses = {
                j["jobName"]: j["status"] for page in pages for j in page["jobs"] if j["jobName"] in names
            }
            if len(statuses) == jobs and set(statuses.values()) == {"RUNNING"}:
                return
            time.sleep(0.5)

    def task_objects() -> int:
        found = 0
        for d in dispatch_ids:
            listing = bench.s3.list_objects_v2(Bucket=bench.bucket, Prefix=f"{s3_layout.KEY_ROOT}/{d}/")
            found += sum(item["Key"].endswith("/task.pkl") for item in listing.get("Contents", []))
        return found

    async def scenario() -> tuple[list[Any], int, int]:
        electrons = asyncio.gather(
            *(
                executor.run(sleep_for, [job_s], {}, {"dispatch_id": d, "node_id": 0, "results_dir": "/tmp"})
                for d in dispatch_ids
            ),
            return_exceptions=True,
        )
        await asyncio.to_thread(all_running)
        before = requests.count(*STATUS_OPERATIONS)
        bench.stack.set_faults(error_rate=1.0)
        try:
            await asyncio.sleep(outage_s)
        finally:
            bench.stack.reset_faults()
        spent = requests.count(*STATUS_OPERATIONS) - before
        kept = await asyncio.to_thread(task_objects)
        return await electrons, spent, kept

    cancels_before = requests.count("CancelJob")
    results, spent, kept = asyncio.run(scenario())
    back = sum(result == job_s for result in results)
    cancelled = requests.count("CancelJob") - cancels_before
    lost = jobs - kept
    failures = [repr(r)[:200] for r in results if r != job_s]
    print(
        f"(5) {outage_s:.0f} s outage, {jobs} jobs: {back} results back, {cancelled} CancelJob, "
        f"{lost} task objects lost, {spent} status requests during the outage "
        f"({spent / (outage_s / 60):.0f} a minute){'; ' + '; '.join(failures) if failures else ''}"
    )
    return [
        Row(
            f"{outage_s:.0f} s Braket outage, {jobs} jobs RUNNING: results back / CancelJob / lost",
            f"{back}/{jobs} / {cancelled} / {lost}",
            f"{spent} status requests during it",
            f"{jobs}/{jobs} / 0 / 0",
            back == jobs and cancelled == 0 and lost == 0,
        )
    ]
