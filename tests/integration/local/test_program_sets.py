"""Program sets (``braket.ir.openqasm.program_set``) through the unmodified Braket SDK: SV1 and DM1
run every executable of the set with its share of the shots, as AWS does."""

from __future__ import annotations

import math

import boto3
import pytest
from botocore.exceptions import ClientError
from braket.aws import AwsDevice
from braket.circuits import Circuit, FreeParameter, Observable
from braket.program_sets import CircuitBinding, ProgramSet

from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"


@pytest.mark.parametrize("device", [SV1, DM1])
def test_a_program_set_runs_each_program(braket_local_env: LocalStack, device: str) -> None:
    task = AwsDevice(device).run(ProgramSet([Circuit().h(0), Circuit().x(0).cnot(0, 1)]), shots=10)
    result = task.result()
    assert [len(entry.entries) for entry in result.entries] == [1, 1]
    first, second = result[0][0], result[1][0]
    assert sum(first.counts.values()) == 5 and set(first.counts) <= {"0", "1"}
    assert second.counts == {"11": 5}
    metadata = boto3.client("braket").get_quantum_task(quantumTaskArn=task.id)["actionMetadata"]
    assert metadata == {
        "actionType": "braket.ir.openqasm.program_set",
        "programCount": 2,
        "executableCount": 2,
    }


def test_a_program_set_binds_inputs_and_measures_observables(braket_local_env: LocalStack) -> None:
    theta = FreeParameter("theta")
    binding = CircuitBinding(
        Circuit().rx(0, theta), input_sets={"theta": [0.0, math.pi]}, observables=[Observable.Z(0)]
    )
    program_set = ProgramSet(binding, shots_per_executable=50)
    result = AwsDevice(SV1).run(program_set).result()
    assert [entry.expectation for entry in result[0].entries] == [pytest.approx(1.0), pytest.approx(-1.0)]
    assert result.task_metadata.requestedShots == 100


def test_program_set_shots_must_split_evenly(braket_local_env: LocalStack) -> None:
    with pytest.raises(ClientError) as caught:
        AwsDevice(SV1).run(ProgramSet([Circuit().h(0), Circuit().h(0), Circuit().h(0)]), shots=10)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "multiple of the program set's 3 executables" in caught.value.response["Error"]["Message"]
