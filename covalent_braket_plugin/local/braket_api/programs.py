"""Reading the programs of quantum tasks: the action's IR kind and its parsed form.

Used by the backend to validate CreateQuantumTask before a task exists (as AWS does) and by the
simulation workers to run the program.
"""

from __future__ import annotations

from typing import Any

from covalent_braket_plugin.local.braket_api.devices import AHS, JAQCD, OPENQASM


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
