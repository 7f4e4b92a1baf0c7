"""One day of quantum tasks, counted per device and status and priced.

The summary is built from the task summaries SearchQuantumTasks returns, without one GetQuantumTask
per task. Those carry shots but not a simulator's billed runtime, so a simulator task is priced from
``createdAt`` to ``endedAt`` (queueing included: an upper bound) and a simulator task that has not
ended yet is unpriced. A row or total that contains an unpriced task has ``cost`` None.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from covalent_braket_plugin.billing.prices import PriceTable, device_key
from covalent_braket_plugin.quantum_tasks import TASK_STATUSES


@dataclass(frozen=True)
class SummaryRow:
    """Tasks of one device in one status."""

    device_arn: str
    status: str
    tasks: int
    shots: int
    cost: Decimal | None  # None: at least one task of the row could not be priced

    def to_json(self) -> dict[str, Any]:
        return {
            "device_arn": self.device_arn,
            "status": self.status,
            "tasks": self.tasks,
            "shots": self.shots,
            "cost": None if self.cost is None else str(self.cost),
        }


@dataclass(frozen=True)
class DaySummary:
    """Every task created on ``day`` (in time zone ``tz``) that matched the filters."""

    day: date
    tz: str
    currency: str
    rows: tuple[SummaryRow, ...]

    @property
    def tasks(self) -> int:
        return sum(row.tasks for row in self.rows)

    @property
    def shots(self) -> int:
        return sum(row.shots for row in self.rows)

    @property
    def priced_cost(self) -> Decimal:
        """The estimated cost of the rows that could be priced."""
        return sum((row.cost for row in self.rows if row.cost is not None), Decimal(0))

    @property
    def cost(self) -> Decimal | None:
        """The estimated cost of the day, or None when some task could not be priced."""
        return None if self.unpriced_devices else self.priced_cost

    @property
    def unpriced_devices(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.device_arn for row in self.rows if row.cost is None))

    def row(self, device_arn: str, status: str) -> SummaryRow | None:
        """The row of one device (any region spelling of its ARN) and status, if it had tasks."""
        key = device_key(device_arn)
        return next(
            (r for r in self.rows if device_key(r.device_arn) == key and r.status == status), None
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready document; amounts are decimal strings so no precision is lost."""
        return {
            "date": self.day.isoformat(),
            "tz": self.tz,
            "currency": self.currency,
            "rows": [row.to_json() for row in self.rows],
            "total": {
                "tasks": self.tasks,
                "shots": self.shots,
                "cost": None if self.cost is None else str(self.cost),
                "priced_cost": str(self.priced_cost),
                "unpriced_devices": list(self.unpriced_devices),
            },
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def to_table(self) -> str:
        """A plain-text table for a terminal or a notebook cell."""
        header = ("DEVICE", "STATUS", "TASKS", "SHOTS", f"COST ({self.currency})")
        body = [
            (row.device_arn, row.status, str(row.tasks), str(row.shots), _money(row.cost))
            for row in self.rows
        ]
        total = ("TOTAL", "", str(self.tasks), str(self.shots), _money(self.cost))
        widths = [max(len(line[i]) for line in (header, *body, total)) for i in range(len(header))]

        def render(line: tuple[str, ...]) -> str:
            cells = [
                cell.ljust(width) if i < 2 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            ]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * width for width in widths)
        lines = [f"Quantum tasks created on {self.day.isoformat()} ({self.tz})", render(header), rule]
        lines += [render(line) for line in body] or ["(no tasks)"]
        lines += [rule, render(total)]
        if self.unpriced_devices:
            lines.append(
                f"unpriced: {', '.join(self.unpriced_devices)} "
                f"(priced part: {_money(self.priced_cost)})"
            )
        return "\n".join(lines)


def _money(amount: Decimal | None) -> str:
    if amount is None:
        return "unpriced"
    # cents for the reader; the JSON keeps every digit
    return f"{amount.quantize(Decimal('0.01')):,}"


def summarize(
    tasks: Iterable[Mapping[str, Any]], prices: PriceTable, day: date, tz: str = "UTC"
) -> DaySummary:
    """Group task summaries per device and status and price each task."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for task in tasks:
        groups.setdefault((task["deviceArn"], task["status"]), []).append(task)
    rows = []
    for (device_arn, status), members in sorted(
        groups.items(), key=lambda item: (item[0][0], TASK_STATUSES.index(item[0][1]))
    ):
        costs = [_task_cost(prices, task) for task in members]
        rows.append(
            SummaryRow(
                device_arn=device_arn,
                status=status,
                tasks=len(members),
                shots=sum(int(task["shots"]) for task in members),
                cost=None if None in costs else sum(costs, Decimal(0)),
            )
        )
    return DaySummary(day=day, tz=tz, currency=prices.currency, rows=tuple(rows))


def _task_cost(prices: PriceTable, task: Mapping[str, Any]) -> Decimal | None:
    ended = task.get("endedAt")
    duration = ended - task["createdAt"] if ended is not None else None
    return prices.task_cost(task["deviceArn"], int(task["shots"]), status=task["status"], duration=duration)
