"""Throughput of the local Braket stack's API, beside baselines measured in the same run.

    python bench/local_stack.py [--tasks 10000] [--threads 16] [--simulations 16]

Prints requests per second of plain GetDevice calls (the emulator's HTTP path with no work behind
it) and of moto S3 HeadBucket calls (the AWS side of the same endpoint), then quantum tasks created
and completed per second (Bell circuits on SV1 through the SDK's local simulator), then 12-qubit
simulations per second from one client waiting for each result, beside ``--threads`` clients at once
(the stack's simulation worker processes share them out over the CPUs), then
SearchQuantumTasks pages per second over all stored tasks, unfiltered and with status + createdAt
BETWEEN filters, against a ``LocalStack`` server process, as a user's client would see it.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
BELL = json.dumps(
    {
        "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
        "source": "OPENQASM 3;\nqubit[2] q;\nbit[2] c;\nh q[0];\ncnot q[0], q[1];\nc = measure q;",
    }
)
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")


def deep_circuit_action(qubits: int = 12, layers: int = 20) -> str:
    """A 12-qubit OpenQASM program with 220 CNOTs: long enough that simulation, not HTTP, dominates."""
    lines = ["OPENQASM 3;", f"qubit[{qubits}] q;", f"bit[{qubits}] c;"]
    lines += [f"h q[{i}];" for i in range(qubits)]
    lines += [f"cnot q[{i}], q[{i + 1}];" for _ in range(layers) for i in range(qubits - 1)]
    lines.append("c = measure q;")
    header = {"name": "braket.ir.openqasm.program", "version": "1"}
    return json.dumps({"braketSchemaHeader": header, "source": "\n".join(lines)})


CONFIG = Config(retries={"max_attempts": 3}, max_pool_connections=64)


def report(label: str, count: int, seconds: float, unit: str = "") -> None:
    print(f"{label:<46}{count / seconds:10.1f}/s  ({count}{unit} in {seconds:.2f} s)")


def timed(count: int, threads: int, call: Callable[[int], Any]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(call, range(count)))
    return time.perf_counter() - start


def completed(stack: LocalStack) -> int:
    status = stack.status()
    by_status = status.get("tasks", {}).get("byStatus", {})
    return int(by_status.get("COMPLETED", 0)) + int(by_status.get("FAILED", 0))


def search_pages(braket: Any, filters: list[dict[str, Any]]) -> tuple[int, int, float]:
    start = time.perf_counter()
    pages = items = 0
    for page in braket.get_paginator("search_quantum_tasks").paginate(
        filters=filters, PaginationConfig={"PageSize": 100}
    ):
        pages += 1
        items += len(page["quantumTasks"])
    return pages, items, time.perf_counter() - start


def raw_search_pages(stack: LocalStack, filters: list[dict[str, Any]]) -> tuple[int, int, float]:
    """Page SearchQuantumTasks with signed requests but no botocore response parsing.

    botocore parses every timestamp with dateutil, which costs the client more than the server spends
    on a page; this figure is the server's side of the paging.
    """
    kwargs = stack.client_kwargs()
    credentials = Credentials(kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"])
    session = requests.Session()
    start = time.perf_counter()
    pages = items = 0
    token = None
    while True:
        body = json.dumps({"filters": filters, "maxResults": 100, **({"nextToken": token} if token else {})})
        request = AWSRequest(
            "POST",
            f"{stack.endpoint_url}/quantum-tasks",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(credentials, "braket", stack.region).add_auth(request)
        document = session.post(request.url, data=body, headers=dict(request.headers), timeout=60).json()
        pages += 1
        items += len(document["quantumTasks"])
        token = document.get("nextToken")
        if not token:
            return pages, items, time.perf_counter() - start


def simulation_seconds(braket: Any, bucket: str, count: int, clients: int) -> float:
    """Seconds for ``count`` deep-circuit tasks, each created and waited for by one of ``clients``."""
    action = deep_circuit_action()

    def simulate(_: int) -> None:
        arn = braket.create_quantum_task(
            deviceArn=SV1, shots=100, outputS3Bucket=bucket, outputS3KeyPrefix="bench-sim", action=action
        )["quantumTaskArn"]
        while braket.get_quantum_task(quantumTaskArn=arn)["status"] not in TERMINAL:
            time.sleep(0.05)

    return timed(count, clients, simulate)


def run(stack: LocalStack, tasks: int, threads: int, simulations: int) -> None:
    kwargs = stack.client_kwargs()
    braket = boto3.client("braket", **kwargs, config=CONFIG)
    s3 = boto3.client("s3", **kwargs, config=CONFIG)
    bucket = f"amazon-braket-bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    baseline = 2000
    print(f"endpoint {stack.endpoint_url}, {threads} client threads")
    report(
        "baseline  GetDevice (SV1)",
        baseline,
        timed(baseline, threads, lambda _: braket.get_device(deviceArn=SV1)),
    )
    report(
        "baseline  moto S3 HeadBucket",
        baseline,
        timed(baseline, threads, lambda _: s3.head_bucket(Bucket=bucket)),
    )

    def create(_: int) -> None:
        braket.create_quantum_task(
            deviceArn=SV1, shots=100, outputS3Bucket=bucket, outputS3KeyPrefix="bench", action=BELL
        )

    before = completed(stack)
    window_start = datetime.now(UTC)
    start = time.perf_counter()
    created_s = timed(tasks, threads, create)
    window_end = datetime.now(UTC)
    while completed(stack) - before < tasks:
        time.sleep(0.2)
    done_s = time.perf_counter() - start
    report("tasks     CreateQuantumTask", tasks, created_s)
    report("tasks     created -> COMPLETED", tasks, done_s)

    simulation_seconds(braket, bucket, 1, 1)  # starts the worker processes outside the timing
    for clients in (1, threads):
        seconds = simulation_seconds(braket, bucket, simulations, clients)
        report(f"simulate  12 qubits, {clients} client(s)", simulations, seconds)

    pages, items, seconds = search_pages(braket, [])
    report(f"search    all {items} tasks, boto3", pages, seconds, " pages")
    pages, items, seconds = raw_search_pages(stack, [])
    report(f"search    all {items} tasks, raw HTTP", pages, seconds, " pages")
    middle = window_start + (window_end - window_start) / 4
    late = window_start + (window_end - window_start) * 3 / 4
    filters = [
        {"name": "status", "operator": "EQUAL", "values": ["COMPLETED"]},
        {
            "name": "createdAt",
            "operator": "BETWEEN",
            "values": [middle.isoformat().replace("+00:00", "Z"), late.isoformat().replace("+00:00", "Z")],
        },
    ]
    pages, items, seconds = search_pages(braket, filters)
    report(f"search    status+BETWEEN ({items} hits), boto3", pages, seconds, " pages")
    pages, items, seconds = raw_search_pages(stack, filters)
    report(f"search    status+BETWEEN ({items} hits), raw HTTP", pages, seconds, " pages")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--simulations", type=int, default=16, help="12-qubit tasks per simulation figure")
    args = parser.parse_args()
    with LocalStack(port=0, runner="process") as stack:
        run(stack, args.tasks, args.threads, args.simulations)


if __name__ == "__main__":
    main()
