"""The stack under load from the unmodified Braket SDK: it survives concurrent simulations.

The Braket SDK's simulators use numba, whose default threading layer aborts the whole process on
concurrent use; the stack runs simulations in low-priority worker processes, so the server (and
every task and job it holds) outlives any number of concurrent tasks.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
from braket.aws import AwsDevice, AwsQuantumTask
from braket.circuits import Circuit

from covalent_braket_plugin.local.braket_api.task_runner import WORKER_NICENESS
from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"


def deep_circuit(qubits: int = 12, layers: int = 20) -> Circuit:
    """The issue's repro: a 12-qubit circuit with 220 CNOTs, long enough for runs to overlap."""
    circuit = Circuit()
    for qubit in range(qubits):
        circuit.h(qubit)
    for _ in range(layers):
        for qubit in range(qubits - 1):
            circuit.cnot(qubit, qubit + 1)
    return circuit


def assert_served_by_worker_processes(stack: LocalStack) -> None:
    """The server is the same process, and its simulation workers are children at low priority."""
    assert stack.health()
    assert stack.pid is not None
    server = psutil.Process(stack.pid)
    workers = [p for p in server.children() if "spawn_main" in " ".join(p.cmdline())]
    assert workers, "no simulation worker process under the server"
    assert all(p.nice() >= server.nice() + WORKER_NICENESS for p in workers)


def test_eight_concurrent_12_qubit_simulations_leave_the_server_serving(braket_local_env: LocalStack) -> None:
    server_pid = braket_local_env.pid
    device = AwsDevice(SV1)

    def run(_: int) -> AwsQuantumTask:
        return device.run(deep_circuit(), shots=100)

    with ThreadPoolExecutor(8) as clients:
        tasks = list(clients.map(run, range(8)))
    results = [task.result() for task in tasks]
    assert [task.state() for task in tasks] == ["COMPLETED"] * 8
    assert all(sum(result.measurement_counts.values()) == 100 for result in results)
    assert all(len(next(iter(result.measurement_counts))) == 12 for result in results)
    assert braket_local_env.pid == server_pid
    assert_served_by_worker_processes(braket_local_env)


def test_run_batch_of_50_tasks_completes_on_sv1_and_dm1(braket_local_env: LocalStack) -> None:
    sv1_batch: Any = AwsDevice(SV1).run_batch([deep_circuit(layers=5)] * 50, shots=100, max_parallel=50)
    dm1_batch: Any = AwsDevice(DM1).run_batch([Circuit().h(0).cnot(0, 1)] * 10, shots=100, max_parallel=10)
    sv1_results = sv1_batch.results(fail_unsuccessful=True, max_retries=0)
    dm1_results = dm1_batch.results(fail_unsuccessful=True, max_retries=0)
    assert len(sv1_results) == 50 and all(r is not None for r in sv1_results)
    assert {state for r in dm1_results for state in r.measurement_counts} <= {"00", "11"}
    assert_served_by_worker_processes(braket_local_env)
