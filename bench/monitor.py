"""Benchmark: API calls and time of the day summary and of the cost guard, on the local Braket stack.

Run: ``python bench/monitor.py [--tasks 10000] [--guard-events 1000]``

1. Stores ``--tasks`` QPU tasks (held QUEUED, some cancelled) on three devices, then counts one
   device's day two ways: ``AmazonBraketlib.summary`` (server-side filters, 100 per page: the
   target is ceil(matching / 100) calls) and the earlier monitoring tool's method (pages of 10
   filtered by device only, date and status checked on the client, one pass per status).
2. Replays a burst of ``--guard-events`` "Braket Task State Change" CREATED events for new tasks
   through the cost guard's handler, with and without its DynamoDB ledger table.

API calls are counted with a botocore ``before-send`` hook on the clients used, so retries count too.
Figures are printed, never asserted: speed depends on the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import boto3

from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.tasks import AmazonBraketlib
from covalent_braket_plugin.tasks.braketlib import LEGACY_STATUS_TYPES
from covalent_braket_plugin.tasks.search import iter_tasks

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
CEPHEUS = "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q"
EMERALD = "arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald"
BUCKET = "amazon-braket-bench"
LEDGER_TABLE = "covalent-braket-bench-ledger"
ACTION = json.dumps({
    "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
    "source": "OPENQASM 3.0;\nbit[1] b;\nqubit[1] q;\nh q[0];\nb[0] = measure q[0];",
})
SHOTS = 100


class CallCounter:
    """Counts the HTTP requests botocore sends from the clients it is attached to."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send", self._count)
        return client

    def _count(self, event_name: str, **_: Any) -> None:
        # before-send.<service>.<Operation>
        self.calls[event_name.split(".", 2)[-1]] += 1

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


def create_tasks(braket: Any, device: str, count: int, workers: int = 16) -> list[str]:
    def create(_: int) -> str:
        return braket.create_quantum_task(
            action=ACTION, deviceArn=device, shots=SHOTS, outputS3Bucket=BUCKET, outputS3KeyPrefix="bench"
        )["quantumTaskArn"]

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(create, range(count)))


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def earlier_method(braket: Any, device_arn: str, day: date, statuses: Iterable[str]) -> dict[str, int]:
    """The earlier tool's way to count a device's day: per status, page through every task of the
    device ten at a time and keep those of the day and status (its undocumented newest-first early
    stop cannot fire here: every stored task is from today)."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = 0
        kwargs: dict[str, Any] = {
            "filters": [{"name": "deviceArn", "operator": "EQUAL", "values": [device_arn]}],
            "maxResults": 10,
        }
        while True:
            page = braket.search_quantum_tasks(**kwargs)
            for task in page["quantumTasks"]:
                if task["status"] == status and task["createdAt"].date() == day:
                    counts[status] += 1
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return counts


def bench_summary(stack: LocalStack, session: boto3.Session, total: int) -> None:
    braket = session.client("braket")
    split = {FORTE: total // 2, GARNET: total * 3 // 10}
    split[CEPHEUS] = total - sum(split.values())
    print(f"storing {total} tasks: " + ", ".join(f"{d.rsplit('/', 1)[1]} {n}" for d, n in split.items()))
    (arns, seconds) = timed(lambda: {device: create_tasks(braket, device, n) for device, n in split.items()})
    print(f"  created in {seconds:.1f} s")
    lib = AmazonBraketlib(boto_session=session)
    cancelled = lib.cancel(arns[FORTE][: len(arns[FORTE]) // 5])
    print(f"  cancelled {len(cancelled.cancelled)} of the {FORTE.rsplit('/', 1)[1]} tasks")
    day = datetime.now(UTC).date()
    if {t["createdAt"].date() for t in iter_tasks(braket, device_arn=CEPHEUS)} != {day}:
        print("  note: the tasks straddle midnight UTC; rerun for clean figures")

    counter = CallCounter()
    for region in (lib.region, "eu-north-1", "us-west-1"):
        counter.attach(lib.client(region))
    print(f"\nday summary vs the earlier tool's method ({day}, UTC)")
    print(f"  {'query':<58} {'matching':>8} {'calls':>6} {'target':>6} {'seconds':>8}")

    def report(label: str, matching: int, calls: int, seconds: float, target: int | None) -> None:
        shown = "-" if target is None else str(target)
        print(f"  {label:<58} {matching:>8} {calls:>6} {shown:>6} {seconds:>8.2f}")

    summaries = {}
    for label, device, statuses in [
        ("summary: every task of the day", None, None),
        ("summary: Forte-1, every status", FORTE, None),
        ("summary: Forte-1, QUEUED COMPLETED CANCELLED RUNNING", FORTE, LEGACY_STATUS_TYPES),
    ]:
        counter.reset()
        summary, seconds = timed(lambda d=device, s=statuses: lib.summary(day, device=d, statuses=s))
        report(label, summary.tasks, counter.total(), seconds, math.ceil(summary.tasks / 100) or 1)
        summaries[label] = summary

    counter.reset()
    old_counts, seconds = timed(lambda: earlier_method(lib.client(), FORTE, day, LEGACY_STATUS_TYPES))
    label = "earlier method: Forte-1, same four statuses"
    report(label, sum(old_counts.values()), counter.total(), seconds, None)
    new_counts = dict.fromkeys(LEGACY_STATUS_TYPES, 0)
    for row in summaries["summary: Forte-1, QUEUED COMPLETED CANCELLED RUNNING"].rows:
        new_counts[row.status] = row.tasks
    print(f"  both count the same tasks: {old_counts == new_counts} {old_counts}")


def bench_guard(stack: LocalStack, session: boto3.Session, events: int) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks stored for the summary")
    parser.add_argument("--guard-events", type=int, default=1_000, help="events in the guard burst")
    args = parser.parse_args()
    with LocalStack(port=0, runner="process") as stack:
        stack.set_faults(hold_qpu_tasks_s=86_400)  # QPU tasks stay QUEUED: nothing is simulated
        os.environ.update(stack.environment())  # endpoint, test credentials and region for every client
        session = boto3.Session()
        session.client("s3").create_bucket(Bucket=BUCKET)
        print(f"local stack at {stack.endpoint_url}")
        bench_summary(stack, session, args.tasks)
        bench_guard(stack, session, args.guard_events)


if __name__ == "__main__":
    main()
