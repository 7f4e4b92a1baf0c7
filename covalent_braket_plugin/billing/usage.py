"""What a hybrid job is billed for, as AWS recorded it: its instance time and its quantum tasks.

The bill of a job has two parts. Its instances: GetJob's ``billableDuration`` (milliseconds), the
instance type and the instance count, all three from the job's record. Its quantum tasks, found by
the job's ARN with SearchQuantumTasks: a QPU task is billed its per-task fee plus its shots, whatever
happened to it but failing or being cancelled; an on-demand simulator task its runtime, each task at
least the device's minimum. A task summary does not carry that runtime; the result the simulator
wrote does (``additionalMetadata.simulatorMetadata.executionDuration``), so it is read from S3 once
the task has ended (:func:`simulator_durations`). A simulator task whose result was not read is
counted from ``createdAt`` to ``endedAt`` (an upper bound) and one still running at its minimum (a
lower bound); either marks the figure *estimated*.

Only what was used is measured here (:class:`Usage`); the money is
:mod:`~covalent_braket_plugin.billing.bill`'s, applied when a cost is shown, so a corrected price
corrects old figures too. :func:`measure` is the one way from a job's record and its tasks to its
usage, for the executor's bill, its budgets, the cost reports and the benchmarks alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.billing.prices import FREE_STATUSES, PriceTable, device_key

RESULT_FILE = "results.json"
ENDED_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


def is_simulator(device_arn: str) -> bool:
    """On-demand simulators bill runtime; every other device (QPUs) bills tasks and shots."""
    return device_key(device_arn).startswith("quantum-simulator/")


@dataclass(frozen=True)
class DeviceUsage:
    """The billed tasks of one job on one device.

    ``billed_ms`` is the simulators' billed runtime (each task at least the device's minimum) and None
    on a QPU. ``estimated`` says some runtime was not read from a result (see the module's docstring).
    """

    device_arn: str
    tasks: int
    shots: int
    billed_ms: int | None = None
    estimated: bool = False


@dataclass(frozen=True)
class JobUsage:
    """A job's instances and how long AWS bills them (``billable_ms``, None while nothing is known).

    While the job runs, ``billable_ms`` is its time since ``startedAt`` and ``estimated`` is True.
    """

    job_arn: str
    instance_type: str
    instance_count: int
    billable_ms: int | None
    estimated: bool = False


@dataclass(frozen=True)
class Usage:
    """Everything one job is billed for, as AWS recorded it."""

    job: JobUsage
    devices: tuple[DeviceUsage, ...] = ()

    @property
    def estimated(self) -> bool:
        return self.job.estimated or any(device.estimated for device in self.devices)


def job_usage(record: Mapping[str, Any], now: datetime | None = None) -> JobUsage:
    """The instance part of a GetJob answer; a job still running counts its time since it started."""
    instance = record.get("instanceConfig") or {}
    billable = record.get("billableDuration")
    estimated = False
    if billable is None and not record.get("startedAt"):
        # never started: nothing billed yet, nor ever once it ended
        billable, estimated = 0, record.get("status") not in ENDED_STATUSES
    elif billable is None:
        # running (or ended without a billed figure): its time since it started
        until = record.get("endedAt") or now or datetime.now(UTC)
        billable, estimated = int((until - record["startedAt"]).total_seconds() * 1000), True
    return JobUsage(
        job_arn=record["jobArn"],
        instance_type=str(instance.get("instanceType", "")),
        instance_count=int(instance.get("instanceCount", 1)),
        billable_ms=None if billable is None else max(int(billable), 0),
        estimated=estimated,
    )


def device_usage(
    tasks: Iterable[Mapping[str, Any]],
    prices: PriceTable,
    durations: Mapping[str, int] | None = None,
) -> tuple[DeviceUsage, ...]:
    """Group task summaries by device and measure what each device bills, FAILED and CANCELLED left out.

    ``durations`` maps a simulator task's ARN to its executionDuration (ms) read from its result.
    """
    durations = durations or {}
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for task in tasks:
        if task["status"] not in FREE_STATUSES:
            grouped.setdefault(task["deviceArn"], []).append(task)
    usage = []
    for device_arn, members in sorted(grouped.items()):
        billed_ms: int | None = None
        estimated = False
        if is_simulator(device_arn):
            price = prices.price(device_arn)
            minimum_ms = int(price.minimum_seconds * 1000) if price is not None else 0
            billed_ms = 0
            for task in members:
                measured = durations.get(task["quantumTaskArn"])
                if measured is None:
                    estimated = True
                    ended = task.get("endedAt")
                    measured = int((ended - task["createdAt"]).total_seconds() * 1000) if ended else 0
                billed_ms += max(measured, minimum_ms)
        usage.append(
            DeviceUsage(
                device_arn=device_arn,
                tasks=len(members),
                shots=sum(int(task["shots"]) for task in members),
                billed_ms=billed_ms,
                estimated=estimated,
            )
        )
    return tuple(usage)


def measure(
    record: Mapping[str, Any],
    tasks: Iterable[Mapping[str, Any]],
    prices: PriceTable,
    durations: Mapping[str, int] | None = None,
    now: datetime | None = None,
) -> Usage:
    """The usage of the job of ``record`` (its GetJob answer) and of its task summaries.

    ``durations`` are its simulator tasks' runtimes read from their results
    (:func:`simulator_durations`), where they were read; ``now`` ends the time of a job still running.
    """
    return Usage(job_usage(record, now), device_usage(tasks, prices, durations))


# --- reading the results ----------------------------------------------------------------------------
def simulator_durations(s3: Any, tasks: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """executionDuration (ms) of each COMPLETED simulator task, read from its result in S3.

    A result that cannot be read (deleted, no access, no duration) is left out: its task is then
    estimated from its times instead.
    """
    durations: dict[str, int] = {}
    for task in tasks:
        if task["status"] != "COMPLETED" or not is_simulator(task["deviceArn"]):
            continue
        key = f"{task['outputS3Directory'].rstrip('/')}/{RESULT_FILE}"
        try:
            body = s3.get_object(Bucket=task["outputS3Bucket"], Key=key)["Body"].read()
            metadata = json.loads(body)["additionalMetadata"]["simulatorMetadata"]
            durations[task["quantumTaskArn"]] = int(metadata["executionDuration"])
        except (ClientError, KeyError, TypeError, ValueError):
            continue
    return durations
