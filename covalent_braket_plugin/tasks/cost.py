"""What one hybrid job cost, from AWS's own records: its instance time and its quantum tasks.

The bill of a job has two parts. Its instances: GetJob's ``billableDuration`` (milliseconds) times the
instance type's hourly price times the instance count, all three from the job's record. Its quantum
tasks, found by the job's ARN with SearchQuantumTasks: a QPU task costs its per-task fee plus its
shots, whatever happened to it but failing or being cancelled; an on-demand simulator task costs its
runtime, each task billed at least the device's minimum. A task summary does not carry that runtime;
the result the simulator wrote does (``additionalMetadata.simulatorMetadata.executionDuration``), so
it is read from S3 once the task has ended. A simulator task whose result cannot be read is counted
from ``createdAt`` to ``endedAt`` (an upper bound) and one still running at its minimum (a lower
bound); either marks the figure *estimated*.

The measured part (:class:`Usage`) is kept apart from the money (:class:`ElectronCost`): usage is what
AWS recorded and is stored with the job (:func:`usage_tag`), prices are applied when a cost is shown,
from the price table with any override. A price the table does not know leaves the amount ``None``
(shown as unknown), never zero.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.quantum_tasks import iter_tasks
from covalent_braket_plugin.tasks.pricing import FREE_STATUSES, PriceTable, device_key

COST_TAG = "covalent:cost"
"""Tag of a job whose usage the executor recorded when the job ended (see :func:`usage_tag`)."""
TAG_VALUE_MAX = 256
"""The longest tag value Braket keeps."""
RESULT_FILE = "results.json"
ENDED_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})

_MS_PER_MINUTE = 60_000


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


# --- reading the records ----------------------------------------------------------------------------
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


def measure_job(braket: Any, s3: Any, job_record: Mapping[str, Any], prices: PriceTable) -> Usage:
    """The usage of one job from its GetJob record, its tasks and its simulator results."""
    tasks = list(iter_tasks(braket, job_arn=job_record["jobArn"]))
    return Usage(job_usage(job_record), device_usage(tasks, prices, simulator_durations(s3, tasks)))


# --- kept with the job: the usage as a tag ----------------------------------------------------------
def usage_tag(usage: Usage) -> str | None:
    """The usage as a tag value, or None when it does not fit in one.

    What the searches cannot tell is kept: the job's billable time and instances (GetJob only) and
    each simulator's billed time (results only). Tasks and shots are not: a search by job ARN lists
    them. Example: ``v1 job=ml.m5.large*1*184211 quantum-simulator/amazon/sv1=183000``; a ``~`` after
    a figure marks it estimated.
    """
    job = usage.job
    if job.billable_ms is None:
        return None
    parts = ["v1", f"job={job.instance_type}*{job.instance_count}*{job.billable_ms}{_mark(job.estimated)}"]
    parts += [
        f"{device_key(d.device_arn)}={d.billed_ms}{_mark(d.estimated)}"
        for d in usage.devices
        if d.billed_ms is not None
    ]
    text = " ".join(parts)
    return text if len(text) <= TAG_VALUE_MAX else None


def _mark(estimated: bool) -> str:
    return "~" if estimated else ""


@dataclass(frozen=True)
class TaggedUsage:
    """What a job's cost tag holds: its instance usage and its simulators' billed time by device key."""

    job: JobUsage
    simulator_ms: dict[str, tuple[int, bool]] = field(default_factory=dict)


def read_usage_tag(job_arn: str, text: str) -> TaggedUsage | None:
    """The usage a tag written by :func:`usage_tag` holds; None for a value it did not write."""
    parts = text.split()
    if not parts or parts[0] != "v1":
        return None
    job: JobUsage | None = None
    simulators: dict[str, tuple[int, bool]] = {}
    try:
        for part in parts[1:]:
            name, _, value = part.partition("=")
            estimated = value.endswith("~")
            value = value.rstrip("~")
            if name == "job":
                instance_type, count, billable = value.rsplit("*", 2)
                job = JobUsage(job_arn, instance_type, int(count), int(billable), estimated)
            else:
                simulators[name] = (int(value), estimated)
    except ValueError:
        return None
    return None if job is None else TaggedUsage(job, simulators)


def usage_from_records(
    tagged: TaggedUsage, tasks: Iterable[Mapping[str, Any]], prices: PriceTable
) -> Usage:
    """A job's usage from its cost tag and its task summaries (tasks and shots from the search)."""
    devices = []
    for device in device_usage(tasks, prices):
        if device.billed_ms is not None and device_key(device.device_arn) in tagged.simulator_ms:
            billed, estimated = tagged.simulator_ms[device_key(device.device_arn)]
            device = DeviceUsage(device.device_arn, device.tasks, device.shots, billed, estimated)
        devices.append(device)
    return Usage(tagged.job, tuple(devices))


# --- the money ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceCost:
    usage: DeviceUsage
    name: str
    cost: Decimal | None


@dataclass(frozen=True)
class ElectronCost:
    """A job's usage priced: each amount None when its price is unknown."""

    usage: Usage
    currency: str
    job_cost: Decimal | None
    devices: tuple[DeviceCost, ...]

    @property
    def tasks_cost(self) -> Decimal | None:
        costs = [device.cost for device in self.devices]
        return None if None in costs else sum(costs, Decimal(0))  # type: ignore[arg-type]

    @property
    def total(self) -> Decimal | None:
        tasks = self.tasks_cost
        return None if self.job_cost is None or tasks is None else self.job_cost + tasks

    @property
    def known(self) -> Decimal:
        """The part whose prices are known (all of it when ``total`` is not None)."""
        amounts = [self.job_cost, *(device.cost for device in self.devices)]
        return sum((amount for amount in amounts if amount is not None), Decimal(0))

    @property
    def unpriced(self) -> tuple[str, ...]:
        """What has no price: the instance type and devices, by name."""
        names = [self.usage.job.instance_type] if self.job_cost is None else []
        return tuple(names + [device.name for device in self.devices if device.cost is None])

    def line(self) -> str:
        """``cost: $0.42 = job 0.15 (ml.m5.large, 3 min) + 61 tasks on SV1 0.27`` for the output."""
        job = self.usage.job
        total = f"${self.total:.2f}" if self.total is not None else f"unknown (known part ${self.known:.2f})"
        duration = "time unknown" if job.billable_ms is None else _duration(job.billable_ms)
        count = f"{job.instance_count} x " if job.instance_count != 1 else ""
        parts = [f"job {_amount(self.job_cost)} ({count}{job.instance_type}, {duration})"]
        parts += [
            f"{device.usage.tasks} task{'s' if device.usage.tasks != 1 else ''} on {device.name} "
            f"{_amount(device.cost)}"
            for device in self.devices
        ]
        estimated = " (estimated)" if self.usage.estimated else ""
        return f"cost: {total} = {' + '.join(parts)}{estimated}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document; amounts are decimal strings so no digit is lost."""
        job = self.usage.job
        return {
            "job_arn": job.job_arn,
            "currency": self.currency,
            "total": _text(self.total),
            "known": str(self.known),
            "unpriced": list(self.unpriced),
            "estimated": self.usage.estimated,
            "job": {
                "instance_type": job.instance_type,
                "instance_count": job.instance_count,
                "billable_ms": job.billable_ms,
                "estimated": job.estimated,
                "cost": _text(self.job_cost),
            },
            "devices": [
                {
                    "device_arn": device.usage.device_arn,
                    "name": device.name,
                    "tasks": device.usage.tasks,
                    "shots": device.usage.shots,
                    "billed_ms": device.usage.billed_ms,
                    "estimated": device.usage.estimated,
                    "cost": _text(device.cost),
                }
                for device in self.devices
            ],
        }


def price_usage(usage: Usage, prices: PriceTable) -> ElectronCost:
    """Apply the price table to ``usage``."""
    job = usage.job
    job_cost = (
        None
        if job.billable_ms is None
        else prices.job_cost(job.instance_type, job.billable_ms, job.instance_count)
    )
    return ElectronCost(
        usage=usage,
        currency=prices.currency,
        job_cost=job_cost,
        devices=tuple(_device_cost(device, prices) for device in usage.devices),
    )


def _device_cost(device: DeviceUsage, prices: PriceTable) -> DeviceCost:
    price = prices.price(device.device_arn)
    name = price.name if price is not None else device_key(device.device_arn).rsplit("/", 1)[-1]
    cost: Decimal | None
    if price is None:
        cost = None
    elif device.billed_ms is not None:
        cost = None if price.per_minute is None else price.per_minute * device.billed_ms / _MS_PER_MINUTE
    elif price.per_shot is None:
        cost = None
    else:
        cost = (price.per_task or Decimal(0)) * device.tasks + price.per_shot * device.shots
    return DeviceCost(device, name, cost)


def _amount(amount: Decimal | None) -> str:
    return "unknown" if amount is None else f"{amount:.2f}"


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _duration(ms: int) -> str:
    seconds = timedelta(milliseconds=ms).total_seconds()
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
