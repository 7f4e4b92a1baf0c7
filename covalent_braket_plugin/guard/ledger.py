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
  invocation posts to Slack for a device's breach of the day.

Per event this is one transaction and one consistent read, whatever the day's volume.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

# Items outlive their day by this long, so a late duplicate still finds its task item.
RETENTION = timedelta(days=35)
KEY = "pk"
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class Usage:
    """Committed work on one device in one day."""

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
    ) -> tuple[bool, Usage]:
        """Count a task unless it was counted before; return (newly counted, the day's usage)."""
        ttl = {"N": str(int((expires + RETENTION).timestamp()))}
        usage_key = _usage_key(device_arn, day)
        values = {
            ":one": {"N": "1"},
            ":shots": {"N": str(shots)},
            ":cost": {"N": str(cost or Decimal(0))},
            ":unpriced": {"N": "1" if cost is None else "0"},
            ":ttl": ttl,
        }
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                KEY: {"S": f"task#{task_arn}"},
                                "device_arn": {"S": device_arn},
                                "day": {"S": day.isoformat()},
                                "shots": {"N": str(shots)},
                                TTL_ATTRIBUTE: ttl,
                            },
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": KEY},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {KEY: {"S": usage_key}},
                            "UpdateExpression": "ADD task_count :one, shots :shots, cost_usd :cost, "
                            "unpriced_tasks :unpriced SET #ttl = :ttl",
                            "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
                            "ExpressionAttributeValues": values,
                        }
                    },
                ]
            )
            counted = True
        except self.dynamodb.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
                raise
            counted = False  # a duplicate: this task is already in the totals
        return counted, self.usage(device_arn, day)

    def usage(self, device_arn: str, day: date) -> Usage:
        """The day's totals on ``device_arn`` (zero when nothing was counted)."""
        item = self.dynamodb.get_item(
            TableName=self.table, Key={KEY: {"S": _usage_key(device_arn, day)}}, ConsistentRead=True
        ).get("Item", {})
        return Usage(
            task_count=int(item.get("task_count", {}).get("N", "0")),
            shots=int(item.get("shots", {}).get("N", "0")),
            cost_usd=Decimal(item.get("cost_usd", {}).get("N", "0")),
            unpriced_tasks=int(item.get("unpriced_tasks", {}).get("N", "0")),
        )

    def claim_notification(self, device_arn: str, day: date, expires: datetime) -> str | None:
        """Take the device's breach marker for ``day``; a token if this caller won it, else None."""
        token = uuid.uuid4().hex
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    KEY: {"S": _breach_key(device_arn, day)},
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

    def release_notification(self, device_arn: str, day: date, token: str) -> None:
        """Give a claimed marker back (the post failed) so the next event of the day retries it."""
        with contextlib.suppress(self.dynamodb.exceptions.ConditionalCheckFailedException):
            # a failed condition means someone else holds the marker now; theirs stands
            self.dynamodb.delete_item(
                TableName=self.table,
                Key={KEY: {"S": _breach_key(device_arn, day)}},
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )


def _usage_key(device_arn: str, day: date) -> str:
    return f"usage#{device_arn}#{day.isoformat()}"


def _breach_key(device_arn: str, day: date) -> str:
    return f"breach#{device_arn}#{day.isoformat()}"
