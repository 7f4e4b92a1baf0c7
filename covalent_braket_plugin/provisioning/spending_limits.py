"""Braket spending limits: one per QPU, marked by a tag as made by a given owner.

A QPU lives in one region, so each call goes to the region its device ARN names. A limit someone
else made (without the owner's tag) is never changed or deleted.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from covalent_braket_plugin.aws import region_of_arn
from covalent_braket_plugin.provisioning.engine import Provisioner
from covalent_braket_plugin.provisioning.resources import ResourceResult


def _braket(run: Provisioner, arn: str) -> Any:
    return run.client("braket", region_of_arn(arn))


def spending_limits(run: Provisioner, device_arn: str) -> list[dict[str, Any]]:
    """Every spending limit of the device, all pages."""
    braket = _braket(run, device_arn)
    limits, token = [], None
    while True:
        page = braket.search_spending_limits(
            filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [device_arn]}],
            **({"nextToken": token} if token else {}),
        )
        limits += page["spendingLimits"]
        token = page.get("nextToken")
        if not token:
            return limits


def _owned(limits: list[dict[str, Any]], tag: str, owner: str) -> list[dict[str, Any]]:
    return [limit for limit in limits if (limit.get("tags") or {}).get(tag) == owner]


def owned_spending_limits(run: Provisioner, devices: list[str], tag: str, owner: str) -> list[dict[str, Any]]:
    """The limits of ``devices`` tagged ``tag=owner``."""
    return [limit for device in devices for limit in _owned(spending_limits(run, device), tag, owner)]


def ensure_spending_limit(
    run: Provisioner, device: str, amount: Decimal, tag: str, owner: str
) -> ResourceResult:
    """A limit of ``amount`` dollars on ``device`` tagged ``tag=owner``, unless the device has another's."""
    braket, shown = _braket(run, device), f"{amount:.2f}"
    existing = spending_limits(run, device)
    mine = _owned(existing, tag, owner)
    if mine:
        if Decimal(mine[0]["spendingLimit"]) == Decimal(shown):
            return ResourceResult("spending limit", device, "unchanged", f"${shown}")
        if not run.dry_run:
            braket.update_spending_limit(
                spendingLimitArn=mine[0]["spendingLimitArn"], spendingLimit=shown,
                clientToken=str(uuid.uuid4()),
            )
        return ResourceResult("spending limit", device, run.did("updated"), f"${shown}")
    if existing:
        return ResourceResult(
            "spending limit", device, "skipped",
            f"the device has a limit this guard did not make: {existing[0]['spendingLimitArn']}",
        )
    if not run.dry_run:
        braket.create_spending_limit(
            deviceArn=device, spendingLimit=shown, clientToken=str(uuid.uuid4()), tags={tag: owner}
        )
    return ResourceResult("spending limit", device, run.did("created"), f"${shown}")


def describe_spending_limit(limit: dict[str, Any]) -> ResourceResult:
    return ResourceResult(
        "spending limit", limit["deviceArn"], "present",
        f"limit ${limit['spendingLimit']}, spent ${limit['totalSpend']}, queued ${limit['queuedSpend']}",
    )


def remove_spending_limit(run: Provisioner, limit: dict[str, Any]) -> ResourceResult:
    if not run.dry_run:
        arn = limit["spendingLimitArn"]
        _braket(run, arn).delete_spending_limit(spendingLimitArn=arn)
    return ResourceResult("spending limit", limit["deviceArn"], run.did("deleted"))
