"""A hybrid quantum-classical Covalent workflow: a variational loop that runs inside one Braket job.

The quantum electron, on ``BraketExecutor``, minimises the energy of ``H = Z0 + Z1`` over a
two-parameter circuit, RY(a) on qubit 0, a CNOT, RY(b) on qubit 1, by gradient descent. Every
evaluation of the circuit is a quantum task of the job on the job's device
(``AMZN_BRAKET_DEVICE_ARN``): each iteration runs one batch of five circuits through the Braket SDK,
the energy at the current parameters and the four shifted circuits of the parameter-shift rule, whose
differences are the exact gradient. The loop prints every iteration; those lines come back to Covalent
as the node's stdout. Running the loop in the job, not in the client, is what Braket Hybrid Jobs are
for: the job's tasks have priority on the device, and no round trip to the client sits between two
iterations.

A classical electron, run by Covalent itself, checks the optimum against theory: the circuit's energy
is ``cos(a) * (1 + cos(b))``, whose minimum is -2, reached at ``a = pi, b = 0`` (the state ``|11>``).

The executor names only what this workflow needs (the device, a time limit); the bucket, the job
image and the rest come from the ``[executors.braket]`` section of covalent.conf, which
``covalent-braket setup`` writes for an AWS account and ``scripts/demo`` writes for the local stack.

    python examples/variational_loop.py          # with a Covalent server running, and AWS or the stack
    python examples/variational_loop.py --json   # only the outcome, as one JSON document
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import covalent as ct
from covalent.executor import BraketExecutor

SHOTS = 1000
STEPS = 12
LEARNING_RATE = 0.5
# Where the descent starts, away from the optimum and from the saddle points at sin(a) = sin(b) = 0.
# Two floats rather than a list: Covalent would pack a list argument in an electron of its own, run by
# the consuming electron's executor, which here would be a Braket job of its own.
START_A, START_B = 0.4, 0.6
# How far the measured optimum may lie from theory: with 1000 shots an expectation value's standard
# error is at most 1/sqrt(1000) ~ 0.03, and it shrinks towards the optimum, an eigenstate of H.
TOLERANCE = 0.1

braket = BraketExecutor(quantum_device="sv1", time_limit=1800, initial_poll_freq=0.5, poll_freq=2.0)


@ct.electron(executor=braket)
def minimise_energy(a: float, b: float, steps: int, learning_rate: float, shots: int) -> dict[str, Any]:
    """Gradient descent on <Z0 + Z1>, every circuit a quantum task of this job on its device."""
    import math
    import os

    from braket.aws import AwsDevice
    from braket.circuits import Circuit, Observable

    device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])

    def circuit(a: float, b: float) -> Circuit:
        ansatz = Circuit().ry(0, a).cnot(0, 1).ry(1, b)
        return ansatz.expectation(Observable.Z(), target=[0]).expectation(Observable.Z(), target=[1])

    def energies(points: list[tuple[float, float]]) -> list[float]:
        """<Z0> + <Z1> at each point: one batch of quantum tasks, run in parallel."""
        batch = device.run_batch([circuit(a, b) for a, b in points], shots=shots, poll_interval_seconds=0.2)
        return [sum(result.values) for result in batch.results(fail_unsuccessful=True)]

    shift = math.pi / 2  # parameter-shift rule for a rotation gate: dE/dx = (E(x+s) - E(x-s)) / 2
    history = []
    tasks = 0
    print(f"minimising <Z0 + Z1> on {device.name}, {shots} shots per circuit, from a={a:.3f} b={b:.3f}")
    for step in range(steps):
        energy, a_plus, a_minus, b_plus, b_minus = energies(
            [(a, b), (a + shift, b), (a - shift, b), (a, b + shift), (a, b - shift)]
        )
        tasks += 5
        gradient = ((a_plus - a_minus) / 2, (b_plus - b_minus) / 2)
        history.append({"step": step, "a": a, "b": b, "energy": energy})
        print(
            f"iteration {step:2d}: a={a:+.4f} b={b:+.4f} energy={energy:+.4f} "
            f"gradient=({gradient[0]:+.4f}, {gradient[1]:+.4f})",
            flush=True,
        )
        a, b = a - learning_rate * gradient[0], b - learning_rate * gradient[1]
    (energy,) = energies([(a, b)])
    tasks += 1
    print(f"optimum: a={a:+.4f} b={b:+.4f} energy={energy:+.4f} after {tasks} quantum tasks", flush=True)
    return {"a": a, "b": b, "energy": energy, "history": history, "tasks": tasks, "device": device.arn}


@ct.electron
def check_against_theory(optimum: dict[str, Any], tolerance: float) -> dict[str, Any]:
    """Classical post-processing: the measured optimum beside the exact energy and the true minimum."""
    exact = math.cos(optimum["a"]) * (1 + math.cos(optimum["b"]))
    minimum = -2.0
    return {
        "a": optimum["a"],
        "b": optimum["b"],
        "measured_energy": optimum["energy"],
        "exact_energy_at_optimum": exact,
        "theoretical_minimum": minimum,
        "distance_to_minimum": abs(optimum["energy"] - minimum),
        "within_tolerance": abs(optimum["energy"] - minimum) <= tolerance,
        "energies": [point["energy"] for point in optimum["history"]],
        "quantum_tasks": optimum["tasks"],
        "device": optimum["device"],
    }


@ct.lattice
def variational_loop(a: float, b: float, steps: int, learning_rate: float, shots: int) -> dict[str, Any]:
    optimum = minimise_energy(a, b, steps, learning_rate, shots)
    return check_against_theory(optimum, TOLERANCE)


def status_name(status: Any) -> str:
    """``COMPLETED`` for Covalent's ``Status`` and ``StatusEnum`` alike (both print as ``StatusEnum.X``)."""
    member = status if hasattr(status, "value") else str(status)
    return str(getattr(member, "value", member))


def outcome(dispatch_id: str) -> dict[str, Any]:
    """The dispatch's status, result and error, and each electron's status and output."""
    result = ct.get_result(dispatch_id, wait=True)
    nodes = {}
    for node_id in sorted(result.lattice.transport_graph._graph.nodes):
        node = result.get_node_result(node_id)
        if node["node_name"].startswith(":"):  # parameters and collections, not electrons
            continue
        nodes[node["node_name"]] = {
            "status": status_name(node["status"]),
            "stdout": node["stdout"] or "",
            "stderr": node["stderr"] or "",
            "error": node["error"] or "",
        }
    return {
        "dispatch_id": dispatch_id,
        "status": status_name(result.status),
        "result": result.result,
        "error": result.error or "",
        "nodes": nodes,
    }


def report(done: dict[str, Any]) -> None:
    """What came back, for a reader: each electron's output, then the workflow's result."""
    for name, node in done["nodes"].items():
        print(f"  {name}: {node['status']}")
        for line in node["stdout"].splitlines():
            print(f"    stdout | {line}")
        for line in node["stderr"].splitlines():
            print(f"    stderr | {line}")
        for line in node["error"].splitlines():
            print(f"    error  | {line}")
    print(f"workflow status: {done['status']}")
    if done["error"]:
        print(f"workflow error: {done['error']}")
    print(f"workflow result: {json.dumps(done['result'], indent=2)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print only the outcome, as one JSON document")
    args = parser.parse_args(argv)
    dispatch_id = ct.dispatch(variational_loop)(START_A, START_B, STEPS, LEARNING_RATE, SHOTS)
    if not args.json:
        print(f"dispatched {dispatch_id}; waiting for it")
    done = outcome(dispatch_id)
    if args.json:
        print(json.dumps(done, default=str))
        return 0
    report(done)
    if done["status"] != "COMPLETED":
        return 1
    if not done["result"]["within_tolerance"]:
        print(f"error: the optimum found is {done['result']['distance_to_minimum']:.3f} from the minimum -2")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
