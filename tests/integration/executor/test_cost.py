"""Costs and budgets of electrons on the local Braket stack, over HTTP, with jobs run as processes.

Each electron runs quantum tasks through the unmodified Braket SDK inside its job (which ties them to
the job by its token). The figures are checked against sums worked out here, independently, from the
stack's own records (GetJob, SearchQuantumTasks, the simulators' results.json) and the price table.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import pytest
from covalent._shared_files.exceptions import TaskCancelledError, TaskRuntimeError

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.billing.budget import BudgetError
from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable
from covalent_braket_plugin.billing.tag import COST_TAG
from covalent_braket_plugin.cli import main
from covalent_braket_plugin.inventory import cost_reports
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import (
    electron_metadata,
    executor_for,
    name_region_in_covalent_conf,
    with_bucket_and_role,
)

BUCKET = "amazon-braket-covalent-cost"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
M5_PER_HOUR = Decimal("0.23")  # an override: the packaged table has no confirmed instance price

# The electrons below are this module's functions: the job has no tests package to import them from.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture
def stack(
    braket_local_env: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalStack]:
    """The session's stack with the bucket and role, an instance price, and no faults left after."""
    with_bucket_and_role(braket_local_env, BUCKET)
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"instances": {"ml.m5.large": {"per_hour": str(M5_PER_HOUR)}}}))
    monkeypatch.setenv(PRICES_ENV, str(override))
    # the cost command finds the account as the executor does: through covalent.conf
    name_region_in_covalent_conf(braket_local_env.region, tmp_path, monkeypatch)
    yield braket_local_env
    braket_local_env.reset_faults()


def _braket(stack: LocalStack) -> Any:
    return boto3.client("braket", **stack.client_kwargs())


def quantum(sv1_tasks: int, forte_tasks: int, shots: int) -> str:
    """An electron: simulator tasks one after the other, then QPU tasks side by side."""
    from braket.aws import AwsDevice
    from braket.circuits import Circuit

    bell = Circuit().h(0).cnot(0, 1)
    sv1 = AwsDevice("arn:aws:braket:::device/quantum-simulator/amazon/sv1")
    for _ in range(sv1_tasks):
        sv1.run(bell, shots=shots).result()
    forte = AwsDevice("arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1")
    for task in [forte.run(bell, shots=shots) for _ in range(forte_tasks)]:
        task.result()
    return "done"


def queue_on_forte_then_wait(forte_tasks: int) -> str:
    """An electron that queues QPU tasks and waits (the stack holds them QUEUED)."""
    import time

    from braket.aws import AwsDevice
    from braket.circuits import Circuit

    forte = AwsDevice("arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1")
    for _ in range(forte_tasks):
        forte.run(Circuit().h(0).cnot(0, 1), shots=10)
    print("queued", flush=True)
    time.sleep(600)
    return "never"


def _independent_cost(stack: LocalStack, job_arn: str) -> Decimal:
    """The job's cost from the stack's records and the price table, summed here task by task."""
    braket, s3 = _braket(stack), boto3.client("s3", **stack.client_kwargs())
    prices = PriceTable.load()
    job = braket.get_job(jobArn=job_arn)
    total = Decimal(job["billableDuration"]) / 3_600_000 * M5_PER_HOUR
    pages = braket.get_paginator("search_quantum_tasks").paginate(
        filters=[{"name": "jobArn", "operator": "EQUAL", "values": [job_arn]}]
    )
    for task in (t for page in pages for t in page["quantumTasks"]):
        if task["status"] in ("FAILED", "CANCELLED"):
            continue
        price = prices.price(task["deviceArn"])
        if price.per_minute is not None:
            result = s3.get_object(
                Bucket=task["outputS3Bucket"], Key=f"{task['outputS3Directory']}/results.json"
            )
            ms = json.loads(result["Body"].read())["additionalMetadata"]["simulatorMetadata"][
                "executionDuration"
            ]
            total += price.per_minute * max(Decimal(ms), price.minimum_seconds * 1000) / 60_000
        else:
            total += price.per_task + price.per_shot * task["shots"]
    return total


def test_a_dispatch_costs_what_the_stack_records_say(
    stack: LocalStack, capsys: pytest.CaptureFixture
) -> None:
    dispatch_id = str(uuid.uuid4())
    executors = [executor_for(BUCKET), executor_for(BUCKET)]
    work = [(3, 2, 10), (2, 1, 20)]

    async def dispatch() -> list[Any]:
        return await asyncio.gather(
            *(
                executor.run(
                    quantum,
                    list(args),
                    {},
                    electron_metadata(dispatch_id, node),
                )
                for node, (executor, args) in enumerate(zip(executors, work, strict=True))
            )
        )

    assert asyncio.run(dispatch()) == ["done", "done"]
    braket = _braket(stack)
    report = cost_reports.dispatch_cost(braket, dispatch_id, PriceTable.load())
    assert [row.node_id for row in report.electrons] == ["0", "1"]
    expected = [_independent_cost(stack, row.cost.usage.job.job_arn) for row in report.electrons]
    assert [row.cost.total for row in report.electrons] == expected
    assert report.total == sum(expected) > 0
    for row, executor, (sv1_tasks, forte_tasks, shots) in zip(report.electrons, executors, work, strict=True):
        by_name = {device.name: device.usage for device in row.cost.devices}
        assert (by_name["SV1"].tasks, by_name["IonQ Forte-1"].tasks) == (sv1_tasks, forte_tasks)
        assert by_name["IonQ Forte-1"].shots == forte_tasks * shots
        assert not row.cost.usage.estimated  # every runtime read from the records, none guessed
        # the electron's output ends with the same figures, and the job carries them as a tag
        assert executor.task_stdout.getvalue().splitlines()[-1] == row.cost.line()
        tags = braket.list_tags_for_resource(resourceArn=row.cost.usage.job.job_arn)["tags"]
        assert tags[COST_TAG].startswith("v1 job=ml.m5.large*1*")

    assert main(["cost", dispatch_id, "--json"]) == 0, capsys.readouterr().err
    document = json.loads(capsys.readouterr().out)
    assert Decimal(document["total"]) == sum(expected)
    assert main(["cost", "--since", "1h"]) == 0, capsys.readouterr().err
    assert "job instances ml.m5.large" in capsys.readouterr().out


def test_max_cost_usd_refuses_a_job_whose_instance_time_could_pass_it(stack: LocalStack) -> None:
    metadata = electron_metadata()
    with pytest.raises(BudgetError) as refused:
        asyncio.run(executor_for(BUCKET, max_cost_usd=0.01, time_limit=600).run(lambda: 1, [], {}, metadata))
    message = str(refused.value)
    # 600 s at $0.23/h is $0.0383
    assert "max_cost_usd=0.01" in message and "time_limit 600 s x $0.23/h for ml.m5.large" in message
    assert "$0.04" in message and "No job was created" in message
    name = hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)
    listed = _braket(stack).search_jobs(filters=[{"name": "jobName", "operator": "EQUAL", "values": [name]}])
    assert listed["jobs"] == []


def test_a_budget_without_an_instance_price_is_refused(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PRICES_ENV)
    metadata = electron_metadata()
    with pytest.raises(
        BudgetError, match=r"max_cost_usd cannot be kept: the job instance type ml\.m5\.large"
    ):
        asyncio.run(executor_for(BUCKET, max_cost_usd=5).run(lambda: 1, [], {}, metadata))


def test_a_budget_stop_cancels_the_job_and_its_queued_tasks(stack: LocalStack) -> None:
    stack.set_faults(hold_qpu_tasks_s=600)
    metadata = electron_metadata()
    # 3 Forte-1 tasks of 10 shots are 3 x $1.10: the budget of $1 is passed by the second one
    with pytest.raises(TaskRuntimeError) as stopped:
        asyncio.run(
            executor_for(BUCKET, max_cost_usd=1.0, time_limit=120).run(
                queue_on_forte_then_wait, [3], {}, metadata
            )
        )
    message = str(stopped.value)
    assert "stopped by its budget, max_cost_usd=1.0" in message and "cancelled" in message
    braket = _braket(stack)
    [job] = braket.search_jobs(
        filters=[
            {
                "name": "jobName",
                "operator": "EQUAL",
                "values": [hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)],
            }
        ]
    )["jobs"]
    assert job["status"] == "CANCELLED"
    tasks = braket.search_quantum_tasks(
        filters=[{"name": "jobArn", "operator": "EQUAL", "values": [job["jobArn"]]}]
    )
    assert tasks["quantumTasks"] and {t["status"] for t in tasks["quantumTasks"]} == {"CANCELLED"}


def test_dispatch_max_cost_usd_stops_every_electron_of_the_dispatch(stack: LocalStack) -> None:
    stack.set_faults(hold_qpu_tasks_s=600)
    dispatch_id = str(uuid.uuid4())

    async def dispatch() -> list[Any]:
        return await asyncio.gather(
            *(
                executor_for(BUCKET, dispatch_max_cost_usd=3.0, time_limit=90).run(
                    queue_on_forte_then_wait,
                    [2],
                    {},
                    electron_metadata(dispatch_id, node),
                )
                for node in range(2)
            ),
            return_exceptions=True,
        )

    # each electron alone ($2.20) keeps within $3, both together ($4.40) do not: the first follower
    # to see the dispatch pass $3 stops its own job, whose cancelled tasks then cost nothing, and
    # the other electron, back within the budget, runs on (to its time limit)
    outcomes = asyncio.run(dispatch())
    stopped = [
        o for o in outcomes if isinstance(o, TaskRuntimeError) and "dispatch_max_cost_usd=3.0" in str(o)
    ]
    assert len(stopped) == 1, outcomes
    report = cost_reports.dispatch_cost(_braket(stack), dispatch_id, PriceTable.load())
    assert report.total is not None and report.total <= Decimal("3.0")
    assert sorted(row.cost.tasks_cost for row in report.electrons) == [Decimal(0), Decimal("2.20")]


def test_cancel_reaches_the_jobs_queued_tasks(stack: LocalStack) -> None:
    stack.set_faults(hold_qpu_tasks_s=600)
    braket = _braket(stack)
    metadata = electron_metadata()
    name = hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)

    def queued_tasks_of_the_job() -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            jobs = braket.search_jobs(filters=[{"name": "jobName", "operator": "EQUAL", "values": [name]}])[
                "jobs"
            ]
            if jobs:
                found = braket.search_quantum_tasks(
                    filters=[{"name": "jobArn", "operator": "EQUAL", "values": [jobs[0]["jobArn"]]}]
                )["quantumTasks"]
                if len(found) == 3 and {t["status"] for t in found} == {"QUEUED"}:
                    return jobs[0]["jobArn"]
            time.sleep(0.3)
        raise AssertionError("the job's 3 tasks never queued")

    async def run_then_cancel() -> str:
        executor = executor_for(BUCKET, time_limit=300)
        run = asyncio.create_task(executor.run(queue_on_forte_then_wait, [3], {}, metadata))
        job_arn = await asyncio.to_thread(queued_tasks_of_the_job)
        assert await executor_for(BUCKET).cancel(metadata, job_arn) is True
        with pytest.raises(TaskCancelledError):
            await run
        return job_arn

    job_arn = asyncio.run(run_then_cancel())
    found = braket.search_quantum_tasks(
        filters=[{"name": "jobArn", "operator": "EQUAL", "values": [job_arn]}]
    )
    assert [t["status"] for t in found["quantumTasks"]] == ["CANCELLED"] * 3
