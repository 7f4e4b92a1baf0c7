"""Requests AWS refuses, refused by the stack with AWS's messages, seen through the unmodified SDK:
partial measurement where a device measures every qubit, Braket Direct reservations, and
cancelling a task that has ended."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from braket.aws import AwsDevice, AwsQuantumJob, DirectReservation
from braket.circuits import Circuit

from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
RESERVATION = "arn:aws:braket:us-east-1:123456789012:reservation/a1b123cd-45e6-789f-gh01-i234567jk8l9"
PARTIAL = (
    "An error occurred (ValidationException) when calling the CreateQuantumTask operation: Device "
    "requires all qubits in the program to be measured. This may be caused by declaring "
    "non-contiguous qubits or measuring partial qubits"
)


@pytest.mark.parametrize("device", [SV1, DM1, FORTE])
def test_partial_measurement_is_refused_where_every_qubit_must_be_measured(
    braket_local_env: LocalStack, device: str
) -> None:
    with pytest.raises(ClientError) as caught:
        AwsDevice(device).run(Circuit().h(0).cnot(0, 1).h(2).measure([0, 1]), shots=10)
    assert str(caught.value) == PARTIAL


def test_partial_measurement_runs_where_the_device_allows_it(braket_local_env: LocalStack) -> None:
    circuit = Circuit().h(0).cnot(0, 1).h(2).measure([0, 1])
    assert AwsDevice(GARNET).run(circuit, shots=10).result().measured_qubits == [0, 1]
    full = Circuit().h(0).cnot(0, 1).measure([0, 1])
    assert set(AwsDevice(SV1).run(full, shots=10).result().measurement_counts) <= {"00", "11"}


def test_reservations_are_refused_as_aws_refuses_them(braket_local_env: LocalStack, tmp_path: Path) -> None:
    with pytest.raises(ClientError, match="Braket Direct is not supported for"):
        AwsDevice(SV1).run(Circuit().h(0), shots=10, reservation_arn=RESERVATION)
    forte = AwsDevice(FORTE)
    invalid = "Reservation arn is invalid"
    with pytest.raises(ClientError, match=invalid):
        forte.run(Circuit().h(0), shots=10, reservation_arn=RESERVATION)
    with DirectReservation(forte, RESERVATION), pytest.raises(ClientError, match=invalid):
        forte.run(Circuit().h(0), shots=10)
    script = tmp_path / "algorithm.py"
    script.write_text("def main():\n    pass\n")
    role = braket_local_env.create_jobs_role()
    with pytest.raises(ClientError, match=invalid):
        AwsQuantumJob.create(
            FORTE, str(script), entry_point="algorithm:main", role_arn=role, reservation_arn=RESERVATION
        )


def test_cancelling_a_completed_task_gets_aws_message(braket_local_env: LocalStack) -> None:
    task = AwsDevice(SV1).run(Circuit().h(0), shots=10)
    task.result()
    with pytest.raises(ClientError) as caught:
        task.cancel()
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    assert caught.value.response["Error"]["Message"].startswith(
        "Amazon Braket cannot cancel a quantum task in the COMPLETED status"
    )
