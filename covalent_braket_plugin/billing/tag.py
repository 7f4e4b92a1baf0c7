"""A job's usage kept with the job, as its ``covalent:cost`` tag.

When a job has ended, the executor tags it with what the searches of ``covalent-braket cost``
cannot tell: its billable time and instances (GetJob only) and each simulator's billed time (the
results only). So a workflow's report needs no call per job, from any machine, long after the
electron's objects were cleaned up; tasks and shots come from the search by the job's ARN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from covalent_braket_plugin.billing.prices import PriceTable, device_key
from covalent_braket_plugin.billing.usage import DeviceUsage, JobUsage, Usage, device_usage

COST_TAG = "covalent:cost"
"""Tag of a job whose usage the executor recorded when the job ended (see :func:`usage_tag`)."""
TAG_VALUE_MAX = 256
"""The longest tag value Braket keeps."""


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
