"""The guard's DynamoDB ledger: each task counted once, running totals per device and day.

EventBridge delivers each event at least once, sometimes twice or three times and out of order,
and several Lambda invocations run at the same time. The ledger makes that harmless with three
kinds of items in one table (partition key ``pk``, TTL attribute ``expires_at``):

- ``task#<task ARN>``: written with ``attribute_not_exists(pk)``, so only the first copy of a
  task's CREATED event counts it;
- ``usage#<device ARN>#<day>``: task count, shots, estimated dollars and unpriced tasks, raised with
  atomic ``ADD`` in the same transaction as the task item, so a task is counted exactly when it is
  recorded and concurrent invocations never lose an update;
- ``breach#<device ARN>#<day>``: the "breach notified" marker, also conditional, so exactly one
  invocation posts to Slack for a device's breach of the day;
- ``usage#account#<day>``: the same totals over every device and the day's job instance time, raised
  in the same transactions, for the account-wide limit; ``jobs#<day>``: job instance dollars alone;
- ``reconciled#<device ARN>#<day>``: taken by the device's first event of the day, whose invocation
  records every task Braket's own search lists for that day, so tasks whose events never arrived
  (created before the guard, or lost) count too, and their events, if they come later, are copies;
- ``job#<job ARN>`` and ``runtime#<task ARN>``: charges (job instance time, a simulator task's runtime
  beyond its minimum) counted once, like tasks.

Per event this is one transaction and one consistent read, whatever the day's volume; the first
event of a device's day adds a marker, a Braket search and one transaction per task the ledger lacks.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

# Items outlive their day by this long, so a late duplicate still finds its task item.
RETENTION = timedelta(days=35)
KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
ACCOUNT = "account"  # the usage item of all devices together (never a device ARN)


class LedgerMissing(RuntimeError):
    """The ledger table does not exist (a setting problem, not a passing fault)."""

    def __init__(self, table: str) -> None:
        super().__init__(f"no DynamoDB table {table!r}")
        self.table = table


@dataclass(frozen=True)
class DayTally:
    """Committed work on one device (or the account) in one day: the running totals a limit is held to.

    Not a job's bill (:class:`covalent_braket_plugin.billing.usage.Usage`): a tally of tasks and
    dollars across jobs and notebooks, counted from events."""

    task_count: int = 0
    shots: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced_tasks: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "task_count": self.task_count,
            "shots": self.shots,
            "cost_usd": str(self.cost_usd),
            "unpriced_tasks": self.unpriced_tasks,
        }


class Ledger:
    """Counts tasks into the ledger table ``table`` through a low-level DynamoDB client."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb = dynamodb
        self.table = table

    def record_task(
        self, task_arn: str, device_arn: str, day: date, shots: int, cost: Decimal | None, expires: datetime
    ) -> tuple[bool, DayTally]:
        """Count a task unless it was counted before; return (newly counted, the day's usage)."""
        added = DayTally(1, shots, cost or Decimal(0), 1 if cost is None else 0)
        item = {"device_arn": {"S": device_arn}, "day": {"S": day.isoformat()}, "shots": {"N": str(shots)}}
        counted = self._count_once(f"task#{task_arn}", item, [device_arn, ACCOUNT], day, added, expires)
        return counted, self.usage(device_arn, day)

    def record_charge(
        self, charge_id: str, device_arn: str | None, day: date, cost: Decimal, expires: datetime
    ) -> tuple[bool, DayTally]:
        """Add dollars once per ``charge_id`` (``job#<ARN>``, ``runtime#<task ARN>``) to the day's totals.

        A charge without a device is job instance time: it raises the account's totals and the day's
        job dollars. Returns (newly counted, the device's usage, or the account's for a job).
        """
        added = DayTally(0, 0, cost, 0)
        keys = [device_arn, ACCOUNT] if device_arn is not None else [ACCOUNT, _JOBS]
        item = {"day": {"S": day.isoformat()}, "cost_usd": {"N": str(cost)}}
        counted = self._count_once(charge_id, item, keys, day, added, expires)
        return counted, self.usage(device_arn, day)

    def _count_once(
        self,
        item_key: str,
        item: dict[str, Any],
        usage_of: list[str],
        day: date,
        added: DayTally,
        expires: datetime,
    ) -> bool:
        """Put ``item_key`` unless present and ADD ``added`` to the usage items, in one transaction."""
        ttl = {"N": str(int((expires + RETENTION).timestamp()))}
        values = {
            ":tasks": {"N": str(added.task_count)},
            ":shots": {"N": str(added.shots)},
            ":cost": {"N": str(added.cost_usd)},
            ":unpriced": {"N": str(added.unpriced_tasks)},
            ":ttl": ttl,
        }
        updates = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {KEY: {"S": _usage_key(owner, day)}},
                    "UpdateExpression": "ADD task_count :tasks, shots :shots, cost_usd :cost, "
                    "unpriced_tasks :unpriced SET #ttl = :ttl",
                    "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
                    "ExpressionAttributeValues": values,
                }
            }
            for owner in usage_of
        ]
        put = {
            "Put": {
                "TableName": self.table,
                "Item": {KEY: {"S": item_key}, **item, TTL_ATTRIBUTE: ttl},
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": KEY},
            }
        }
        try:
            with self._table():
                self.dynamodb.transact_write_items(TransactItems=[put, *updates])
        except self.dynamodb.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
                raise
            return False  # a duplicate: already in the totals
        return True

    def claim_reconciliation(self, device_arn: str, day: date, expires: datetime) -> bool:
        """True for exactly one caller per device and day: the one to reconcile with Braket."""
        return self._claim(f"reconciled#{device_arn}#{day.isoformat()}", expires) is not None

    def jobs_cost(self, day: date) -> Decimal:
        """Dollars of job instance time counted for ``day``."""
        return self.usage(_JOBS, day).cost_usd

    def usage(self, device_arn: str | None, day: date) -> DayTally:
        """The day's totals on ``device_arn``, or the account's for None (zero when nothing was counted)."""
        with self._table():
            key = {KEY: {"S": _usage_key(device_arn or ACCOUNT, day)}}
            item = self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
        return DayTally(
            task_count=int(item.get("task_count", {}).get("N", "0")),
            shots=int(item.get("shots", {}).get("N", "0")),
            cost_usd=Decimal(item.get("cost_usd", {}).get("N", "0")),
            unpriced_tasks=int(item.get("unpriced_tasks", {}).get("N", "0")),
        )

    def claim_notification(self, device_arn: str | None, day: date, expires: datetime) -> str | None:
        """Take the device's (None: the account's) breach marker for ``day``; a token if this caller won
        it, else None."""
        return self._claim(_breach_key(device_arn or ACCOUNT, day), expires)

    def _claim(self, key: str, expires: datetime) -> str | None:
        token = uuid.uuid4().hex
        try:
            with self._table():
                self.dynamodb.put_item(
                    TableName=self.table,
                    Item={
                        KEY: {"S": key},
                        "token": {"S": token},
                        "claimed_at": {"S": datetime.now(UTC).isoformat()},
                        TTL_ATTRIBUTE: {"N": str(int((expires + RETENTION).timestamp()))},
                    },
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": KEY},
                )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return None
        return token

    def release_notification(self, device_arn: str | None, day: date, token: str) -> None:
        """Give a claimed marker back (the post failed) so the next event of the day retries it."""
        with contextlib.suppress(self.dynamodb.exceptions.ConditionalCheckFailedException):
            # a failed condition means someone else holds the marker now; theirs stands
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={KEY: {"S": _breach_key(device_arn or ACCOUNT, day)}},
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )


    @contextlib.contextmanager
    def _table(self) -> Iterator[None]:
        """Turn "no such table" into ``LedgerMissing``: a setting to fix, not a fault to retry."""
        try:
            yield
        except self.dynamodb.exceptions.ResourceNotFoundException as error:
            raise LedgerMissing(self.table) from error


_JOBS = "jobs"  # the usage item holding the day's job instance dollars


def _usage_key(device_arn: str, day: date) -> str:
    return f"usage#{device_arn}#{day.isoformat()}"


def _breach_key(device_arn: str, day: date) -> str:
    return f"breach#{device_arn}#{day.isoformat()}"
