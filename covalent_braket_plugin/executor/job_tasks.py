"""The quantum tasks a job created, per device: how many, how many shots, in which statuses.

Found as ``AwsQuantumJob`` cannot find them: SearchQuantumTasks filtered by the job's ARN (the
tasks a job creates carry it), one call per 100 tasks. The electron's output ends with a line per
device, and ``covalent-braket jobs tasks`` prints the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from covalent_braket_plugin.quantum_tasks import iter_tasks


@dataclass
class DeviceTasks:
    """The job's tasks on one device."""

    device_arn: str
    tasks: int = 0
    shots: int = 0
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def device(self) -> str:
        """The device's short name: the end of its ARN (``quantum-simulator/amazon/sv1`` -> ``sv1``)."""
        return self.device_arn.rsplit("/", 1)[-1]

    def status_text(self) -> str:
        return ", ".join(f"{count} {status}" for status, count in sorted(self.statuses.items()))

    def line(self) -> str:
        return (f"{self.device}: {self.tasks} task{'s' if self.tasks != 1 else ''}, {self.shots} shots "
                f"({self.status_text()})")

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device_arn, "tasks": self.tasks, "shots": self.shots,
                "statuses": dict(sorted(self.statuses.items()))}


def per_device(tasks: Iterable[Mapping[str, Any]]) -> list[DeviceTasks]:
    """Task summaries (SearchQuantumTasks') counted per device, in device order."""
    devices: dict[str, DeviceTasks] = {}
    for task in tasks:
        device = devices.setdefault(task["deviceArn"], DeviceTasks(task["deviceArn"]))
        device.tasks += 1
        device.shots += int(task.get("shots") or 0)
        device.statuses[task["status"]] += 1
    return [devices[arn] for arn in sorted(devices)]


def job_tasks(braket: Any, job_arn: str) -> list[DeviceTasks]:
    """The tasks of the job ``job_arn``, per device."""
    return per_device(iter_tasks(braket, job_arn=job_arn))


def report(braket: Any, job_arn: str) -> str:
    """The lines the electron's output ends with: one per device, or nothing when the job made no task."""
    return "".join(f"Braket job quantum tasks: {device.line()}\n" for device in job_tasks(braket, job_arn))
