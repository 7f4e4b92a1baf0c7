"""Budgets: ``max_cost_usd`` per electron and ``dispatch_max_cost_usd`` per dispatch.

Checked twice. Before CreateJob (before anything is uploaded, even): the job's instance time alone
could cost ``time_limit`` x the instance type's hourly price x its one instance, and a job that could
pass its budget on that alone is refused, with the figures. While the job runs, at each of its ticks
(the executor's job watcher: every ``poll_freq`` seconds or sooner), :class:`JobBudget` measures its
cost so far as :mod:`~covalent_braket_plugin.billing.usage` says (a simulator task still running
counts its minimum billed time, one ended from creation to end), and once the electron's cost, or the
dispatch's (every electron of the dispatch in this process, those ended with their final bill),
passes its budget, it says why the job must stop; the executor then stops the job and its waiting
tasks, and the electron fails saying why.

A price the table does not know cannot be compared with a budget: with a budget set, an instance
type or a device without a price refuses the job, or stops it, naming what lacks a price and where to
give one (a price override file, ``COVALENT_BRAKET_PRICES``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from covalent_braket_plugin.billing.bill import ElectronCost, price_usage
from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable
from covalent_braket_plugin.billing.usage import ENDED_STATUSES, is_simulator, measure
from covalent_braket_plugin.quantum_tasks import CANCELLABLE_STATUSES, iter_tasks
from covalent_braket_plugin.settings import BraketExecutorSettings

_MS_PER_S = 1000


class BudgetError(RuntimeError):
    """A budget refused a job before it was created; the message names the setting and the figures."""


class DispatchSpend:
    """What each dispatch's jobs have cost so far in this process, by job ARN (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._spent: dict[str, dict[str, Decimal]] = {}

    @contextmanager
    def deciding(self) -> Iterator[None]:
        """One budget decision at a time. The jobs of a dispatch take their turns together, so their
        checks come at once; a job found past the budget must count as stopped before the next check
        reads the total, or every job of the dispatch would stop where stopping one was enough."""
        with self._lock:
            yield

    def record(self, dispatch_id: str, job_arn: str, amount: Decimal) -> None:
        with self._lock:
            self._spent.setdefault(dispatch_id, {})[job_arn] = amount

    def total(self, dispatch_id: str) -> Decimal:
        with self._lock:
            return sum(self._spent.get(dispatch_id, {}).values(), Decimal(0))


def is_set(settings: BraketExecutorSettings) -> bool:
    """Whether the settings give a budget at all (none is the default, and costs nothing to keep)."""
    return settings.max_cost_usd is not None or settings.dispatch_max_cost_usd is not None


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
    if not is_set(settings):
        return
    electron, dispatch = _limit(settings.max_cost_usd), _limit(settings.dispatch_max_cost_usd)
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
    if not is_set(settings):
        return None
    electron, dispatch = _limit(settings.max_cost_usd), _limit(settings.dispatch_max_cost_usd)
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


class JobBudget:
    """One running job's budgets, checked at its ticks: :meth:`check` says why the job must stop.

    It reads the job's tasks a little at a time: those created since its last look (SearchQuantumTasks
    by the job's ARN, ``createdAt`` from the newest one seen on, inclusive), remembering every task it
    saw by ARN. So following a job of N tasks costs about N/100 pages in all however many ticks it
    lasts, and one call a tick while the job creates none. What it remembers is read again only where
    the figure can still grow: from the oldest simulator task not ended on (it is billed by its
    runtime), until it ends. A QPU task counts in full from the moment it is seen, as it will be billed
    when it runs; one cancelled afterwards keeps counting until the job's bill, so a budget errs toward
    stopping. The job's instance time is its time since ``startedAt`` in the watcher's summary, on the
    instances the settings created it with: no GetJob. A job found past a budget counts for its
    dispatch at what stopping it leaves to pay (its tasks still waiting are cancelled), until its
    bill says exactly.
    """

    def __init__(
        self,
        braket: Any,
        settings: BraketExecutorSettings,
        prices: PriceTable,
        spend: DispatchSpend,
        dispatch_id: str,
        job_arn: str,
    ) -> None:
        self._braket = braket
        self._settings = settings
        self._prices = prices
        self._spend = spend
        self._dispatch_id = dispatch_id
        self._job_arn = job_arn
        self._instances = {
            "instanceType": settings.classical_device,
            "instanceCount": settings.instance_count,
        }
        self._tasks: dict[str, Mapping[str, Any]] = {}
        self._since: datetime | None = None

    def check(self, summary: Mapping[str, Any] | None) -> str | None:
        """Why the job must stop now, or None while it keeps within its budgets; its cost so far counts
        for its dispatch's budget either way.

        ``summary`` is the job's SearchJobs summary from this tick (None when Braket did not list it
        yet: no instance time then).
        """
        for task in iter_tasks(self._braket, job_arn=self._job_arn, created_since=self._since):
            self._tasks[task["quantumTaskArn"]] = task
        self._since = self._next_look()
        record = {**(summary or {"jobArn": self._job_arn}), "instanceConfig": self._instances}
        tasks = list(self._tasks.values())
        cost = price_usage(measure(record, tasks, self._prices), self._prices)
        with self._spend.deciding():
            self._spend.record(self._dispatch_id, self._job_arn, cost.known)
            reason = breach(self._settings, cost, self._spend.total(self._dispatch_id))
            if reason is not None:
                # Stopping the job cancels its tasks still waiting: the dispatch pays for the rest.
                kept = [task for task in tasks if task["status"] not in CANCELLABLE_STATUSES]
                left = price_usage(measure(record, kept, self._prices), self._prices)
                self._spend.record(self._dispatch_id, self._job_arn, left.known)
        return reason

    def _next_look(self) -> datetime | None:
        """Where the next search starts: the oldest simulator task not ended yet, else the newest task."""
        tasks = self._tasks.values()
        growing = [
            task["createdAt"]
            for task in tasks
            if is_simulator(task["deviceArn"]) and task["status"] not in ENDED_STATUSES
        ]
        return min(growing, default=None) or max((t["createdAt"] for t in tasks), default=None)
