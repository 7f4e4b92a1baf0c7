"""Budgets: ``max_cost_usd`` per electron and ``dispatch_max_cost_usd`` per dispatch.

Checked twice. Before CreateJob (before anything is uploaded, even): the job's instance time alone
could cost ``time_limit`` x the instance type's hourly price x its one instance, and a job that could
pass its budget on that alone is refused, with the figures. While the job runs, a follower measures
its cost so far every ``poll_freq`` seconds or sooner (GetJob for its instance time since it started,
its tasks by the job's ARN, measured as :mod:`~covalent_braket_plugin.billing.usage` says; a simulator
task still running counts its minimum billed time, one ended counts from creation to end), and once
the electron's cost, or the dispatch's (every electron of the dispatch in this process, those ended
with their final bill), passes its budget, the job and its waiting tasks are cancelled and the
electron fails saying why.

A price the table does not know cannot be compared with a budget: with a budget set, an instance
type or a device without a price refuses the job, or stops it, naming what lacks a price and where to
give one (a price override file, ``COVALENT_BRAKET_PRICES``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from covalent_braket_plugin import hybrid_jobs, job_stop
from covalent_braket_plugin.billing.bill import ElectronCost, price_usage
from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable
from covalent_braket_plugin.billing.usage import measure
from covalent_braket_plugin.quantum_tasks import iter_tasks
from covalent_braket_plugin.settings import BraketExecutorSettings

Blocking = Callable[..., Awaitable[Any]]

_MS_PER_S = 1000

log = logging.getLogger(__name__)


class BudgetError(RuntimeError):
    """A budget refused a job before it was created; the message names the setting and the figures."""


class DispatchSpend:
    """What each dispatch's jobs have cost so far in this process, by job ARN (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent: dict[str, dict[str, Decimal]] = {}

    def record(self, dispatch_id: str, job_arn: str, amount: Decimal) -> None:
        with self._lock:
            self._spent.setdefault(dispatch_id, {})[job_arn] = amount

    def total(self, dispatch_id: str) -> Decimal:
        with self._lock:
            return sum(self._spent.get(dispatch_id, {}).values(), Decimal(0))


def _limit(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _no_price(setting: str, what: str) -> str:
    return (
        f"{setting} cannot be kept: {what} has no price in the price table, and an unknown price is "
        f"never taken as free; give it one in a price override file named by {PRICES_ENV} "
        "(see `covalent-braket prices`), or remove the budget"
    )


def check_before_create(
    settings: BraketExecutorSettings, prices: PriceTable, dispatch_spent: Decimal
) -> None:
    """Refuse a job whose instance time alone could pass a budget (or cannot be priced)."""
    electron, dispatch = _limit(settings.max_cost_usd), _limit(settings.dispatch_max_cost_usd)
    if electron is None and dispatch is None:
        return
    setting = "max_cost_usd" if electron is not None else "dispatch_max_cost_usd"
    instance = settings.classical_device
    most = prices.job_cost(instance, settings.time_limit * _MS_PER_S, 1)
    if most is None:
        raise BudgetError(_no_price(setting, f"the job instance type {instance} (classical_device)"))
    per_hour = prices.instance_price(instance).per_hour  # type: ignore[union-attr]  # priced: job_cost said so
    figures = (
        f"time_limit {settings.time_limit} s x ${per_hour}/h for {instance} x 1 instance = ${most:.2f}"
    )
    if electron is not None and most > electron:
        raise BudgetError(
            f"max_cost_usd={settings.max_cost_usd}: the job's instance time alone could cost more "
            f"({figures}); raise max_cost_usd or lower time_limit. No job was created."
        )
    if dispatch is not None and dispatch_spent + most > dispatch:
        raise BudgetError(
            f"dispatch_max_cost_usd={settings.dispatch_max_cost_usd}: the dispatch has cost "
            f"${dispatch_spent:.2f} so far and this job's instance time alone could cost up to "
            f"${most:.2f} more ({figures}); raise dispatch_max_cost_usd or lower time_limit. "
            "No job was created."
        )


def breach(
    settings: BraketExecutorSettings, cost: ElectronCost, dispatch_spent: Decimal
) -> str | None:
    """Why the job must stop now, or None while it keeps within its budgets."""
    electron, dispatch = _limit(settings.max_cost_usd), _limit(settings.dispatch_max_cost_usd)
    if electron is None and dispatch is None:
        return None
    arn = cost.usage.job.job_arn
    if cost.unpriced:
        setting = "max_cost_usd" if electron is not None else "dispatch_max_cost_usd"
        return f"Braket job {arn} was stopped: " + _no_price(setting, ", ".join(cost.unpriced))
    if electron is not None and cost.known > electron:
        return (
            f"Braket job {arn} was stopped by its budget, max_cost_usd={settings.max_cost_usd}: it "
            f"had cost ${cost.known:.2f} so far ({cost.line()}); the job and its waiting quantum "
            "tasks were cancelled"
        )
    if dispatch is not None and dispatch_spent > dispatch:
        return (
            f"Braket job {arn} was stopped by its dispatch's budget, dispatch_max_cost_usd="
            f"{settings.dispatch_max_cost_usd}: the dispatch had cost ${dispatch_spent:.2f} so far "
            f"(this electron {cost.line()}); the job and its waiting quantum tasks were cancelled"
        )
    return None


def cost_so_far(braket: Any, job_arn: str, prices: PriceTable) -> ElectronCost:
    """A running job's cost from its record and its tasks' summaries (no result is read)."""
    usage = measure(hybrid_jobs.get_job(braket, job_arn), iter_tasks(braket, job_arn=job_arn), prices)
    return price_usage(usage, prices)


class Follower:
    """Follows one job's cost while it runs; ``reason`` says why it stopped the job, if it did."""

    def __init__(
        self,
        braket: Any,
        settings: BraketExecutorSettings,
        prices: PriceTable,
        spend: DispatchSpend,
        dispatch_id: str,
        job_arn: str,
        blocking: Blocking,
    ) -> None:
        self.reason: str | None = None
        self._args = (braket, settings, prices, spend, dispatch_id, job_arn, blocking)
        self._task: asyncio.Task | None = None
        if settings.max_cost_usd is not None or settings.dispatch_max_cost_usd is not None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        braket, settings, prices, spend, dispatch_id, job_arn, blocking = self._args
        for delay in hybrid_jobs.poll_delays(settings.initial_poll_freq, settings.poll_freq):
            await asyncio.sleep(delay)
            try:
                cost = await blocking(cost_so_far, braket, job_arn, prices)
            except Exception as error:  # botocore retried already; the next turn asks again
                log.warning(f"Could not follow the cost of Braket job {job_arn}: {error}")
                continue
            spend.record(dispatch_id, job_arn, cost.known)
            reason = breach(settings, cost, spend.total(dispatch_id))
            if reason is not None:
                self.reason = reason
                try:
                    await blocking(job_stop.stop_job, braket, job_arn)
                except Exception as error:  # the job runs on, and is billed: the next turn tries again
                    log.error(
                        f"Could not stop Braket job {job_arn}, past its budget: {error}; tried again at "
                        f"the next check, or cancel it with `covalent-braket jobs cancel {job_arn}`"
                    )
                    continue
                return

    def stop(self) -> None:
        """Stop following (the job ended or nobody waits for it any more)."""
        if self._task is not None:
            self._task.cancel()
