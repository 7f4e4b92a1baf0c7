"""Benchmark: API calls and time of the day summary, the cost guard and a workflow's cost report,
on the local Braket stack.

Run: ``python bench/monitor.py [--tasks 10000] [--guard-events 1000] [--electrons 100]
[--tasks-per-electron 100] [--sections summary guard cost] [--quick]``

1. Stores ``--tasks`` QPU tasks (held QUEUED, some cancelled) on three devices, then counts one
   device's day two ways: ``AmazonBraketlib.summary`` (server-side filters, 100 per page: the
   target is ceil(matching / 100) calls) and the earlier monitoring tool's method (pages of 10
   filtered by device only, date and status checked on the client, one pass per status).
2. Replays a burst of ``--guard-events`` "Braket Task State Change" CREATED events for new tasks
   through the cost guard's handler, with and without its DynamoDB ledger table.
3. On a stack of its own, runs ``--electrons`` hybrid jobs named and tagged as the executor does for
   one dispatch's electrons (process runner, a few at a time); each job queues
   ``--tasks-per-electron`` QPU tasks with its job token, as the SDK does inside a job (held QUEUED:
   nothing is simulated). Then times the report of ``covalent-braket cost DISPATCH_ID``
   (``inventory.costs.dispatch_cost``, median of three runs, client already made) before the jobs
   carry the executor's cost tag (one GetJob per job) and after ``executor.cost.bill`` tagged them
   as the executor does when a job ends (target: ceil(electrons / 100) SearchJobs pages plus
   ceil(tasks per electron / 100) SearchQuantumTasks pages per electron). The baseline, in the same
   run on the same stack: reading every record, one GetJob per electron and one GetQuantumTask per
   task (the ARNs handed over for free), priced the same way; both must give the same costs.

API calls are counted with a botocore ``before-send`` hook on the clients used, so retries count too.
Figures are printed, never asserted: speed depends on the machine (its CPUs and load average are
printed with them) and on the local stack, whose searches scan every stored record.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import boto3

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.executor import job_spec
from covalent_braket_plugin.executor.cost import bill
from covalent_braket_plugin.inventory.costs import DispatchCost, dispatch_cost
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.tasks import AmazonBraketlib
from covalent_braket_plugin.tasks.braketlib import LEGACY_STATUS_TYPES
from covalent_braket_plugin.tasks.cost import (
    ElectronCost,
    Usage,
    device_usage,
    iter_job_tasks,
    job_usage,
    price_usage,
)
from covalent_braket_plugin.tasks.pricing import PriceTable
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
SEARCH_PAGE = 100
JOBS_AT_ONCE = 8
"""Cost section: jobs running at a time (process runner; more only queue for the same CPU)."""
JOB_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images:bench"
JOB_SOURCE_KEY = "bench/cost_job.py"
JOB_SOURCE = textwrap.dedent(
    '''
    """A hybrid job that queues its quantum tasks as the SDK does in a job: each carries the job's token."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import boto3


    def queue_tasks(tasks: int) -> None:
        braket = boto3.client("braket")
        name = os.environ["AMZN_BRAKET_JOB_NAME"]

        def create(_: int) -> None:
            braket.create_quantum_task(
                action=ACTION,
                deviceArn=os.environ["AMZN_BRAKET_DEVICE_ARN"],
                shots=SHOTS,
                outputS3Bucket=os.environ["AMZN_BRAKET_OUT_S3_BUCKET"],
                outputS3KeyPrefix=f"jobs/{name}/tasks",
                jobToken=os.environ["AMZN_BRAKET_JOB_TOKEN"],
            )

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(create, range(tasks)))
    '''
)


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


# --- the cost report of a dispatch ----------------------------------------------------------------
def run_electron_job(
    braket: Any, role_arn: str, dispatch_id: str, node_id: int, tasks: int
) -> dict[str, Any]:
    """Create the job of one electron, named and tagged as the executor does, and wait for its end."""
    name = job_spec.job_name(dispatch_id, node_id, 1)
    arn = braket.create_job(
        clientToken=name,
        jobName=name,
        roleArn=role_arn,
        algorithmSpecification={
            "scriptModeConfig": {
                "entryPoint": "cost_job:queue_tasks",
                "s3Uri": f"s3://{BUCKET}/{JOB_SOURCE_KEY}",
                "compressionType": "NONE",
            },
            "containerImage": {"uri": JOB_IMAGE},
        },
        deviceConfig={"device": FORTE},
        instanceConfig={"instanceType": "ml.m5.large", "volumeSizeInGb": 30, "instanceCount": 1},
        stoppingCondition={"maxRuntimeInSeconds": 3600},
        outputDataConfig={"s3Path": f"s3://{BUCKET}/bench/jobs/{name}"},
        hyperParameters={"tasks": str(tasks)},
        tags={job_spec.TAG_DISPATCH_ID: dispatch_id, job_spec.TAG_NODE_ID: str(node_id)},
    )["jobArn"]
    while (record := braket.get_job(jobArn=arn))["status"] not in job_spec.TERMINAL_STATUSES:
        time.sleep(0.5)
    return record


def per_record_costs(
    braket: Any, job_arns: list[str], task_arns: dict[str, list[str]], prices: PriceTable
) -> list[ElectronCost]:
    """The baseline: each job and task read by itself (GetJob, GetQuantumTask), priced as the report is."""
    costs = []
    for arn in job_arns:
        tasks = [braket.get_quantum_task(quantumTaskArn=task) for task in task_arns[arn]]
        usage = Usage(job_usage(braket.get_job(jobArn=arn)), device_usage(tasks, prices))
        costs.append(price_usage(usage, prices))
    return costs


def bench_cost(stack: LocalStack, session: boto3.Session, electrons: int, tasks_per_electron: int) -> None:
    braket = session.client("braket")
    role_arn = stack.create_jobs_role()
    session.client("s3").put_object(
        Bucket=BUCKET, Key=JOB_SOURCE_KEY, Body=f"ACTION = {ACTION!r}\nSHOTS = {SHOTS}\n{JOB_SOURCE}".encode()
    )
    dispatch_id = str(uuid.uuid4())
    total = electrons * tasks_per_electron
    print(
        f"\ncost report of one dispatch: {electrons} electrons x {tasks_per_electron} QPU tasks = "
        f"{total} tasks (dispatch {dispatch_id})"
    )

    def run(node_id: int) -> dict[str, Any]:
        return run_electron_job(braket, role_arn, dispatch_id, node_id, tasks_per_electron)

    with ThreadPoolExecutor(JOBS_AT_ONCE) as pool:
        records, seconds = timed(lambda: list(pool.map(run, range(electrons))))
    failed = [r for r in records if r["status"] != "COMPLETED"]
    print(f"  {electrons} jobs ran ({JOBS_AT_ONCE} at a time, process runner) in {seconds:.1f} s")
    if failed:
        print(f"  {len(failed)} job(s) did not complete, e.g. {failed[0].get('failureReason')}: not measured")
        return
    job_arns = [r["jobArn"] for r in records]
    task_arns = {arn: [t["quantumTaskArn"] for t in iter_job_tasks(braket, arn)] for arn in job_arns}
    if sum(map(len, task_arns.values())) != total:
        print(f"  the jobs own {sum(map(len, task_arns.values()))} tasks, not {total}: not measured")
        return

    prices = PriceTable.load()
    aws = AwsSession(boto_session=session)
    counter = CallCounter()
    report_client = counter.attach(aws.client("braket"))
    pages_per_job = max(math.ceil(tasks_per_electron / SEARCH_PAGE), 1)
    target = math.ceil(electrons / SEARCH_PAGE) + electrons * pages_per_job
    print(f"  {'method':<52} {'calls':>6} {'target':>6} {'seconds':>8}   calls by operation")

    def report(label: str, calls: Counter[str], seconds: float, shown_target: int | None) -> None:
        shown = "-" if shown_target is None else str(shown_target)
        by_operation = dict(sorted(calls.items()))
        print(f"  {label:<52} {sum(calls.values()):>6} {shown:>6} {seconds:>8.2f}   {by_operation}")

    def measured_report(label: str, shown_target: int | None) -> DispatchCost:
        """Three reports; the median one's calls and seconds are shown."""
        runs = []
        for _ in range(3):
            counter.reset()
            result, seconds = timed(lambda: dispatch_cost(report_client, dispatch_id, prices))
            runs.append((seconds, result, Counter(counter.calls)))
        seconds, result, calls = sorted(runs, key=lambda run: run[0])[1]
        report(label, calls, seconds, shown_target)
        return result

    measured_report("cost DISPATCH_ID, jobs without the cost tag", target + electrons)
    with ThreadPoolExecutor(JOBS_AT_ONCE) as pool:  # tag each job with its usage as the executor does
        list(pool.map(lambda record: bill(aws, record, prices), records))
    tagged = measured_report("cost DISPATCH_ID, jobs tagged by the executor", target)

    counter.reset()
    baseline, seconds = timed(lambda: per_record_costs(report_client, job_arns, task_arns, prices))
    report("baseline: GetJob per electron + GetQuantumTask per task", Counter(counter.calls), seconds, None)
    by_arn = {row.cost.usage.job.job_arn: row.cost.to_json() for row in tagged.electrons}
    same = len(by_arn) == electrons and all(by_arn.get(c.usage.job.job_arn) == c.to_json() for c in baseline)
    money = tagged.to_json()["total"] or "unknown"
    print(f"  same cost for every electron both ways: {same}; total {money}, known part {tagged.known:.2f}")


def start_stack(stack: LocalStack) -> boto3.Session:
    """Point this process's boto3 at ``stack``, hold its QPU tasks QUEUED and make the bench's bucket."""
    stack.set_faults(hold_qpu_tasks_s=86_400)  # QPU tasks stay QUEUED: nothing is simulated
    os.environ.update(stack.environment())  # endpoint, test credentials and region for every client
    session = boto3.Session()
    session.client("s3").create_bucket(Bucket=BUCKET)
    print(f"local stack at {stack.endpoint_url}")
    return session


SECTIONS = ("summary", "guard", "cost")
QUICK = {"tasks": 1_000, "guard_events": 100, "electrons": 10, "tasks_per_electron": 100}
FULL = {"tasks": 10_000, "guard_events": 1_000, "electrons": 100, "tasks_per_electron": 100}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, help=f"tasks stored for the summary (default {FULL['tasks']})")
    parser.add_argument(
        "--guard-events", type=int, help=f"events in the guard burst (default {FULL['guard_events']})"
    )
    parser.add_argument(
        "--electrons", type=int, help=f"jobs of one dispatch (default {FULL['electrons']})"
    )
    parser.add_argument(
        "--tasks-per-electron",
        type=int,
        help=f"quantum tasks each of those jobs queues (default {FULL['tasks_per_electron']})",
    )
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to run")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small scale for a quick check, a minute or two: "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
        + " (flags given win)",
    )
    args = parser.parse_args()
    for name, full in FULL.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK[name] if args.quick else full)
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    print(f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    if {"summary", "guard"} & set(args.sections):
        with LocalStack(port=0, runner="process") as stack:
            session = start_stack(stack)
            if "summary" in args.sections:
                bench_summary(stack, session, args.tasks)
            if "guard" in args.sections:
                bench_guard(stack, session, args.guard_events)
    if "cost" in args.sections:
        with LocalStack(port=0, runner="process") as stack:  # its own, so its searches scan its records only
            bench_cost(stack, start_stack(stack), args.electrons, args.tasks_per_electron)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
