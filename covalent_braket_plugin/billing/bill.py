"""What a job cost: its usage priced, and the bill of an electron once its job ended.

The money is kept apart from the usage (:mod:`~covalent_braket_plugin.billing.usage`): amounts come
from the price table with any override, and a price the table does not know leaves the amount
``None`` (shown as unknown), never zero.

When an electron's job has ended, :func:`bill_ended_job` measures it from AWS's records (instance
time from GetJob, tasks by the job's ARN, simulator runtimes from their results), prices it for the
electron's output, and tags the job with the usage (:mod:`~covalent_braket_plugin.billing.tag`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.billing.prices import PriceTable, device_key
from covalent_braket_plugin.billing.tag import COST_TAG, usage_tag
from covalent_braket_plugin.billing.usage import DeviceUsage, Usage, measure, simulator_durations
from covalent_braket_plugin.quantum_tasks import iter_tasks

if TYPE_CHECKING:
    from covalent_braket_plugin.aws import AwsSession

_MS_PER_MINUTE = 60_000


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


def bill_ended_job(aws: AwsSession, record: dict[str, Any], prices: PriceTable) -> ElectronCost:
    """Measure and price the ended job of ``record``, and tag the job with its usage.

    ``record`` may be the watcher's summary, which lacks the instances and the billable time: GetJob
    then gives them.
    """
    braket = aws.client("braket")
    if "billableDuration" not in record or "instanceConfig" not in record:
        record = hybrid_jobs.get_job(braket, record["jobArn"])
    tasks = list(iter_tasks(braket, job_arn=record["jobArn"]))
    usage = measure(record, tasks, prices, simulator_durations(aws.client("s3"), tasks))
    tag = usage_tag(usage)
    if tag is not None:
        braket.tag_resource(resourceArn=record["jobArn"], tags={COST_TAG: tag})
    return price_usage(usage, prices)
