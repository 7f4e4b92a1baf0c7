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
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import numpy
from braket.tasks import GateModelQuantumTaskResult

from covalent_braket_plugin.local.braket_api.devices import AHS, JAQCD, OPENQASM, PROGRAM_SET, Device
from covalent_braket_plugin.local.braket_api.programs import action_kind, executable_inputs, parse_program
from covalent_braket_plugin.local.braket_api.protocol import format_timestamp

LOCAL_QUBIT_LIMITS = {"braket_sv": 26, "braket_dm": 13, "braket_ahs": 12}
"""Most qubits (atoms) the stack simulates per backend: a state vector of 26 qubits or a density
matrix of 13 takes 1 GiB; the Rydberg simulator slows to a crawl past a dozen atoms."""


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


def simulate(
    device: Device, action: dict[str, Any], shots: int, task_arn: str, device_parameters: str = "{}"
) -> dict[str, Any]:
    """Run ``action`` on the simulator behind ``device``; the result document as AWS stores it.

    Programs larger than the device, or than the stack can simulate in reasonable memory and time
    (``LOCAL_QUBIT_LIMITS``), raise ValueError, which fails the task with that reason.
    """
    kind = action_kind(action)
    if kind == PROGRAM_SET:
        return _simulate_program_set(device, action, shots, task_arn, device_parameters)
    accepted = (AHS,) if device.simulator == "braket_ahs" else (OPENQASM, JAQCD)
    if kind not in accepted:
        raise ValueError(f"device {device.arn} does not support {kind}")
    program = parse_program(action)
    gradient = None
    if kind == OPENQASM:
        program, gradient = _prepare_openqasm(program, shots)
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
    started = time.perf_counter()
    result = simulator.run(program, shots=shots)
    result_types = getattr(result, "resultTypes", None) or []  # AHS results have none
    if gradient is not None:
        result_types = [gradient.result_type(simulator, program)]
    elif result_types and shots:
        # With shots, the local simulators return the requested result types without values (the
        # SDK's LocalSimulator computes them in memory); results.json on AWS holds them computed,
        # the only form AwsQuantumTask.result() parses.
        result_types = GateModelQuantumTaskResult.from_object(result).result_types
    duration_ms = max(1, math.ceil((time.perf_counter() - started) * 1000))
    if kind == AHS:
        document = json.loads(result.json(exclude_none=True))
    else:
        document = json.loads(result.json(exclude_none=True, exclude={"resultTypes"}))
        if result_types:
            document["resultTypes"] = [_result_type_document(rt) for rt in result_types]
        if not document.get("measurements"):
            document.pop("measurements", None)  # shots=0: AWS leaves it out; [] is not a valid list
        document["additionalMetadata"]["action"] = action
        document["additionalMetadata"]["simulatorMetadata"] = {
            "braketSchemaHeader": {"name": "braket.task_result.simulator_metadata", "version": "1"},
            "executionDuration": duration_ms,
        }
    document["taskMetadata"].update({"id": task_arn, "deviceId": device.arn, "shots": shots})
    parameters = json.loads(device_parameters or "{}")
    if parameters:
        document["taskMetadata"]["deviceParameters"] = parameters
    return document


def _simulate_program_set(
    device: Device, action: dict[str, Any], shots: int, task_arn: str, device_parameters: str
) -> dict[str, Any]:
    """Run every executable of a program set (each program once per value of its inputs) with an
    equal share of the shots; the ``ProgramSetTaskResult`` document, results inline."""
    program_set = parse_program(action)
    per_executable = shots // program_set.num_executables
    created = format_timestamp(datetime.now(UTC))
    program_results = []
    for program, count in zip(program_set.programs, program_set.num_executables_per_program, strict=True):
        executables = []
        for index in range(count):
            single = {
                "braketSchemaHeader": {"name": OPENQASM, "version": "1"},
                "source": program.source,
                "inputs": executable_inputs(program, index),
            }
            document = simulate(device, single, per_executable, task_arn)
            executables.append(
                {
                    "braketSchemaHeader": _header("program_set_executable_result"),
                    "inputsIndex": index,
                    "measurements": document["measurements"],
                    "measuredQubits": document["measuredQubits"],
                }
            )
        program_results.append(
            {
                "braketSchemaHeader": _header("program_result"),
                "executableResults": executables,
                "source": json.loads(program.json(exclude_none=True)),
                "additionalMetadata": {"action": json.loads(program.json(exclude_none=True))},
            }
        )
    metadata: dict[str, Any] = {
        "braketSchemaHeader": _header("program_set_task_metadata"),
        "id": task_arn,
        "deviceId": device.arn,
        "requestedShots": shots,
        "successfulShots": per_executable * program_set.num_executables,
        "programMetadata": [{"executables": [{}] * n} for n in program_set.num_executables_per_program],
        "createdAt": created,
        "endedAt": format_timestamp(datetime.now(UTC)),
        "status": "COMPLETED",
        "totalFailedExecutables": 0,
    }
    parameters = json.loads(device_parameters or "{}")
    if parameters:
        metadata["deviceParameters"] = parameters
    return {
        "braketSchemaHeader": _header("program_set_task_result"),
        "programResults": program_results,
        "taskMetadata": metadata,
    }


def _header(name: str) -> dict[str, str]:
    return {"name": f"braket.task_result.{name}", "version": "1"}


def _result_type_document(result_type: Any) -> dict[str, Any]:
    type_ = result_type.type
    return {
        "type": type_ if isinstance(type_, dict) else json.loads(type_.json(exclude_none=True)),
        "value": _plain(result_type.value),
    }


def _plain(value: Any) -> Any:
    """A result value as JSON holds it: complex numbers as [real, imaginary] pairs (amplitude,
    state_vector, density_matrix), arrays as lists, the way AWS writes results.json."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    array = numpy.asarray(value)
    if numpy.iscomplexobj(array):
        return numpy.stack([array.real, array.imag], axis=-1).tolist()
    return array.tolist()


_QUBITS = re.compile(r"\([^()]*\)")
_PRAGMA_AFTER_CODE = re.compile(r"(?<=\S)[ \t]*(?=#pragma\b)")
_ADJOINT_GRADIENT = re.compile(
    r"^[ \t]*#pragma\s+braket\s+result\s+adjoint_gradient\s+expectation\((?P<observable>.*)\)"
    r"\s+(?P<parameters>[^\n]*?)\s*$",
    re.MULTILINE,
)
_TERM = re.compile(
    r"\s*(?P<sign>[+-])?\s*(?:(?P<coefficient>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*\*\s*)?"
    r"(?P<product>[a-z]+\([^()]*\)(?:\s*@\s*[a-z]+\([^()]*\))*)\s*"
)


def _prepare_openqasm(program: Any, shots: int) -> tuple[Any, AdjointGradient | None]:
    """The program the local simulator can run: each pragma on a line of its own (AWS reads several
    result pragmas on one line; the local parser keeps the first), and an adjoint gradient replaced
    by the expectations of its terms, which ``AdjointGradient`` turns into the gradient."""
    source = _PRAGMA_AFTER_CODE.sub("\n", program.source)
    gradient = None
    match = _ADJOINT_GRADIENT.search(source)
    if match:
        if shots:
            raise ValueError("adjoint_gradient result type requires shots=0")
        gradient = AdjointGradient.parse(match["observable"], match["parameters"], program.inputs or {})
        pragmas = "\n".join(f"#pragma braket result expectation {term}" for _, term in gradient.terms)
        source = source[: match.start()] + pragmas + source[match.end() :]
    return program.copy(update={"source": source}), gradient


@dataclass(frozen=True)
class _Value:
    """A computed result type: its type document and value."""

    type: dict[str, Any]
    value: Any


@dataclass(frozen=True)
class AdjointGradient:
    """SV1's adjoint_gradient result type, computed from expectations of the observable's terms.

    The local simulator has no adjoint differentiation; the gradient here is a five-point central
    difference of the expectation in each input, accurate to about 1e-10 for the smooth (sums of
    sines and cosines) expectations of parametrised circuits.
    """

    terms: tuple[tuple[float, str], ...]
    parameters: tuple[str, ...]
    step: float = 1e-3

    @classmethod
    def parse(cls, observable: str, parameters: str, inputs: dict[str, float]) -> AdjointGradient:
        terms: list[tuple[float, str]] = []
        position = 0
        for match in _TERM.finditer(observable):
            if match.start() != position or (terms and not match["sign"]):
                break
            sign = -1.0 if match["sign"] == "-" else 1.0
            terms.append((sign * float(match["coefficient"] or 1.0), match["product"]))
            position = match.end()
        if not terms or position != len(observable):
            raise ValueError(f"unsupported adjoint_gradient observable: {observable}")
        names = [name.strip() for name in parameters.split(",") if name.strip()]
        if names == ["all"]:
            names = list(inputs)
        unknown = [name for name in names if name not in inputs]
        if unknown:
            raise ValueError(f"adjoint_gradient parameters without an input value: {', '.join(unknown)}")
        return cls(tuple(terms), tuple(names))

    def observable_name(self) -> str:
        """The observable without its qubits, as AWS reports it (``2 * x + 3 * y - 1 * z``)."""
        text = ""
        for coefficient, product in self.terms:
            factor = f"{abs(coefficient):g} * " if coefficient != 1.0 or len(self.terms) > 1 else ""
            sign = ("- " if coefficient < 0 else "+ ") if text else ("-" if coefficient < 0 else "")
            operators = _QUBITS.sub("", product)
            text += f"{' ' if text else ''}{sign}{factor}{operators}"
        return text

    def targets(self) -> list[list[int]]:
        return [[int(q) for q in re.findall(r"(?:\[|\$)(\d+)", product)] for _, product in self.terms]

    def expectation(self, simulator: Any, program: Any, inputs: dict[str, float]) -> float:
        result = simulator.run(program.copy(update={"inputs": inputs}), shots=0)
        values = [result_type.value for result_type in result.resultTypes]
        return float(sum(c * v for (c, _), v in zip(self.terms, values, strict=True)))

    def result_type(self, simulator: Any, program: Any) -> _Value:
        inputs = dict(program.inputs or {})
        gradient = {}
        for name in self.parameters:
            at = [self.expectation(simulator, program, {**inputs, name: inputs[name] + k * self.step})
                  for k in (-2, -1, 1, 2)]
            gradient[name] = (at[0] - 8 * at[1] + 8 * at[2] - at[3]) / (12 * self.step)
        return _Value(
            {
                "type": "adjoint_gradient",
                "observable": self.observable_name(),
                "targets": self.targets(),
                "parameters": list(self.parameters),
            },
            {"expectation": self.expectation(simulator, program, inputs), "gradient": gradient},
        )
