"""The examples of examples/, run as a user runs them, against a real Covalent server and the local stack.

The client is the example itself, with the server's home (hence its covalent.conf, whose
``[executors.braket]`` points the executor at the stack, as ``covalent-braket setup`` would at AWS):
the example file is ``__main__`` there, so Covalent pickles its electrons by value and neither the
server nor the job needs the file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from covalent_braket_plugin.braket import TAG_DISPATCH_ID
from covalent_braket_plugin.local.stack import LocalStack

EXAMPLES = Path(__file__).parents[2] / "examples"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
ITERATION = re.compile(r"^iteration +(\d+): a=(\S+) b=(\S+) energy=(\S+) gradient=", re.M)


def _tasks_of_jobs(braket: Any, dispatch_id: str) -> dict[str, list[dict[str, Any]]]:
    """The dispatch's jobs (found by the executor's dispatch tag), each with its quantum tasks."""
    jobs = [
        braket.get_job(jobArn=summary["jobArn"])
        for page in braket.get_paginator("search_jobs").paginate(filters=[])
        for summary in page["jobs"]
    ]
    return {
        job["jobArn"]: [
            task
            for page in braket.get_paginator("search_quantum_tasks").paginate(
                filters=[{"name": "jobArn", "operator": "EQUAL", "values": [job["jobArn"]]}]
            )
            for task in page["quantumTasks"]
        ]
        for job in jobs
        if job.get("tags", {}).get(TAG_DISPATCH_ID) == dispatch_id
    }


def test_the_variational_loop_finds_the_minimum_inside_one_job(
    docker_stack: LocalStack, run_client: Callable[..., dict[str, Any]]
) -> None:
    outcome = run_client(str(EXAMPLES / "variational_loop.py"), "--json")
    assert outcome["status"] == "COMPLETED", json.dumps(outcome, indent=1)
    result = outcome["result"]

    # the optimum: the minimum of cos(a) * (1 + cos(b)) is -2, at a = pi (mod 2 pi), b = 0 (mod 2 pi)
    assert result["within_tolerance"], result
    assert abs(result["measured_energy"] + 2) <= 0.1
    assert abs(result["exact_energy_at_optimum"] + 2) <= 0.1
    assert math.cos(result["a"]) < -0.95 and math.cos(result["b"]) > 0.95
    assert result["device"] == SV1
    energies = result["energies"]
    assert energies[0] > 1 and energies[-1] < energies[0]

    # every iteration printed inside the job came back as the node's stdout, in order, as returned
    stdout = outcome["nodes"]["minimise_energy"]["stdout"]
    iterations = ITERATION.findall(stdout)
    assert [int(step) for step, *_ in iterations] == list(range(len(energies))), stdout
    assert [float(energy) for *_, energy in iterations] == [round(e, 4) for e in energies], stdout
    assert "optimum: a=" in stdout and f"after {result['quantum_tasks']} quantum tasks" in stdout
    assert outcome["nodes"]["check_against_theory"]["status"] == "COMPLETED"

    # one job, on the executor's device, every circuit a quantum task of that job on the same device
    braket = boto3.client("braket", **docker_stack.client_kwargs())
    (tasks,) = _tasks_of_jobs(braket, outcome["dispatch_id"]).values()
    assert len(tasks) == result["quantum_tasks"]
    assert {task["deviceArn"] for task in tasks} == {SV1}
    assert {task["status"] for task in tasks} == {"COMPLETED"}
