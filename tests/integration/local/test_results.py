"""Quantum task results as the unmodified Braket SDK reads them from AWS: results without shots,
complex values, SV1's adjoint gradient and the metadata the SDK's Tracker prices simulators by."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from braket.aws import AwsDevice
from braket.circuits import Circuit, FreeParameter, Observable
from braket.ir.openqasm import Program
from braket.tracking import Tracker

from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
HALF = 1 / math.sqrt(2)


def test_a_task_without_shots_returns_its_result_types(braket_local_env: LocalStack) -> None:
    result = AwsDevice(SV1).run(Circuit().h(0).expectation(Observable.Z(), 0), shots=0).result()
    assert result.values[0] == pytest.approx(0.0, abs=1e-12)
    assert result.task_metadata.shots == 0


def test_complex_result_values_arrive_as_complex_numbers(braket_local_env: LocalStack) -> None:
    circuit = Circuit().h(0).s(0).amplitude(["0", "1"]).state_vector()
    amplitude, state = AwsDevice(SV1).run(circuit, shots=0).result().values
    assert amplitude == {"0": pytest.approx(HALF), "1": pytest.approx(1j * HALF)}
    assert np.allclose(state, [HALF, 1j * HALF])
    noisy = Circuit().bit_flip(0, 0.2).density_matrix()
    density = AwsDevice(DM1).run(noisy, shots=0).result().values[0]
    # Braket leaves a density matrix as [real, imaginary] pairs: the SDK casts only amplitudes and
    # state vectors to complex.
    assert np.allclose(density, [[[0.8, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.2, 0.0]]])


@pytest.mark.parametrize(
    ("observable", "targets", "name", "expectation", "gradient"),
    [
        (
            (-2 * Observable.Y()) @ (3 * Observable.I()) + 0.75 * Observable.Y() @ Observable.Z(),
            [[0, 1], [2, 3]],
            "-6 * y @ i + 0.75 * y @ z",
            6 * math.sin(0.2),
            6 * math.cos(0.2),
        ),
        (
            2 * Observable.X() + 3 * Observable.Y() - Observable.Z(),
            [[0], [1], [2]],
            "2 * x + 3 * y - 1 * z",
            -1,
            0,
        ),
    ],
)
def test_adjoint_gradient_on_sv1(
    braket_local_env: LocalStack,
    observable: Observable,
    targets: list[list[int]],
    name: str,
    expectation: float,
    gradient: float,
) -> None:
    theta = FreeParameter("theta")
    circuit = Circuit().rx(0, theta).adjoint_gradient(observable, target=targets, parameters=["theta"])
    result = AwsDevice(SV1).run(circuit, shots=0, inputs={"theta": 0.2}).result()
    (value,) = result.values
    assert value["expectation"] == pytest.approx(expectation, abs=1e-9)
    assert value["gradient"] == {"theta": pytest.approx(gradient, abs=1e-8)}
    assert result.result_types[0].type.observable == name
    assert result.additional_metadata.action.inputs == {"theta": 0.2}


def test_results_carry_execution_duration_and_device_parameters(braket_local_env: LocalStack) -> None:
    with Tracker() as tracker:
        result = AwsDevice(SV1).run(Circuit().h(0).cnot(0, 1), shots=10).result()
    assert result.additional_metadata.simulatorMetadata.executionDuration > 0
    assert result.task_metadata.deviceParameters.paradigmParameters.qubitCount == 2
    assert tracker.quantum_tasks_statistics()[SV1]["execution_duration"] > timedelta(0)


def test_several_result_pragmas_on_one_line_are_all_kept(braket_local_env: LocalStack) -> None:
    source = (
        "OPENQASM 3;qubit[1] q;h q[0];#pragma braket result expectation z(q[0])"
        "#pragma braket result probability q[0]"
    )
    result = AwsDevice(SV1).run(Program(source=source), shots=0).result()
    expectation, probability = result.values
    assert expectation == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(probability, [0.5, 0.5])
    assert result.additional_metadata.action.source == source
