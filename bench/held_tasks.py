"""QPU tasks held QUEUED on a local stack, for the benchmarks of the tools that watch tasks (the day
summary, the cost guard, a dispatch's cost report): nothing is simulated, so a run can store
thousands of them in a minute.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from harness import point_boto3_at

from covalent_braket_plugin.local.stack import LocalStack

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
BUCKET = "amazon-braket-bench"
ACTION = json.dumps({
    "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
    "source": "OPENQASM 3.0;\nbit[1] b;\nqubit[1] q;\nh q[0];\nb[0] = measure q[0];",
})
SHOTS = 100


def prepare_stack(stack: LocalStack) -> boto3.Session:
    """Point this process's boto3 at ``stack``, hold its QPU tasks QUEUED and make the bench's bucket."""
    stack.set_faults(hold_qpu_tasks_s=86_400)  # QPU tasks stay QUEUED: nothing is simulated
    point_boto3_at(stack)  # endpoint, test credentials and region for every client
    session = boto3.Session()
    session.client("s3").create_bucket(Bucket=BUCKET)
    print(f"local stack at {stack.endpoint_url}")
    return session


def create_tasks(braket: Any, device: str, count: int, workers: int = 16) -> list[str]:
    def create(_: int) -> str:
        return braket.create_quantum_task(
            action=ACTION, deviceArn=device, shots=SHOTS, outputS3Bucket=BUCKET, outputS3KeyPrefix="bench"
        )["quantumTaskArn"]

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(create, range(count)))
