"""A first look at the local Braket stack: a Bell circuit on SV1 through the official Braket SDK.

Run it against a stack started with ``covalent-braket local up`` after
``eval "$(covalent-braket local env)"`` (``scripts/demo`` does all of that). Nothing here knows about
the local stack: the same program runs against AWS with real credentials.
"""

from __future__ import annotations

from braket.aws import AwsDevice, AwsQuantumTask
from braket.circuits import Circuit
from braket.devices import Devices

SHOTS = 1000


def bell_counts(shots: int = SHOTS) -> dict[str, int]:
    """Run a Bell pair on SV1 and return the measured counts (about half "00", half "11")."""
    device = AwsDevice(Devices.Amazon.SV1)
    task: AwsQuantumTask = device.run(Circuit().h(0).cnot(0, 1), shots=shots)
    print(f"quantum task {task.id}: {task.state()}")
    result = task.result()
    print(f"quantum task {task.id}: {task.state()}")
    return dict(sorted(result.measurement_counts.items()))


def main() -> None:
    device = AwsDevice(Devices.Amazon.SV1)
    print(f"device: {device.name} ({device.arn}), status {device.status}")
    counts = bell_counts()
    print(f"Bell circuit on SV1, {SHOTS} shots: {counts}")
    if set(counts) != {"00", "11"}:
        raise SystemExit(f"a Bell pair measures only 00 and 11, got {counts}")


if __name__ == "__main__":
    main()
