"""A job's usage from AWS's records (``billing/usage.py``): billed tasks, simulator minimums, time so far."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.billing.usage import Usage, device_usage, job_usage, measure

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
JOB = "arn:aws:braket:us-east-1:123456789012:job/j"
T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)
PRICED = PriceTable.load(overrides={"instances": {"ml.m5.large": {"per_hour": "0.23"}}})


def _task(arn: str, device: str, status: str, shots: int, seconds: float | None = None) -> dict:
    task = {"quantumTaskArn": arn, "deviceArn": device, "status": status, "shots": shots, "createdAt": T0}
    if seconds is not None:
        task["endedAt"] = T0 + timedelta(seconds=seconds)
    return task


TASKS = [
    _task("s1", SV1, "COMPLETED", 100, 10),
    _task("s2", SV1, "COMPLETED", 100, 10),
    _task("s3", SV1, "FAILED", 100, 1),
    _task("q1", FORTE, "COMPLETED", 10, 60),
    _task("q2", FORTE, "QUEUED", 20),
    _task("q3", FORTE, "CANCELLED", 30, 5),
]
RECORD = {
    "jobArn": JOB,
    "status": "COMPLETED",
    "instanceConfig": {"instanceType": "ml.m5.large", "instanceCount": 2},
    "startedAt": T0,
    "endedAt": T0 + timedelta(minutes=3),
    "billableDuration": 180_000,
}


def test_usage_counts_billed_tasks_and_the_minimum_of_each_simulator_task() -> None:
    # s1 ran 1.2 s (billed the 3 s minimum), s2 4.5 s; the FAILED and CANCELLED tasks are free
    sv1, forte = device_usage(TASKS, PRICED, {"s1": 1200, "s2": 4500})
    assert (sv1.tasks, sv1.billed_ms, sv1.estimated) == (2, 3000 + 4500, False)
    assert (forte.tasks, forte.shots, forte.billed_ms) == (2, 30, None)
    # without a result, a simulator task counts from creation to end, and says so
    assert device_usage(TASKS[:1], PRICED)[0].billed_ms == 10_000
    assert device_usage(TASKS[:1], PRICED)[0].estimated


def test_a_running_job_counts_its_time_so_far_and_one_never_started_none() -> None:
    running = {**RECORD, "status": "RUNNING"}
    del running["billableDuration"], running["endedAt"]
    usage = job_usage(running, now=T0 + timedelta(seconds=90))
    assert (usage.billable_ms, usage.estimated) == (90_000, True)
    never = {"jobArn": JOB, "status": "CANCELLED", "instanceConfig": RECORD["instanceConfig"]}
    assert (job_usage(never).billable_ms, job_usage(never).estimated) == (0, False)



def test_measure_is_the_records_job_and_its_billed_tasks() -> None:
    durations = {"s1": 1200, "s2": 4500}
    usage = measure(RECORD, TASKS, PRICED, durations)
    assert usage == Usage(job_usage(RECORD), device_usage(TASKS, PRICED, durations))
    assert (usage.job.billable_ms, usage.job.instance_count, usage.estimated) == (180_000, 2, False)
    running = {**RECORD, "status": "RUNNING"}
    del running["billableDuration"], running["endedAt"]
    assert measure(running, [], PRICED, now=T0 + timedelta(seconds=5)).job.billable_ms == 5_000
