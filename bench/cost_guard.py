"""The cost guard: API calls per "Braket Task State Change" event, with and without its ledger.

Replays a burst of ``--guard-events`` CREATED events for new tasks through the cost guard's handler,
with and without its DynamoDB ledger table, each mode on tasks of its own.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC
from typing import Any

import boto3
from harness import CallCounter
from held_tasks import SHOTS, create_tasks

from covalent_braket_plugin.tasks import AmazonBraketlib

EMERALD = "arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald"
LEDGER_TABLE = "covalent-braket-bench-ledger"


def bench_guard(session: boto3.Session, events: int) -> None:
    try:
        from covalent_braket_plugin.guard.deploy import GuardDeployment
        from covalent_braket_plugin.guard.lambda_function import Clients, handle_event
    except ImportError as error:
        print(f"\ncost guard: not measured ({error})")
        return
    braket = session.client("braket")
    GuardDeployment(session=session).ensure_table(LEDGER_TABLE)
    device = EMERALD.rsplit("/", 1)[1]
    print(f"\ncost guard: a burst of {events} CREATED events on {device} (limits not reached)")
    print("  the burst's tasks are created first and their events replayed after, as when they queue up")
    print(f"  {'mode':<22} {'events':>6} {'calls':>7} {'calls/event':>11} {'max/event':>9} {'seconds':>8}")
    for mode, table in (("with ledger table", LEDGER_TABLE), ("without ledger", None)):
        # fresh tasks per mode, so the two runs see the same day's history
        arns = create_tasks(braket, EMERALD, events)
        records = [braket.get_quantum_task(quantumTaskArn=arn) for arn in arns]
        environ = {"MAX_SHOTS": str(10 * events * SHOTS), "DEVICE_ARNS": EMERALD}
        if table:
            environ["LEDGER_TABLE"] = table
        counter = CallCounter()
        clients = Clients(
            braket=counter.attach(session.client("braket", region_name="eu-north-1")),
            dynamodb=counter.attach(session.client("dynamodb")) if table else None,
        )
        per_event: list[int] = []
        outcomes: Counter[str] = Counter()
        start = time.perf_counter()
        for record in records:
            before = counter.total()
            outcome = handle_event(task_event(record), environ, clients=clients)
            outcomes[outcome["action"]] += 1
            per_event.append(counter.total() - before)
        seconds = time.perf_counter() - start
        calls = counter.total()
        print(
            f"  {mode:<22} {events:>6} {calls:>7} {calls / events:>11.2f} {max(per_event):>9} {seconds:>8.2f}"
            f"   {dict(outcomes)} {dict(counter.calls)}"
        )
        lib = AmazonBraketlib(boto_session=session)
        lib.cancel(arns)  # the next mode starts from a day without committed Emerald work


def task_event(record: dict[str, Any]) -> dict[str, Any]:
    """A "Braket Task State Change" event for a new task, shaped like EventBridge's."""
    created = record["createdAt"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "version": "0",
        "source": "aws.braket",
        "detail-type": "Braket Task State Change",
        "time": created,
        "detail": {
            "quantumTaskArn": record["quantumTaskArn"],
            "status": "CREATED",
            "deviceArn": record["deviceArn"],
            "shots": str(record["shots"]),
            "outputS3Bucket": record["outputS3Bucket"],
            "outputS3Directory": record["outputS3Directory"],
            "createdAt": created,
            "eventName": "INSERT",
        },
    }
