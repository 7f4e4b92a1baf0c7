"""The PennyLane usage of docs/executor.md, as written there, on a real Covalent server and the local stack.

The electron installs nothing itself: ``pip_packages=["amazon-braket-pennylane-plugin"]`` makes the
executor build a job image with PennyLane (FROM the local base image), and the electron builds its
``braket.aws.qubit`` device from the job's environment. Its circuits must run as quantum tasks of the
job, on the device the executor was given. Run as a script, this file is the client that dispatches
the workflow and prints what came back as JSON (see test_workflow_braket.py).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

import boto3
import covalent as ct
from covalent.executor import BraketExecutor

from covalent_braket_plugin.braket import TAG_DISPATCH_ID
from covalent_braket_plugin.local.stack import LocalStack

FORTE_1 = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
# RX(pi) turns |00> into |10> (up to a phase), the CNOT into |11>: <Z> on wire 1 is exactly -1 at any
# number of shots, so the result is checked without a tolerance.
THETA = math.pi

# --- the workflow, as docs/executor.md shows it -----------------------------------------------------

qpu = BraketExecutor(
    quantum_device="forte-1",  # short names of current devices are accepted
    pip_packages=["amazon-braket-pennylane-plugin"],
    time_limit=7200,
)


@ct.electron(executor=qpu)
def expectation(theta: float) -> float:
    import os

    import pennylane as qml

    bucket = os.environ["AMZN_BRAKET_OUT_S3_BUCKET"]
    prefix = os.environ["AMZN_BRAKET_TASK_RESULTS_S3_URI"].split(bucket, 1)[1].strip("/")
    device = qml.device(
        "braket.aws.qubit",
        device_arn=os.environ["AMZN_BRAKET_DEVICE_ARN"],
        s3_destination_folder=(bucket, prefix),
        wires=2,
        shots=1000,
    )

    @qml.qnode(device)
    def circuit(angle: float) -> float:
        qml.RX(angle, wires=0)
        qml.CNOT(wires=[0, 1])
        return qml.expval(qml.PauliZ(1))

    return float(circuit(theta))


@ct.lattice
def workflow(theta: float) -> float:
    return expectation(theta)


def client() -> dict[str, Any]:
    dispatch_id = ct.dispatch(workflow)(THETA)
    result = ct.get_result(dispatch_id, wait=True)
    (node,) = [
        result.get_node_result(node_id)
        for node_id in result.lattice.transport_graph._graph.nodes
        if result.get_node_result(node_id)["node_name"] == "expectation"
    ]
    return {
        "dispatch_id": dispatch_id,
        "status": str(result.status),
        "result": result.result,
        "error": result.error or "",
        "stdout": node["stdout"] or "",
        "stderr": node["stderr"] or "",
    }


if __name__ == "__main__":
    print(json.dumps(client(), default=str))
    sys.exit(0)


# --- the test ---------------------------------------------------------------------------------------


def _job_of(braket: Any, dispatch_id: str) -> dict[str, Any]:
    """The one job the executor created for the dispatch (found by its dispatch tag)."""
    jobs = [
        braket.get_job(jobArn=summary["jobArn"])
        for page in braket.get_paginator("search_jobs").paginate(filters=[])
        for summary in page["jobs"]
    ]
    (job,) = [job for job in jobs if job.get("tags", {}).get(TAG_DISPATCH_ID) == dispatch_id]
    return job


def test_the_documented_pennylane_electron_runs_its_circuit_as_tasks_of_the_job(
    docker_stack: LocalStack, run_client: Callable[..., dict[str, Any]]
) -> None:
    outcome = run_client(__file__)
    assert outcome["status"] == "COMPLETED", json.dumps(outcome, indent=1)
    assert outcome["result"] == -1.0

    braket = boto3.client("braket", **docker_stack.client_kwargs())
    job = _job_of(braket, outcome["dispatch_id"])
    assert job["status"] == "COMPLETED"
    assert job["deviceConfig"]["device"] == FORTE_1
    tasks = [
        task
        for page in braket.get_paginator("search_quantum_tasks").paginate(
            filters=[{"name": "jobArn", "operator": "EQUAL", "values": [job["jobArn"]]}]
        )
        for task in page["quantumTasks"]
    ]
    assert len(tasks) == 1, tasks  # one circuit, one task
    (task,) = tasks
    assert task["deviceArn"] == FORTE_1
    assert task["status"] == "COMPLETED"
    assert task["shots"] == 1000
    # where the electron put them: the job's bucket, under AMZN_BRAKET_TASK_RESULTS_S3_URI's prefix
    assert task["outputS3Bucket"] == job["outputDataConfig"]["s3Path"].split("/")[2]
    assert task["outputS3Directory"].startswith(f"jobs/{job['jobName']}/tasks")
