"""DynamoDB tables: one string partition key, on-demand capacity, items expiring through TTL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from covalent_braket_plugin.provisioning.engine import Provisioner, ProvisioningError, unless_missing
from covalent_braket_plugin.provisioning.resources import ResourceResult


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    ttl_attribute: str
    tags: tuple[tuple[str, str], ...] = ()


def ensure_table(run: Provisioner, table: Table) -> tuple[str, ResourceResult]:
    """Create the table (and wait until it is ACTIVE) or bring its billing and TTL to ``table``.

    Returns its ARN and the result.

    Raises:
        ProvisioningError: a table of that name exists with another key.
    """
    dynamodb = run.client("dynamodb")
    key_schema = [{"AttributeName": table.key, "KeyType": "HASH"}]
    description = unless_missing(lambda: dynamodb.describe_table(TableName=table.name)["Table"])
    if description is None:
        arn = run.arn("dynamodb", f"table/{table.name}")
        if not run.dry_run:
            arn = dynamodb.create_table(
                TableName=table.name,
                AttributeDefinitions=[{"AttributeName": table.key, "AttributeType": "S"}],
                KeySchema=key_schema,
                BillingMode="PAY_PER_REQUEST",
                Tags=[{"Key": key, "Value": value} for key, value in table.tags],
            )["TableDescription"]["TableArn"]
            dynamodb.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 2})
            _enable_ttl(dynamodb, table)
        ttl = f"TTL on {table.ttl_attribute}"
        return arn, ResourceResult("dynamodb table", table.name, run.did("created"), ttl)
    if description["KeySchema"] != key_schema:
        raise ProvisioningError(
            "dynamodb table", f"table {table.name} exists with another key schema",
            "remove it or pick another --name",
        )
    changes = []
    if description.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST":
        changes.append("on-demand billing")
        if not run.dry_run:
            dynamodb.update_table(TableName=table.name, BillingMode="PAY_PER_REQUEST")
    ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
    ttl_on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    if not ttl_on or ttl.get("AttributeName") != table.ttl_attribute:
        changes.append(f"TTL on {table.ttl_attribute}")
        if not run.dry_run:
            _enable_ttl(dynamodb, table)
    action = run.did("updated" if changes else "unchanged")
    return description["TableArn"], ResourceResult("dynamodb table", table.name, action, ", ".join(changes))


def _enable_ttl(dynamodb: Any, table: Table) -> None:
    dynamodb.update_time_to_live(
        TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute}
    )


def describe_table(run: Provisioner, name: str) -> ResourceResult:
    description = unless_missing(lambda: run.client("dynamodb").describe_table(TableName=name)["Table"])
    if description is None:
        return ResourceResult("dynamodb table", name, "missing")
    return ResourceResult("dynamodb table", name, "present", description.get("TableStatus", ""))


def remove_table(run: Provisioner, name: str) -> ResourceResult:
    dynamodb = run.client("dynamodb")
    if run.dry_run:
        found = unless_missing(lambda: dynamodb.describe_table(TableName=name)) is not None
    else:
        found = unless_missing(lambda: dynamodb.delete_table(TableName=name)) is not None
    return ResourceResult("dynamodb table", name, run.did("deleted") if found else "missing")
