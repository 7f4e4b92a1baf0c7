"""A small hybrid quantum-classical Covalent workflow whose quantum electrons run as Braket Hybrid Jobs.

Three electrons run on ``BraketExecutor``, each as a job with priority on the device it was given:
one prepares a Bell pair, two estimate <Z> of an RX-rotated, entangled pair at two angles (the
parametrised circuit of a variational algorithm). Each builds its circuit with the Braket SDK inside
the job, runs it on the job's device (``AMZN_BRAKET_DEVICE_ARN``) and prints what it measured; those
prints come back as the nodes' stdout. A classical electron, run by Covalent itself, combines the
measurements and checks them against theory.

``scripts/demo`` runs it on the local Braket stack with a Covalent server of its own, jobs running as
processes of the host's Python (the stack's process runner), hence the ready image URI: nothing is
built. Against AWS, drop ``JOB_IMAGE`` to have the executor build the job image (or name one you
pushed), and have the bucket and the execution role in place.

    python examples/hybrid_workflow.py       # with a Covalent server running, and AWS or the stack
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any

import boto3
import covalent as ct
from covalent.executor import BraketExecutor

BUCKET = "amazon-braket-covalent-job-resources"
# Any well-formed private ECR URI: the process runner runs jobs with the host's Python, not an image.
JOB_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images:host"
SHOTS = 1000
ANGLES = (math.pi / 3, 2 * math.pi / 3)

braket = BraketExecutor(
    s3_bucket_name=BUCKET,
    ecr_image_uri=JOB_IMAGE,
    quantum_device="sv1",
    region="us-east-1",
    time_limit=600,
    initial_poll_freq=0.5,
    poll_freq=2.0,
)


@ct.electron(executor=braket)
def bell_pair(shots: int) -> dict[str, int]:
    """Measure a Bell pair: only 00 and 11, about half each."""
    import os

    from braket.aws import AwsDevice
    from braket.circuits import Circuit

    device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])
    task = device.run(Circuit().h(0).cnot(0, 1), shots=shots)
    counts = dict(sorted(task.result().measurement_counts.items()))
    print(f"Bell pair on {device.name}, quantum task {task.id}: {counts}")
    return counts


@ct.electron(executor=braket)
def z_expectation(theta: float, shots: int) -> float:
    """<Z> of qubit 1 after RX(theta) on qubit 0 and a CNOT, from the counts; exactly cos(theta)."""
    import os

    from braket.aws import AwsDevice
    from braket.circuits import Circuit

    device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])
    task = device.run(Circuit().rx(0, theta).cnot(0, 1), shots=shots)
    counts = task.result().measurement_counts
    value = sum((1 if bits[1] == "0" else -1) * n for bits, n in counts.items()) / shots
    print(f"RX({theta:.3f}) + CNOT on {device.name}, quantum task {task.id}: <Z1> = {value:+.3f}")
    return value


@ct.electron
def combine(counts: dict[str, int], values: list[float], angles: list[float]) -> dict[str, Any]:
    """Classical post-processing: Bell correlation, and each <Z1> beside its exact value."""
    shots = sum(counts.values())
    correlated = (counts.get("00", 0) + counts.get("11", 0)) / shots
    return {
        "bell_correlated_share": correlated,
        "z_expectation": [
            {"theta": round(t, 4), "measured": v, "exact": round(math.cos(t), 4)}
            for t, v in zip(angles, values, strict=True)
        ],
    }


@ct.lattice
def hybrid(shots: int, angles: list[float]) -> dict[str, Any]:
    counts = bell_pair(shots)
    values = [z_expectation(theta, shots) for theta in angles]
    return combine(counts, values, angles)


def create_local_resources() -> None:
    """On the local stack, create the bucket and the job execution role (on AWS they exist already)."""
    if not os.environ.get("AWS_ENDPOINT_URL"):
        return
    from covalent_braket_plugin.local.stack import JOBS_ROLE_NAME, JOBS_ROLE_TRUST

    s3 = boto3.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam")
    roles = iam.list_roles(PathPrefix="/service-role/")["Roles"]
    if JOBS_ROLE_NAME not in [role["RoleName"] for role in roles]:
        iam.create_role(
            RoleName=JOBS_ROLE_NAME, Path="/service-role/", AssumeRolePolicyDocument=JOBS_ROLE_TRUST
        )


def main() -> int:
    create_local_resources()
    dispatch_id = ct.dispatch(hybrid)(SHOTS, list(ANGLES))
    print(f"dispatched {dispatch_id}; waiting for it")
    result = ct.get_result(dispatch_id, wait=True)
    for node_id in sorted(result.lattice.transport_graph._graph.nodes):
        node = result.get_node_result(node_id)
        if node["node_name"].startswith(":"):  # parameters and collections, not electrons
            continue
        print(f"  node {node_id} {node['node_name']}: {node['status']}")
        for line in (node["stdout"] or "").splitlines():
            print(f"    stdout | {line}")
        for line in (node["stderr"] or "").splitlines():
            print(f"    stderr | {line}")
    print(f"workflow status: {result.status}")
    if result.error:
        print(f"workflow error: {result.error}")
    print(f"workflow result: {json.dumps(result.result, indent=2)}")
    if str(result.status) != "COMPLETED":
        return 1
    outcome = result.result
    if outcome["bell_correlated_share"] != 1.0:
        print("error: a Bell pair measures only 00 and 11")
        return 1
    far = [p for p in outcome["z_expectation"] if abs(p["measured"] - p["exact"]) > 0.2]
    if far:
        print(f"error: measured <Z> far from their exact values: {far}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
