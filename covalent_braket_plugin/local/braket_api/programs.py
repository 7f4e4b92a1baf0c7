"""Reading the programs of quantum tasks: the action's IR kind, its parsed form, what it measures.

Used by the backend to validate CreateQuantumTask before a task exists (as AWS does) and by the
simulation workers to run the program.
"""

from __future__ import annotations

import re
from typing import Any

from covalent_braket_plugin.local.braket_api.devices import AHS, JAQCD, OPENQASM, PROGRAM_SET


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
    elif kind == PROGRAM_SET:
        from braket.ir.openqasm import ProgramSet as Program
    else:
        raise ValueError(
            f"unsupported action type {kind or '(no braketSchemaHeader)'}; "
            f"use {OPENQASM}, {PROGRAM_SET}, {JAQCD} or {AHS}"
        )
    try:
        return Program.parse_obj(action)
    except Exception as exc:
        raise ValueError(f"invalid {kind} action: {exc}") from None
def executable_inputs(program: Any, index: int) -> dict[str, Any]:
    """The inputs of a program set's program for its executable ``index``."""
    return {name: values[index] for name, values in (program.inputs or {}).items()}


_MEASURE = re.compile(r"\bmeasure\b")
_REGISTER = re.compile(r"(?:^|;)\s*qubit\s*\[\s*(\d+)\s*\]\s*(\w+)\s*;", re.MULTILINE)
_MEASURED = re.compile(r"\bmeasure\s+(\w+)\s*(?:\[\s*(\d+)\s*\])?\s*;")


def measures_every_qubit(source: str, inputs: dict[str, Any] | None = None) -> bool:
    """Whether an OpenQASM program that measures measures all the qubits it declares, contiguously.

    A program without ``measure`` is measured whole. The form the Braket SDK writes (one
    ``qubit[n]`` register, ``measure q[i]`` or ``measure q``) is read directly; anything else is
    interpreted with the local simulator's OpenQASM interpreter, which costs far more.
    """
    if not _MEASURE.search(source):
        return True
    registers = _REGISTER.findall(source)
    targets = _MEASURED.findall(source)
    if len(registers) == 1 and len(targets) == len(_MEASURE.findall(source)) and "$" not in source:
        size, name = int(registers[0][0]), registers[0][1]
        if all(register == name for register, _ in targets):
            if any(not index for _, index in targets):  # ``measure q``: the whole register
                return True
            return {int(index) for _, index in targets} == set(range(size))
    from braket.default_simulator.openqasm.interpreter import Interpreter

    try:
        circuit = Interpreter().build_circuit(source, inputs or {})
    except Exception:  # an invalid program fails its task with the simulator's reason instead
        return True
    used = set(circuit.qubit_set) | set(range(circuit.num_qubits))
    return set(circuit.measured_qubits) == used == set(range(len(used)))
