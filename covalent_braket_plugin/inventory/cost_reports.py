"""What a workflow's electrons cost, and what Braket cost day by day, from AWS's records alone.

Nothing of the machine that dispatched the workflow is needed: the jobs are found by the dispatch tag
the executor puts on every job (a SearchJobs narrowed by the job names the executor gives a dispatch,
kept by tag), their tasks by each job's ARN (SearchQuantumTasks, whose summaries do not name their
job, so one job per search), and what those searches cannot tell, a job's billable time and
instances and its simulators' runtimes, from the cost tag the executor put on the job when it ended
(``covalent:cost``). So a report costs the pages of its searches, pages of 100 (a job with fewer
than 100 tasks takes one), and no GetJob or result read per electron; only a job without the tag
(still running, or ended while no executor waited for it) costs one GetJob, and its simulator tasks
are then estimated from their times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.billing.bill import ElectronCost, price_usage
from covalent_braket_plugin.billing.day_totals import DaySummary, summarize
from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.billing.tag import COST_TAG, read_usage_tag, usage_from_records
from covalent_braket_plugin.billing.usage import job_usage, measure
from covalent_braket_plugin.inventory.formatting import table
from covalent_braket_plugin.quantum_tasks import iter_tasks

SEARCH_PAGE_SIZE = 100


def _money(amount: Decimal | None) -> str:
    return "unknown" if amount is None else f"{amount:.2f}"


def _sum(amounts: list[Decimal | None]) -> Decimal | None:
    return None if None in amounts else sum(amounts, Decimal(0))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ElectronRow:
    """One job of the dispatch (an electron's attempt) and its cost."""

    node_id: str
    job_name: str
    status: str
    cost: ElectronCost


@dataclass(frozen=True)
class DispatchCost:
    """Every job of one dispatch, priced."""

    dispatch_id: str
    currency: str
    electrons: tuple[ElectronRow, ...]

    @property
    def total(self) -> Decimal | None:
        return _sum([row.cost.total for row in self.electrons])

    @property
    def known(self) -> Decimal:
        return sum((row.cost.known for row in self.electrons), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "dispatch_id": self.dispatch_id,
            "currency": self.currency,
            "total": None if self.total is None else str(self.total),
            "known": str(self.known),
            "estimated": any(row.cost.usage.estimated for row in self.electrons),
            "electrons": [
                {"node_id": row.node_id, "job_name": row.job_name, "status": row.status, **row.cost.to_json()}
                for row in self.electrons
            ],
        }

    def to_table(self) -> str:
        rows = []
        for row in self.electrons:
            cost = row.cost
            tasks = ", ".join(f"{d.usage.tasks} on {d.name}" for d in cost.devices) or "-"
            rows.append(
                (
                    row.node_id,
                    row.job_name,
                    row.status,
                    _money(cost.job_cost),
                    _money(cost.tasks_cost),
                    tasks,
                    _money(cost.total) + ("~" if cost.usage.estimated else ""),
                )
            )
        total = _money(self.total)
        rows.append(("TOTAL", "", "", "", "", "", total))
        header = ("NODE", "JOB", "STATUS", "JOB COST", "TASKS COST", "TASKS", f"TOTAL ({self.currency})")
        lines = [f"Dispatch {self.dispatch_id}: {len(self.electrons)} job(s)", table(header, rows)]
        if self.total is None:
            lines.append(f"unknown: some price is missing; known part {self.known:.2f}")
        if any(row.cost.usage.estimated for row in self.electrons):
            lines.append("~: estimated (a job still running, or runtimes not recorded with the job)")
        return "\n".join(lines)


def dispatch_jobs(braket: Any, dispatch_id: str) -> Iterator[dict[str, Any]]:
    """SearchJobs summaries of the dispatch's jobs (pages of 100).

    SearchJobs has no tag filter; the executor names every job of a dispatch ``covalent-<the
    dispatch's first 8 letters and digits>-n...``, which a ``jobName`` CONTAINS filter narrows the
    search to, and the dispatch tag decides.
    """
    prefix = hybrid_jobs.job_name(dispatch_id, 0, 1).partition("-n0-")[0]
    filters = [{"name": "jobName", "operator": "CONTAINS", "values": [f"{prefix}-n"]}]
    pages = braket.get_paginator("search_jobs").paginate(
        filters=filters, PaginationConfig={"PageSize": SEARCH_PAGE_SIZE}
    )
    for page in pages:
        for summary in page.get("jobs", []):
            if (summary.get("tags") or {}).get(hybrid_jobs.TAG_DISPATCH_ID) == dispatch_id:
                yield summary


def job_cost(
    braket: Any, summary: Mapping[str, Any], tasks: list[dict[str, Any]], prices: PriceTable
) -> ElectronCost:
    """One job's cost from its summary's cost tag and its tasks; GetJob only for a job without the tag."""
    tagged = read_usage_tag(summary["jobArn"], (summary.get("tags") or {}).get(COST_TAG, ""))
    if tagged is not None:
        usage = usage_from_records(tagged, tasks, prices)
    else:
        usage = measure(hybrid_jobs.get_job(braket, summary["jobArn"]), tasks, prices)
    return price_usage(usage, prices)


def dispatch_cost(braket: Any, dispatch_id: str, prices: PriceTable) -> DispatchCost:
    """The cost of every job of ``dispatch_id``, by node, from the searches (and GetJob for untagged jobs)."""
    jobs = sorted(
        dispatch_jobs(braket, dispatch_id),
        key=lambda s: (_node_order(s), s["createdAt"]),
    )
    rows = tuple(
        ElectronRow(
            node_id=(job.get("tags") or {}).get(hybrid_jobs.TAG_NODE_ID, ""),
            job_name=job["jobName"],
            status=job["status"],
            cost=job_cost(braket, job, list(iter_tasks(braket, job_arn=job["jobArn"])), prices),
        )
        for job in jobs
    )
    return DispatchCost(dispatch_id, prices.currency, rows)


def _node_order(summary: Mapping[str, Any]) -> tuple[int, str]:
    node = (summary.get("tags") or {}).get(hybrid_jobs.TAG_NODE_ID, "")
    return (int(node), "") if node.isdigit() else (1 << 62, node)


# --- day by day -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobDayRow:
    """Hybrid job instance time of one day (by the jobs' creation) and instance type."""

    day: date
    instance_type: str
    jobs: int
    billable_ms: int
    cost: Decimal | None
    estimated: bool


@dataclass(frozen=True)
class DailyCost:
    """Each day since ``since``: quantum tasks per device (and status), job instance time per type."""

    since: datetime
    currency: str
    tasks: tuple[DaySummary, ...]
    jobs: tuple[JobDayRow, ...]

    @property
    def total(self) -> Decimal | None:
        return _sum([day.cost for day in self.tasks] + [row.cost for row in self.jobs])

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "currency": self.currency,
            "total": None if self.total is None else str(self.total),
            "days": [day.to_json() for day in self.tasks],
            "jobs": [
                {
                    "date": row.day.isoformat(),
                    "instance_type": row.instance_type,
                    "jobs": row.jobs,
                    "billable_ms": row.billable_ms,
                    "cost": None if row.cost is None else str(row.cost),
                    "estimated": row.estimated,
                }
                for row in self.jobs
            ],
        }

    def to_table(self) -> str:
        rows = [
            (d.day.isoformat(), r.device_arn, r.status, str(r.tasks), str(r.shots), _money(r.cost))
            for d in self.tasks
            for r in d.rows
        ]
        rows += [
            (
                r.day.isoformat(),
                f"job instances {r.instance_type}",
                f"{r.jobs} job(s)",
                "",
                f"{r.billable_ms / 60000:.1f} min",
                _money(r.cost) + ("~" if r.estimated else ""),
            )
            for r in self.jobs
        ]
        rows.sort(key=lambda row: row[0])
        rows.append(("TOTAL", "", "", "", "", _money(self.total)))
        header = ("DAY (UTC)", "DEVICE", "STATUS", "TASKS", "SHOTS", f"COST ({self.currency})")
        notes = (
            "Simulator tasks are priced from creation to end (an upper bound); "
            "~: a job's time estimated (still running, or not recorded with the job)."
        )
        return "\n".join([f"Braket costs since {self.since.isoformat()}", table(header, rows), notes])


def daily_cost(braket: Any, since: datetime, prices: PriceTable, now: datetime | None = None) -> DailyCost:
    """Every quantum task and hybrid job created since ``since``, day by day (UTC).

    Tasks are priced from their summaries as ``covalent-braket tasks`` does; jobs by their cost tag,
    or GetJob for a job without one.
    """
    until = now or datetime.now(UTC)
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for task in iter_tasks(braket, created_between=(since, until)):
        by_day[task["createdAt"].astimezone(UTC).date()].append(task)
    days = tuple(summarize(by_day[day], prices, day) for day in sorted(by_day))

    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pages = braket.get_paginator("search_jobs").paginate(
        filters=[{"name": "createdAt", "operator": "GTE", "values": [stamp]}],
        PaginationConfig={"PageSize": SEARCH_PAGE_SIZE},
    )
    groups: dict[tuple[date, str], list[Any]] = defaultdict(list)
    for page in pages:
        for summary in page.get("jobs", []):
            tagged = read_usage_tag(summary["jobArn"], (summary.get("tags") or {}).get(COST_TAG, ""))
            usage = tagged.job if tagged else job_usage(hybrid_jobs.get_job(braket, summary["jobArn"]), until)
            groups[(summary["createdAt"].astimezone(UTC).date(), usage.instance_type)].append(usage)
    jobs = []
    for (day, instance_type), usages in sorted(groups.items()):
        costs = [
            None
            if u.billable_ms is None
            else prices.job_cost(u.instance_type, u.billable_ms, u.instance_count)
            for u in usages
        ]
        jobs.append(
            JobDayRow(
                day=day,
                instance_type=instance_type,
                jobs=len(usages),
                billable_ms=sum(u.billable_ms or 0 for u in usages),
                cost=_sum(costs),
                estimated=any(u.estimated for u in usages),
            )
        )
    return DailyCost(since, prices.currency, days, tuple(jobs))
