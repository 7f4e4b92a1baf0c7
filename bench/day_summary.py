"""The day summary: API calls and time to count one device's day of ``--tasks`` stored QPU tasks.

Stores ``--tasks`` QPU tasks (held QUEUED, some cancelled) on three devices, then counts one
device's day two ways: ``AmazonBraketlib.summary`` (server-side filters, 100 per page: the target is
ceil(matching / 100) calls) and, as the baseline in the same run, the earlier monitoring tool's
method (pages of 10 filtered by device only, date and status checked on the client, one pass per
status); both must count the same tasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import boto3
from harness import CallCounter, timed
from held_tasks import FORTE, create_tasks

from covalent_braket_plugin.quantum_tasks import iter_tasks
from covalent_braket_plugin.tasks import AmazonBraketlib
from covalent_braket_plugin.tasks.braketlib import LEGACY_STATUS_TYPES

GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
CEPHEUS = "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q"


def earlier_method(braket: Any, device_arn: str, day: date, statuses: Iterable[str]) -> dict[str, int]:
    """The earlier tool's way to count a device's day: per status, page through every task of the
    device ten at a time and keep those of the day and status (its undocumented newest-first early
    stop cannot fire here: every stored task is from today)."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = 0
        kwargs: dict[str, Any] = {
            "filters": [{"name": "deviceArn", "operator": "EQUAL", "values": [device_arn]}],
            "maxResults": 10,
        }
        while True:
            page = braket.search_quantum_tasks(**kwargs)
            for task in page["quantumTasks"]:
                if task["status"] == status and task["createdAt"].date() == day:
                    counts[status] += 1
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return counts


def bench_summary(session: boto3.Session, total: int) -> None:
    braket = session.client("braket")
    split = {FORTE: total // 2, GARNET: total * 3 // 10}
    split[CEPHEUS] = total - sum(split.values())
    print(f"storing {total} tasks: " + ", ".join(f"{d.rsplit('/', 1)[1]} {n}" for d, n in split.items()))
    (arns, seconds) = timed(lambda: {device: create_tasks(braket, device, n) for device, n in split.items()})
    print(f"  created in {seconds:.1f} s")
    lib = AmazonBraketlib(boto_session=session)
    cancelled = lib.cancel(arns[FORTE][: len(arns[FORTE]) // 5])
    print(f"  cancelled {len(cancelled.cancelled)} of the {FORTE.rsplit('/', 1)[1]} tasks")
    day = datetime.now(UTC).date()
    if {t["createdAt"].date() for t in iter_tasks(braket, device_arn=CEPHEUS)} != {day}:
        print("  note: the tasks straddle midnight UTC; rerun for clean figures")

    counter = CallCounter()
    for region in (lib.region, "eu-north-1", "us-west-1"):
        counter.attach(lib.client(region))
    print(f"\nday summary vs the earlier tool's method ({day}, UTC)")
    print(f"  {'query':<58} {'matching':>8} {'calls':>6} {'target':>6} {'seconds':>8}")

    def report(label: str, matching: int, calls: int, seconds: float, target: int | None) -> None:
        shown = "-" if target is None else str(target)
        print(f"  {label:<58} {matching:>8} {calls:>6} {shown:>6} {seconds:>8.2f}")

    summaries = {}
    for label, device, statuses in [
        ("summary: every task of the day", None, None),
        ("summary: Forte-1, every status", FORTE, None),
        ("summary: Forte-1, QUEUED COMPLETED CANCELLED RUNNING", FORTE, LEGACY_STATUS_TYPES),
    ]:
        counter.reset()
        summary, seconds = timed(lambda d=device, s=statuses: lib.summary(day, device=d, statuses=s))
        report(label, summary.tasks, counter.total(), seconds, math.ceil(summary.tasks / 100) or 1)
        summaries[label] = summary

    counter.reset()
    old_counts, seconds = timed(lambda: earlier_method(lib.client(), FORTE, day, LEGACY_STATUS_TYPES))
    label = "earlier method: Forte-1, same four statuses"
    report(label, sum(old_counts.values()), counter.total(), seconds, None)
    new_counts = dict.fromkeys(LEGACY_STATUS_TYPES, 0)
    for row in summaries["summary: Forte-1, QUEUED COMPLETED CANCELLED RUNNING"].rows:
        new_counts[row.status] = row.tasks
    print(f"  both count the same tasks: {old_counts == new_counts} {old_counts}")
