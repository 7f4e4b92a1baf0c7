"""Simulation of one quantum task in a worker: results in the Braket schema, size limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from braket.tasks import GateModelQuantumTaskResult

from covalent_braket_plugin.local.braket_api.devices import DEVICES
from covalent_braket_plugin.local.braket_api.simulation import LOCAL_QUBIT_LIMITS, simulate

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
IBEX = "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1"


def openqasm(qubits: int) -> dict[str, Any]:
    source = f"OPENQASM 3; const int n = {qubits}; qubit[n] q; bit[n] c; h q[0]; c = measure q;"
    return {"braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"}, "source": source}


def test_result_document_is_a_gate_model_result_of_the_task() -> None:
    document = simulate(DEVICES[DM1], openqasm(2), 25, "arn:task")
    assert document["braketSchemaHeader"]["name"] == "braket.task_result.gate_model_task_result"
    assert document["taskMetadata"]["id"] == "arn:task"
    assert document["taskMetadata"]["deviceId"] == DM1
    assert document["taskMetadata"]["shots"] == 25
    assert len(document["measurements"]) == 25
    json.dumps(document)


def test_result_types_with_shots_are_stored_with_their_values_as_aws_stores_them() -> None:
    source = (
        "OPENQASM 3; qubit[2] q; x q[0]; cnot q[0], q[1];"
        " #pragma braket result expectation z(q[1])\n#pragma braket result probability q[0], q[1]"
    )
    program = {"braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"}, "source": source}
    document = simulate(DEVICES[SV1], program, 50, "arn:task")
    assert all("value" in result_type for result_type in document["resultTypes"])
    parsed = GateModelQuantumTaskResult.from_string(json.dumps(document))
    expectation, probabilities = parsed.values
    assert expectation == -1.0
    assert list(probabilities) == [0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("device", "program", "reason"),
    [
        (SV1, openqasm(LOCAL_QUBIT_LIMITS["braket_sv"] + 1), "simulates at most 26"),
        (DM1, openqasm(LOCAL_QUBIT_LIMITS["braket_dm"] + 1), "simulates at most 13"),
        (SV1, openqasm(35), "SV1 has 34"),
        (IBEX, openqasm(13), "Ibex-Q1 has 12"),
        (
            SV1,
            {
                "braketSchemaHeader": {"name": "braket.ir.jaqcd.program", "version": "1"},
                "instructions": [{"type": "cnot", "control": 30, "target": 0}],
            },
            "uses 31 qubits",
        ),
        (SV1, {"braketSchemaHeader": {"name": "braket.ir.ahs.program", "version": "1"}}, "does not support"),
    ],
)
def test_programs_too_large_or_of_the_wrong_kind_fail_with_a_reason(
    device: str, program: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        simulate(DEVICES[device], program, 10, "arn:task")


def test_results_without_shots_leave_out_measurements_and_carry_metadata() -> None:
    source = "OPENQASM 3; qubit[1] q; h q[0];\n#pragma braket result amplitude \"0\", \"1\""
    program = {"braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"}, "source": source}
    document = simulate(DEVICES[SV1], program, 0, "arn:task")
    assert "measurements" not in document
    assert document["resultTypes"][0]["value"] == {"0": [pytest.approx(0.5**0.5), 0.0],
                                                   "1": [pytest.approx(0.5**0.5), 0.0]}
    assert document["additionalMetadata"]["simulatorMetadata"]["executionDuration"] >= 1
    assert document["additionalMetadata"]["action"] == program


@pytest.mark.parametrize(
    ("pragma", "shots", "reason"),
    [
        ("adjoint_gradient expectation(z(q[0])) t", 10, "requires shots=0"),
        ("adjoint_gradient expectation(hermitian([[1, 0], [0, 1]]) q[0]) t", 0, "unsupported"),
        ("adjoint_gradient expectation(z(q[0])) u", 0, "without an input value: u"),
    ],
)
def test_adjoint_gradients_the_stack_cannot_compute_fail_with_a_reason(
    pragma: str, shots: int, reason: str
) -> None:
    source = f"OPENQASM 3; input float t; qubit[1] q; rx(t) q[0];\n#pragma braket result {pragma}"
    program = {
        "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
        "source": source,
        "inputs": {"t": 0.1},
    }
    with pytest.raises(ValueError, match=reason):
        simulate(DEVICES[SV1], program, shots, "arn:task")


def test_program_set_runs_each_executable_with_its_share_of_the_shots() -> None:
    from braket.task_result import ProgramSetTaskResult

    source = "OPENQASM 3.0; input float t; qubit[1] q; bit[1] c; rx(t) q[0]; c = measure q;"
    action = {
        "braketSchemaHeader": {"name": "braket.ir.openqasm.program_set", "version": "1"},
        "programs": [{"source": source, "inputs": {"t": [0.0, 3.141592653589793]}}, openqasm(2)],
    }
    document = simulate(DEVICES[SV1], action, 30, "arn:task")
    result = ProgramSetTaskResult.parse_raw_schema(json.dumps(document))
    rotated, bell = result.programResults
    assert [e.measurements for e in rotated.executableResults] == [[[0]] * 10, [[1]] * 10]
    assert [e.inputsIndex for e in rotated.executableResults] == [0, 1]
    assert len(bell.executableResults[0].measurements) == 10
    assert result.taskMetadata.requestedShots == result.taskMetadata.successfulShots == 30
    assert [len(p.executables) for p in result.taskMetadata.programMetadata] == [2, 1]
