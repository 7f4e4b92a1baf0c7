"""``AmazonBraketlib``: count, price and cancel a day's quantum tasks from a notebook or a script.

It keeps the notebook API of the earlier Amazon Braket monitoring tool (``get_info`` and
``delete_quantumTask``) on top of the monitor's building blocks, which read each matching task once
with server-side filters instead of paging ten tasks at a time and filtering on the client.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import boto3

from covalent_braket_plugin.aws import AwsSession, region_of_arn
from covalent_braket_plugin.billing.day_totals import DaySummary, summarize
from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.quantum_tasks import (
    CANCELLABLE_STATUSES,
    CancelReport,
    cancel_tasks,
    day_bounds,
    iter_tasks,
)

DEFAULT_REGION = "us-east-1"

# The statuses ``get_info``'s ``index_of_status_type`` counts from, in the earlier tool's order.
LEGACY_STATUS_TYPES = ("QUEUED", "COMPLETED", "CANCELLED", "RUNNING")


def _as_date(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


class AmazonBraketlib:
    """Quantum tasks of one account: per-day summaries with estimated cost, and cancelling.

    Give a ``region``, a ``profile``, or a ready ``boto_session``; endpoints follow the standard
    boto3 configuration (``AWS_ENDPOINT_URL`` ...), so the same code reads AWS or the local stack.
    A QPU lives in one region: calls about a QPU go to the region its ARN names.
    """

    def __init__(
        self,
        region: str | None = None,
        *,
        profile: str | None = None,
        boto_session: boto3.Session | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        if boto_session is not None and profile is not None:
            raise ValueError("give either profile or boto_session, not both")
        self.aws = AwsSession(boto_session, profile=profile, region=region)
        self.session = self.aws.boto_session
        self.region = region or self.aws.region or DEFAULT_REGION
        self.prices = prices if prices is not None else PriceTable.load()

    @property
    def braket(self) -> Any:
        """The Braket client of this library's own region."""
        return self.client(self.region)

    def client(self, region: str | None = None) -> Any:
        """The Braket client of ``region`` (default: this library's), made once."""
        return self.aws.client("braket", region or self.region)

    def _client_for(self, device_arn: str | None) -> Any:
        return self.client(region_of_arn(device_arn) if device_arn else None)

    def device_arn(self, device: str) -> str:
        """A device ARN from an ARN or a short name such as ``Forte-1`` or ``sv1``."""
        return self.prices.resolve(device)

    def tasks(
        self,
        day: date | str,
        tz: str = "UTC",
        device: str | None = None,
        statuses: Iterable[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Summaries of the tasks created on ``day`` in ``tz``, filtered by the service."""
        device_arn = self.device_arn(device) if device else None
        yield from iter_tasks(
            self._client_for(device_arn),
            device_arn=device_arn,
            statuses=statuses,
            created_between=day_bounds(_as_date(day), tz),
        )

    def summary(
        self,
        day: date | str,
        tz: str = "UTC",
        device: str | None = None,
        statuses: Iterable[str] | None = None,
    ) -> DaySummary:
        """Tasks, shots and estimated cost per device and status for one calendar day.

        Without ``device`` it covers the tasks of this library's region.
        """
        return summarize(self.tasks(day, tz, device, statuses), self.prices, _as_date(day), tz)

    def cancel(self, arns: Iterable[str], *, dry_run: bool = False) -> CancelReport:
        """Cancel the given tasks (each through the region its ARN names) and report each outcome."""
        merged = CancelReport(requested=tuple(dict.fromkeys(arns)), dry_run=dry_run)
        by_region: dict[str | None, list[str]] = {}
        for arn in merged.requested:
            by_region.setdefault(region_of_arn(arn), []).append(arn)
        for region, group in by_region.items():
            merged.add(cancel_tasks(self.client(region), group, dry_run=dry_run))
        return merged

    def cancel_queued(
        self, device: str, day: date | str, tz: str = "UTC", dry_run: bool = False
    ) -> CancelReport:
        """Cancel the CREATED and QUEUED tasks of ``device`` created on ``day``."""
        arns = [task["quantumTaskArn"] for task in self.tasks(day, tz, device, CANCELLABLE_STATUSES)]
        return self.cancel(arns, dry_run=dry_run)

    # The earlier monitoring tool's notebook API.

    def get_info(
        self,
        year: int,
        month: int,
        day: int,
        device_type: str,
        device_provider: str,
        device_name: str,
        index_of_status_type: int,
    ) -> dict[str, Any]:
        """Tasks of one device, one UTC day and one status, in the earlier tool's JSON shape.

        ``device_type`` is ``qpu`` or ``quantum-simulator``; ``index_of_status_type`` counts in
        ``LEGACY_STATUS_TYPES`` (0 QUEUED, 1 COMPLETED, 2 CANCELLED, 3 RUNNING). ``id`` and ``count``
        group task ARNs and shots per result bucket and per ``bucket/first-folder``.
        """
        status = LEGACY_STATUS_TYPES[index_of_status_type]
        device_path = f"{device_type}/{device_provider}/{device_name}"
        known = self.prices.price(device_path)
        if known is not None:
            device_arn = known.device_arn
        elif device_type == "qpu":
            device_arn = f"arn:aws:braket:{self.region}::device/{device_path}"
        else:
            device_arn = f"arn:aws:braket:::device/{device_path}"
        ids: dict[str, list[str]] = {}
        counts: dict[str, int] = {}
        total = 0
        for task in self.tasks(date(year, month, day), "UTC", device_arn, [status]):
            bucket = task["outputS3Bucket"]
            folder = f"{bucket}/{task['outputS3Directory'].split('/')[0]}"
            for key in (bucket, folder):
                ids.setdefault(key, []).append(task["quantumTaskArn"])
                counts[key] = counts.get(key, 0) + int(task["shots"])
            total += int(task["shots"])
        return {
            "id": ids,
            "count": counts,
            "total_shots": total,
            "hardware": device_provider,
            "qpu": f"device/{device_path}",
            "status": status,
            "date": f"{year}-{month}-{day}",
        }

    def delete_quantumTask(self, quantumTaskArn_name: str) -> CancelReport:
        """Cancel one task: the earlier tool's name for ``cancel``."""
        return self.cancel([quantumTaskArn_name])

