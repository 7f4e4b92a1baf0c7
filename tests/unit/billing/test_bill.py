"""Usage priced (``billing/bill.py``): instances, QPU fees and simulator minutes; unknown prices stay
unknown, never zero."""

from __future__ import annotations

from decimal import Decimal

from covalent_braket_plugin.billing.bill import price_usage
from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.billing.usage import measure
from tests.unit.billing.test_usage import PRICED, RECORD, TASKS


def test_a_priced_job_adds_instances_qpu_fees_and_simulator_minutes() -> None:
    usage = measure(RECORD, TASKS, PRICED, {"s1": 1200, "s2": 4500})
    cost = price_usage(usage, PRICED)
    job = Decimal("0.23") * 180_000 * 2 / 3_600_000
    forte = 2 * Decimal("0.30") + 30 * Decimal("0.08")
    sv1 = Decimal("0.075") * 7500 / 60_000
    assert cost.job_cost == job and cost.total == job + forte + sv1
    assert cost.line() == (
        f"cost: ${job + forte + sv1:.2f} = job {job:.2f} (2 x ml.m5.large, 3 min) "
        f"+ 2 tasks on SV1 {sv1:.2f} + 2 tasks on IonQ Forte-1 {forte:.2f}"
    )


def test_an_unpriced_instance_is_unknown_never_zero() -> None:
    cost = price_usage(measure(RECORD, TASKS[3:4], PRICED), PriceTable.load())
    assert cost.job_cost is None and cost.total is None
    assert cost.known == Decimal("0.30") + 10 * Decimal("0.08")
    assert cost.unpriced == ("ml.m5.large",)
    assert cost.line().startswith("cost: unknown (known part $1.10) = job unknown (2 x ml.m5.large")
