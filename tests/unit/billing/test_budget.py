"""Budgets before CreateJob and while a job runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from covalent_braket_plugin.billing import budget
from covalent_braket_plugin.billing.bill import price_usage
from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.billing.usage import JobUsage, Usage
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
