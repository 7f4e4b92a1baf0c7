"""The cost report of one dispatch: calls and seconds of ``covalent-braket cost DISPATCH_ID``.

On a stack of its own, runs ``--electrons`` hybrid jobs named and tagged as the executor does for
one dispatch's electrons (process runner, a few at a time); each job queues ``--tasks-per-electron``
QPU tasks with its job token, as the SDK does inside a job (held QUEUED: nothing is simulated). Then
times the report of ``covalent-braket cost DISPATCH_ID`` (``inventory.cost_reports.dispatch_cost``, median
of three runs, client already made) before the jobs carry the executor's cost tag (one GetJob per
job) and after ``billing.bill.bill_ended_job`` tagged them as the executor does when a job ends (target:
ceil(electrons / 100) SearchJobs pages plus ceil(tasks per electron / 100) SearchQuantumTasks pages
per electron). The baseline, in the same run on the same stack: reading every record, one GetJob per
electron and one GetQuantumTask per task (the ARNs handed over for free), priced the same way; both
must give the same costs.
"""

from __future__ import annotations

import math
import textwrap
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from harness import CallCounter, timed
from held_tasks import ACTION, BUCKET, FORTE, SHOTS

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.billing.bill import ElectronCost, bill_ended_job, price_usage
from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.billing.usage import measure
from covalent_braket_plugin.inventory.cost_reports import DispatchCost, dispatch_cost
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.quantum_tasks import iter_tasks

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


def run_electron_job(
    braket: Any, role_arn: str, dispatch_id: str, node_id: int, tasks: int
) -> dict[str, Any]:
    """Create the job of one electron, named and tagged as the executor does, and wait for its end."""
    name = hybrid_jobs.job_name(dispatch_id, node_id, 1)
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
        tags={hybrid_jobs.TAG_DISPATCH_ID: dispatch_id, hybrid_jobs.TAG_NODE_ID: str(node_id)},
    )["jobArn"]
    while (record := braket.get_job(jobArn=arn))["status"] not in hybrid_jobs.TERMINAL_STATUSES:
        time.sleep(0.5)
    return record


def per_record_costs(
    braket: Any, job_arns: list[str], task_arns: dict[str, list[str]], prices: PriceTable
) -> list[ElectronCost]:
    """The baseline: each job and task read by itself (GetJob, GetQuantumTask), priced as the report is."""
    costs = []
    for arn in job_arns:
        tasks = [braket.get_quantum_task(quantumTaskArn=task) for task in task_arns[arn]]
        costs.append(price_usage(measure(braket.get_job(jobArn=arn), tasks, prices), prices))
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
    task_arns = {arn: [t["quantumTaskArn"] for t in iter_tasks(braket, job_arn=arn)] for arn in job_arns}
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
        list(pool.map(lambda record: bill_ended_job(aws, record, prices), records))
    tagged = measured_report("cost DISPATCH_ID, jobs tagged by the executor", target)

    counter.reset()
    baseline, seconds = timed(lambda: per_record_costs(report_client, job_arns, task_arns, prices))
    report("baseline: GetJob per electron + GetQuantumTask per task", Counter(counter.calls), seconds, None)
    by_arn = {row.cost.usage.job.job_arn: row.cost.to_json() for row in tagged.electrons}
    same = len(by_arn) == electrons and all(by_arn.get(c.usage.job.job_arn) == c.to_json() for c in baseline)
    money = tagged.to_json()["total"] or "unknown"
    print(f"  same cost for every electron both ways: {same}; total {money}, known part {tagged.known:.2f}")
