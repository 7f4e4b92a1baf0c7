"""Budgets before CreateJob and while a job runs, at the job's ticks, reading its tasks a little at a time."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from covalent_braket_plugin.billing import budget
from covalent_braket_plugin.billing.bill import price_usage
from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.billing.usage import JobUsage, Usage
from covalent_braket_plugin.quantum_tasks import PAGE_SIZE
from covalent_braket_plugin.settings import BraketExecutorSettings

PRICED = PriceTable.load(overrides={"instances": {"ml.m5.large": {"per_hour": "0.36"}}})
JOB = "arn:aws:braket:us-east-1:123456789012:job/j"


def _settings(**options: Any) -> BraketExecutorSettings:
    return BraketExecutorSettings.from_options(s3_bucket_name="amazon-braket-x", **options)


def test_no_budget_no_check() -> None:
    budget.check_before_create(_settings(), PriceTable.load(), Decimal(0))


def test_a_job_whose_instance_time_could_pass_the_budget_is_refused_with_the_figures() -> None:
    with pytest.raises(budget.BudgetError) as refused:
        budget.check_before_create(_settings(max_cost_usd=0.05, time_limit=600), PRICED, Decimal(0))
    assert str(refused.value).startswith(
        "max_cost_usd=0.05: the job's instance time alone could cost more "
        "(time_limit 600 s x $0.36/h for ml.m5.large x 1 instance = $0.06)"
    )
    budget.check_before_create(_settings(max_cost_usd=0.06, time_limit=600), PRICED, Decimal(0))


def test_a_dispatch_budget_counts_what_the_dispatch_spent() -> None:
    settings = _settings(dispatch_max_cost_usd=1.0, time_limit=600)
    budget.check_before_create(settings, PRICED, Decimal("0.94"))
    with pytest.raises(budget.BudgetError, match=r"dispatch_max_cost_usd=1.0: the dispatch has cost \$0.95"):
        budget.check_before_create(settings, PRICED, Decimal("0.95"))


def test_a_budget_needs_an_instance_price() -> None:
    with pytest.raises(budget.BudgetError, match=r"ml\.m5\.large .classical_device. has no price"):
        budget.check_before_create(_settings(max_cost_usd=5), PriceTable.load(), Decimal(0))


def test_breach_names_the_setting_and_the_cost_so_far() -> None:
    cost = price_usage(Usage(JobUsage(JOB, "ml.m5.large", 1, 3_600_000)), PRICED)  # $0.36
    assert budget.breach(_settings(max_cost_usd=1), cost, Decimal("0.36")) is None
    reason = budget.breach(_settings(max_cost_usd=0.3), cost, Decimal("0.36"))
    assert reason is not None and "max_cost_usd=0.3" in reason and "$0.36 so far" in reason
    reason = budget.breach(_settings(dispatch_max_cost_usd=0.5), cost, Decimal("0.60"))
    assert reason is not None and "dispatch_max_cost_usd=0.5" in reason
    unpriced = price_usage(Usage(JobUsage(JOB, "ml.m5.large", 1, 1000)), PriceTable.load())
    assert "ml.m5.large has no price" in str(budget.breach(_settings(max_cost_usd=9), unpriced, Decimal(0)))


# --- following a running job ------------------------------------------------------------------------
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
START = datetime(2026, 11, 21, 12, tzinfo=UTC)


class JobTasks:
    """A real Braket client whose SearchQuantumTasks is answered here from ``tasks`` (the job's), with
    the service's filters and pages; every call made through it is counted by operation."""

    def __init__(self, job_arn: str = JOB) -> None:
        self.job_arn = job_arn
        self.tasks: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.client = boto3.client(
            "braket", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        self._params: dict[str, Any] = {}
        self.client.meta.events.register("before-parameter-build.braket", self._keep)
        self.client.meta.events.register("before-call.braket", self._answer)

    def add(self, count: int, device: str = FORTE, status: str = "QUEUED") -> list[dict[str, Any]]:
        added = []
        for _ in range(count):
            number = len(self.tasks) + len(added)
            added.append({
                "quantumTaskArn": f"arn:aws:braket:us-east-1:123456789012:quantum-task/{number}",
                "status": status, "deviceArn": device, "shots": 10, "outputS3Bucket": "b",
                "outputS3Directory": f"tasks/{number}", "createdAt": START + timedelta(milliseconds=number),
            })
        self.tasks += added
        return added

    def _keep(self, params: dict[str, Any], **_: Any) -> None:
        self._params = dict(params)

    def _answer(self, model: Any, **_: Any) -> Any:
        self.calls[model.name] += 1
        assert model.name == "SearchQuantumTasks", f"the budget asked {model.name}"
        found = self.tasks
        for wanted in self._params["filters"]:
            if wanted["name"] == "jobArn":
                assert wanted["values"] == [self.job_arn]
            elif wanted["name"] == "createdAt":
                assert wanted["operator"] == "GTE"
                since = datetime.strptime(wanted["values"][0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
                found = [task for task in found if task["createdAt"] >= since]
            else:
                raise AssertionError(f"unexpected filter {wanted}")
        start, size = int(self._params.get("nextToken", 0)), self._params["maxResults"]
        page: dict[str, Any] = {"quantumTasks": [dict(task) for task in found[start : start + size]]}
        if start + size < len(found):
            page["nextToken"] = str(start + size)
        return AWSResponse("https://braket.us-east-1.amazonaws.com", 200, {}, None), page


def _job_budget(braket: JobTasks, **settings: Any) -> budget.JobBudget:
    return budget.JobBudget(braket.client, _settings(**settings), PRICED, budget.DispatchSpend(), "d", JOB)


def _running(seconds: float) -> dict[str, Any]:
    """The job's summary as the watcher's search gives it, ``seconds`` after it started."""
    started = datetime.now(UTC) - timedelta(seconds=seconds)
    return {"jobArn": JOB, "status": "RUNNING", "createdAt": START, "startedAt": started}


def test_following_a_job_reads_each_task_about_once_not_every_task_at_every_tick() -> None:
    """2,000 queued QPU tasks over 10 ticks. Reading every task at every tick, with a GetJob for the
    instance time, took 10 x (1 + 20) = 210 calls; the first look now reads the 20 pages and each later
    one a page from the newest task on, and the instance time comes from the watcher's summary."""
    braket, ticks = JobTasks(), 10
    braket.add(2000)
    follower = _job_budget(braket, max_cost_usd=10_000)
    for tick in range(ticks):
        assert follower.check(_running(60 * tick)) is None
    pages = math.ceil(2000 / PAGE_SIZE)
    assert braket.calls == {"SearchQuantumTasks": pages + (ticks - 1)}
    spent = budget.DispatchSpend()
    follower._spend = spent
    follower.check(_running(600))
    per_task = PRICED.task_cost(FORTE, 10)
    assert per_task is not None and spent.total("d") >= 2000 * per_task  # every task counted, once
    assert spent.total("d") < 2001 * per_task


def test_tasks_made_between_ticks_are_each_counted_once() -> None:
    braket = JobTasks()
    per_task = PRICED.task_cost(FORTE, 10)
    assert per_task is not None
    follower = _job_budget(braket, max_cost_usd=float(450 * per_task))
    for tick in range(1, 6):  # 100 more tasks at each tick: the fifth hundred passes the budget
        braket.add(100)
        reason = follower.check(_running(0))
        assert (reason is None) == (tick * 100 * per_task <= 450 * per_task), (tick, reason)
    assert reason is not None and "max_cost_usd=" in reason and "stopped by its budget" in reason


def test_a_simulator_task_is_read_again_until_it_ends_its_runtime_counting_then() -> None:
    braket = JobTasks()
    [task] = braket.add(1, SV1, "RUNNING")
    follower = _job_budget(braket, max_cost_usd=0.05)  # SV1: $0.075 a minute, at least 3 s
    assert follower.check(None) is None  # running: its minimum billed time, a lower bound
    braket.add(3)  # QPU tasks queued since: read again from the running one on
    task["status"], task["endedAt"] = "COMPLETED", task["createdAt"] + timedelta(minutes=1)
    reason = follower.check(None)
    assert reason is not None and "1 task on SV1" in reason


def test_of_a_dispatchs_jobs_checked_at_the_same_tick_only_as_many_stop_as_the_budget_needs() -> None:
    """Each job's two queued Forte-1 tasks cost $2.20: within $3 alone, not together. The job found
    past the budget counts, once stopped, without its waiting tasks, so the other runs on."""
    spend = budget.DispatchSpend()
    settings = _settings(dispatch_max_cost_usd=3.0)
    followers = []
    for job_arn in (f"{JOB}-1", f"{JOB}-2"):
        braket = JobTasks(job_arn)
        braket.add(2)
        followers.append(budget.JobBudget(braket.client, settings, PRICED, spend, "d", job_arn))
    first, second = followers
    reasons = [first.check(_running(0)), second.check(_running(0)), first.check(_running(0))]
    assert [reason is not None for reason in reasons] == [False, True, False]  # the second is stopped
    assert "dispatch_max_cost_usd=3.0" in str(reasons[1])
    assert spend.total("d") < Decimal("2.21")  # the stopped job's waiting tasks no longer count
