"""What a simulation worker process does: one quantum task's program in, its result document out.

Every device of the local Braket API is backed by one of the simulators that
``braket.devices.LocalSimulator`` uses (entry point group ``braket.simulators``): ``braket_sv`` for
SV1 and the gate-model QPUs, ``braket_dm`` for DM1, ``braket_ahs`` for QuEra Aquila. ``simulate``
runs in a worker process of the task runner (``task_runner.py``), never in the server: the SDK's
simulators use numba, whose default threading layer aborts the whole process when two threads use
it at once. Everything here takes and returns plain data, so it crosses the process boundary.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import numpy
from braket.tasks import GateModelQuantumTaskResult

from covalent_braket_plugin.local.braket_api.devices import AHS, JAQCD, OPENQASM, Device

LOCAL_QUBIT_LIMITS = {"braket_sv": 26, "braket_dm": 13, "braket_ahs": 12}
"""Most qubits (atoms) the stack simulates per backend: a state vector of 26 qubits or a density
matrix of 13 takes 1 GiB; the Rydberg simulator slows to a crawl past a dozen atoms."""


def action_kind(action: dict[str, Any]) -> str:
    """The IR name in the action's braketSchemaHeader (``braket.ir.openqasm.program`` ...)."""
    header = action.get("braketSchemaHeader")
    return header.get("name", "") if isinstance(header, dict) else ""


def parse_program(action: dict[str, Any]) -> Any:
    """The IR program object of an action document; raises ValueError when it is not one."""
    kind = action_kind(action)
    if kind == OPENQASM:
        from braket.ir.openqasm import Program
    elif kind == JAQCD:
        from braket.ir.jaqcd import Program
    elif kind == AHS:
        from braket.ir.ahs import Program
    else:
        raise ValueError(
            f"unsupported action type {kind or '(no braketSchemaHeader)'}; use {OPENQASM}, {JAQCD} or {AHS}"
        )
    try:
        return Program.parse_obj(action)
    except Exception as exc:
        raise ValueError(f"invalid {kind} action: {exc}") from None


@cache
def _simulator_class(name: str) -> Any:
    """The simulator class registered under ``name``; reading entry points costs ~30 ms, so once."""
    (entry,) = [e for e in entry_points(group="braket.simulators") if e.name == name]
    return entry.load()


def warm_up() -> None:
    """Import the simulators once per worker process, before its first task."""
    for name in LOCAL_QUBIT_LIMITS:
        _simulator_class(name)


def program_qubits(simulator: Any, program: Any, kind: str) -> int:
    """How many qubits (atoms, for AHS) ``program`` uses, found without simulating it."""
    if kind == OPENQASM:
        return int(simulator.parse_program(program).num_qubits)
    if kind == JAQCD:
        used = [-1]
        for instruction in program.instructions:
            for name in ("target", "control"):
                if getattr(instruction, name, None) is not None:
                    used.append(getattr(instruction, name))
            for name in ("targets", "controls"):
                used.extend(getattr(instruction, name, None) or [])
        return max(used) + 1
    return len(program.setup.ahs_register.sites)


def simulate(device: Device, action: dict[str, Any], shots: int, task_arn: str) -> dict[str, Any]:
    """Run ``action`` on the simulator behind ``device``; the result document as AWS stores it.

    Programs larger than the device, or than the stack can simulate in reasonable memory and time
    (``LOCAL_QUBIT_LIMITS``), raise ValueError, which fails the task with that reason.
    """
    kind = action_kind(action)
    accepted = (AHS,) if device.simulator == "braket_ahs" else (OPENQASM, JAQCD)
    if kind not in accepted:
        raise ValueError(f"device {device.arn} does not support {kind}")
    program = parse_program(action)
    simulator = _simulator_class(device.simulator)()
    qubits = program_qubits(simulator, program, kind)
    if qubits > device.qubit_count:
        raise ValueError(f"the program uses {qubits} qubits; {device.name} has {device.qubit_count}")
    limit = LOCAL_QUBIT_LIMITS[device.simulator]
    if qubits > limit:
        raise ValueError(
            f"the program uses {qubits} qubits; the local Braket stack simulates at most {limit} on "
            f"{device.name} (local simulator {device.simulator})"
        )
    result = simulator.run(program, shots=shots)
    document = json.loads(result.json(exclude_none=True))
    if document.get("resultTypes") and "value" not in document["resultTypes"][0]:
        # With shots, the local simulators return the requested result types without values (the
        # SDK's LocalSimulator computes them in memory); results.json on AWS holds them computed,
        # the only form AwsQuantumTask.result() parses.
        document["resultTypes"] = [
            {"type": json.loads(rt.type.json(exclude_none=True)), "value": numpy.asarray(rt.value).tolist()}
            for rt in GateModelQuantumTaskResult.from_object(result).result_types
        ]
    document["taskMetadata"].update({"id": task_arn, "deviceId": device.arn, "shots": shots})
    return document
