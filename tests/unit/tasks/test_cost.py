"""A job's usage from its records, kept as a tag, and priced: unknown prices stay unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from covalent_braket_plugin.tasks.cost import (
    Usage,
    device_usage,
    job_usage,
    price_usage,
    read_usage_tag,
    usage_from_records,
    usage_tag,
)
from covalent_braket_plugin.tasks.pricing import PriceTable

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


def test_a_priced_job_adds_instances_qpu_fees_and_simulator_minutes() -> None:
    usage = Usage(job_usage(RECORD), device_usage(TASKS, PRICED, {"s1": 1200, "s2": 4500}))
    cost = price_usage(usage, PRICED)
    job = Decimal("0.23") * 180_000 * 2 / 3_600_000
    forte = 2 * Decimal("0.30") + 30 * Decimal("0.08")
    sv1 = Decimal("0.075") * 7500 / 60_000
    assert cost.job_cost == job and cost.total == job + forte + sv1
    assert cost.line() == (
        f"cost: ${job + forte + sv1:.2f} = job {job:.2f} (2 x ml.m5.large, 3 min) "
        f"+ 2 tasks on SV1 {sv1:.2f} + 2 tasks on IonQ Forte-1 {forte:.2f}"
    )


def test_an_unpriced_instance_is_unknown_never_zero() -> None:
    cost = price_usage(Usage(job_usage(RECORD), device_usage(TASKS[3:4], PRICED)), PriceTable.load())
    assert cost.job_cost is None and cost.total is None
    assert cost.known == Decimal("0.30") + 10 * Decimal("0.08")
    assert cost.unpriced == ("ml.m5.large",)
    assert cost.line().startswith("cost: unknown (known part $1.10) = job unknown (2 x ml.m5.large")


def test_the_tag_keeps_what_searches_cannot_tell_and_reads_back() -> None:
    usage = Usage(job_usage(RECORD), device_usage(TASKS, PRICED, {"s1": 1200}))
    tag = usage_tag(usage)
    assert tag == "v1 job=ml.m5.large*2*180000 quantum-simulator/amazon/sv1=13000~"
    tagged = read_usage_tag(JOB, tag)
    assert tagged is not None and tagged.job == usage.job
    assert usage_from_records(tagged, TASKS, PRICED) == usage
    assert read_usage_tag(JOB, "something else") is None
    assert read_usage_tag(JOB, "v1 job=nonsense") is None


def test_a_running_job_counts_its_time_so_far_and_one_never_started_none() -> None:
    running = {**RECORD, "status": "RUNNING"}
    del running["billableDuration"], running["endedAt"]
    usage = job_usage(running, now=T0 + timedelta(seconds=90))
    assert (usage.billable_ms, usage.estimated) == (90_000, True)
    never = {"jobArn": JOB, "status": "CANCELLED", "instanceConfig": RECORD["instanceConfig"]}
    assert (job_usage(never).billable_ms, job_usage(never).estimated) == (0, False)
