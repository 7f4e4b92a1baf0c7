"""Spending limits of QPUs, and what each has spent: its device's tasks of its period, by status.

A limit's queued spend (tasks CREATED, QUEUED or RUNNING) and total spend (tasks COMPLETED) are
kept current as tasks change status, so CreateQuantumTask checks a new task against them in
O(limits) however many tasks are stored; only a new limit or a new period counts them again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.local.braket_api.devices import DEVICES, Device
from covalent_braket_plugin.local.braket_api.errors import quota_exceeded, retired, validation
from covalent_braket_plugin.local.braket_api.record_search import Record, Records, filters_of, search_page
from covalent_braket_plugin.local.braket_api.resource_model import ResourceModel, now

_NO_END = datetime(9999, 12, 31, tzinfo=UTC)
# Which spend of a spending limit a QPU task counts in, by status; other statuses cost nothing.
_SPEND_STATE = {"CREATED": "queued", "QUEUED": "queued", "RUNNING": "queued", "COMPLETED": "total"}


def _usd(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.00001")).normalize(), "f")


class SpendingLimitModel(ResourceModel):
    """Spending limits, and the ledger of QPU tasks they count.

    The quantum task model reports each QPU task here: ``_check_spend`` before it exists,
    ``_count_spend`` once it does and ``_move_spend`` at each change of its status.
    """

    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices
        self._limits = Records("Spending limit")
        self._priced_tasks: dict[str, list[Record]] = {}  # device ARN -> its QPU tasks, oldest first
        self.taggable.append(self._limits)

    # ---------------------------------------------------------------- the ledger
    @staticmethod
    def _period(limit: Record) -> tuple[datetime, datetime]:
        period = limit.get("timePeriod") or {}
        return period.get("startAt", limit["createdAt"]), period.get("endAt", _NO_END)

    def _recount(self, limit: Record) -> None:
        """Sum a limit's queued and total spend from its device's tasks (when its period is set)."""
        start, end = self._period(limit)
        limit["_spend"] = {"queued": Decimal("0"), "total": Decimal("0")}
        for task in self._priced_tasks.get(limit["deviceArn"], []):
            state = _SPEND_STATE.get(task["status"])
            if state and task["_cost"] is not None and start <= task["createdAt"] <= end:
                limit["_spend"][state] += task["_cost"]

    def _count_spend(self, task: Record) -> None:
        """Enter a new QPU task (CREATED) in the ledger and in the limits covering it."""
        self._priced_tasks.setdefault(task["deviceArn"], []).append(task)
        self._move_spend(task, None, "CREATED")

    def _move_spend(self, task: Record, previous: str | None, status: str) -> None:
        """Keep the spend of the limits covering ``task`` current as it changes status (O(limits))."""
        cost = task.get("_cost")
        before, after = _SPEND_STATE.get(previous or ""), _SPEND_STATE.get(status)
        if cost is None or before == after:
            return
        for limit in self._limits.by_arn.values():
            start, end = self._period(limit)
            if limit["deviceArn"] == task["deviceArn"] and start <= task["createdAt"] <= end:
                if before:
                    limit["_spend"][before] -= cost
                if after:
                    limit["_spend"][after] += cost

    def _check_spend(self, device: Device, shots: int) -> Decimal | None:
        """The cost of a new task of ``shots`` on ``device``, refused if it would pass a limit."""
        cost = self.prices.task_cost(device.arn, shots)
        moment = now()
        for limit in self._limits.by_arn.values():
            if limit["deviceArn"] != device.arn:
                continue
            start, end = self._period(limit)
            if not start <= moment <= end:
                continue
            ceiling = Decimal(limit["spendingLimit"])
            if cost is None:
                raise validation(
                    f"Device {device.arn} has a spending limit but no known price, so the task "
                    "cannot be checked against it; add a price with COVALENT_BRAKET_PRICES"
                )
            if cost > ceiling:
                raise validation(
                    f"This quantum task costs ${_usd(cost)} ({shots} shots), more than the spending "
                    f"limit of ${limit['spendingLimit']} set for {device.arn}"
                )
            queued, total = limit["_spend"]["queued"], limit["_spend"]["total"]
            if queued + total + cost > ceiling:
                raise quota_exceeded(
                    f"Spending limit of ${limit['spendingLimit']} for {device.arn} would be exceeded: "
                    f"queued ${_usd(queued)} + completed ${_usd(total)} + this task ${_usd(cost)} "
                    f"({shots} shots); raise it with UpdateSpendingLimit or wait for its period to end."
                )
        return cost

    # ---------------------------------------------------------------- operations
    @staticmethod
    def _check_period(period: dict[str, Any] | None) -> None:
        if period and period["startAt"] >= period["endAt"]:
            raise validation("timePeriod.startAt must be before timePeriod.endAt")

    def create_spending_limit(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        device = DEVICES.get(params["deviceArn"])
        if device is None or not device.is_qpu:
            raise validation(
                f"Spending limits apply to QPUs only; {params['deviceArn']} is not a QPU this endpoint knows"
            )
        if device.is_retired:
            raise retired(device.arn)
        self._check_period(params.get("timePeriod"))
        with self._lock:
            earlier = self._created_for("limit", params["clientToken"])
            if earlier is not None:
                return {"spendingLimitArn": earlier}
            for limit in self._limits.by_arn.values():
                if limit["deviceArn"] == device.arn:
                    raise validation(
                        f"A spending limit for {device.arn} already exists: "
                        f"{limit['spendingLimitArn']}; change it with UpdateSpendingLimit"
                    )
            arn = self._arn(device.region or region, "spending-limit")
            created = self._created_at()
            self._limits.add(
                arn,
                {
                    "spendingLimitArn": arn,
                    "deviceArn": device.arn,
                    "spendingLimit": params["spendingLimit"],
                    "timePeriod": params.get("timePeriod"),
                    "createdAt": created,
                    "updatedAt": created,
                    "tags": dict(params.get("tags", {})),
                },
            )
            self._recount(self._limits.by_arn[arn])
            self._remember_token("limit", params["clientToken"], arn)
            return {"spendingLimitArn": arn}

    def update_spending_limit(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        self._check_period(params.get("timePeriod"))
        with self._lock:
            record = self._limits.existing(params["spendingLimitArn"])
            for name in ("spendingLimit", "timePeriod"):
                if name in params:
                    record[name] = params[name]
            if "timePeriod" in params:
                self._recount(record)
            record["updatedAt"] = now()
        return {}

    def delete_spending_limit(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            self._limits.existing(params["spendingLimitArn"])
            del self._limits.by_arn[params["spendingLimitArn"]]
        return {}

    def _limit_summary(self, record: Record) -> Record:
        start, end = self._period(record)
        return {
            **record,
            "timePeriod": {"startAt": start, "endAt": end},
            "queuedSpend": _usd(record["_spend"]["queued"]),
            "totalSpend": _usd(record["_spend"]["total"]),
        }

    def search_spending_limits(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        fields = {"deviceArn": lambda r: r["deviceArn"], "spendingLimitArn": lambda r: r["spendingLimitArn"]}
        filters = filters_of(params, fields)
        with self._lock:
            items, token = search_page(self._limits, filters, params, self._limit_summary)
        return {"spendingLimits": items, "nextToken": token}
