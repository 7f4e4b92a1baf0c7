"""Budgets before CreateJob and while a job runs, and a stop that leaves no task waiting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from covalent_braket_plugin.executor import budget, stop
from covalent_braket_plugin.settings import BraketExecutorSettings
from covalent_braket_plugin.tasks.cost import JobUsage, Usage, price_usage
from covalent_braket_plugin.tasks.pricing import PriceTable

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


class WaitingTasks:
    """A Braket stand-in whose job keeps tasks waiting until they are cancelled; one already ended."""

    def __init__(self, waiting: list[str]) -> None:
        self.waiting = list(waiting)
        self.cancels: list[str] = []

    def get_paginator(self, operation: str) -> Any:
        braket = self

        class Pages:
            def paginate(self, filters: list[dict], **_: Any) -> Any:
                assert filters[0] == {"name": "jobArn", "operator": "EQUAL", "values": [JOB]}
                assert filters[1]["values"] == ["CREATED", "QUEUED"]
                yield {"quantumTasks": [{"quantumTaskArn": arn} for arn in braket.waiting]}

        return Pages()

    def cancel_quantum_task(self, quantumTaskArn: str) -> dict:
        self.cancels.append(quantumTaskArn)
        if quantumTaskArn == "ended":
            self.waiting.remove(quantumTaskArn)
            raise ClientError({"Error": {"Code": "ConflictException", "Message": "ended"}}, "Cancel")
        self.waiting.remove(quantumTaskArn)
        return {"cancellationStatus": "CANCELLING"}


def test_stragglers_are_cancelled_until_none_waits_and_again_harmlessly() -> None:
    braket = WaitingTasks(["a", "b", "ended"])
    report = stop.cancel_waiting_tasks(braket, JOB)
    assert report.cancelled == {"a": "CANCELLING", "b": "CANCELLING"} and "ended" in report.already_finished
    assert braket.waiting == [] and report.ok
    assert stop.cancel_waiting_tasks(braket, JOB).requested == ()  # nothing left: nothing asked
