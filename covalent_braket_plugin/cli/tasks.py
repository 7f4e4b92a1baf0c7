"""``covalent-braket tasks``: a day's quantum tasks and their cost, and cancelling queued ones."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from zoneinfo import ZoneInfo

from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.cli.common import (
    add_account_flags,
    add_json_flag,
    argument_type,
    aws_session,
    guarded,
    print_json,
)
from covalent_braket_plugin.quantum_tasks import TASK_STATUSES, CancelReport
from covalent_braket_plugin.tasks.braketlib import AmazonBraketlib


def _zone_name(value: str) -> str:
    """``value`` when it names a time zone; ZoneInfo raises (ZoneInfoNotFoundError, ValueError) if not."""
    ZoneInfo(value)
    return value


_time_zone = argument_type(_zone_name, "unknown time zone {value!r}")
_day = argument_type(date.fromisoformat, "{value!r} is not a date like 2026-11-21")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``tasks`` command group to the ``covalent-braket`` parser."""
    tasks = subparsers.add_parser("tasks", help="count, price and cancel quantum tasks")
    commands = tasks.add_subparsers(dest="tasks_command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--date", type=_day, help="calendar day YYYY-MM-DD (default: today in --tz)")
    common.add_argument("--tz", type=_time_zone, default="UTC", help="time zone of the day (default: UTC)")
    add_account_flags(common)
    common.add_argument("--prices", help="JSON file of prices that override the packaged ones")
    add_json_flag(common)

    summary = commands.add_parser(
        "summary", parents=[common], help="tasks, shots and estimated cost per device and status"
    )
    summary.add_argument("--device", help="device ARN or short name (Forte-1, sv1, ...)")
    summary.add_argument(
        "--status", nargs="+", choices=TASK_STATUSES, metavar="STATUS",
        help=f"only these statuses ({', '.join(TASK_STATUSES)})",
    )
    summary.set_defaults(handler=run_summary)

    cancel = commands.add_parser(
        "cancel", parents=[common], help="cancel the CREATED and QUEUED tasks of a device and day"
    )
    cancel.add_argument("--device", required=True, help="device ARN or short name (Forte-1, sv1, ...)")
    cancel.add_argument("--dry-run", action="store_true", help="list the tasks without cancelling them")
    cancel.set_defaults(handler=run_cancel)


def _library(args: argparse.Namespace) -> AmazonBraketlib:
    session = aws_session(args.profile, args.region).boto_session
    return AmazonBraketlib(region=args.region, boto_session=session, prices=PriceTable.load(args.prices))


def _chosen_day(args: argparse.Namespace) -> date:
    return args.date or datetime.now(ZoneInfo(args.tz)).date()


def run_summary(args: argparse.Namespace) -> int:
    def work() -> int:
        summary = _library(args).summary(_chosen_day(args), args.tz, args.device, args.status)
        print(summary.dumps() if args.json else summary.to_table())
        return 0

    return guarded("covalent-braket tasks", work)


def run_cancel(args: argparse.Namespace) -> int:
    def work() -> int:
        report = _library(args).cancel_queued(args.device, _chosen_day(args), args.tz, dry_run=args.dry_run)
        if args.json:
            print_json(report.to_json())
        else:
            print(_describe(report))
        return 0 if report.ok else 1

    return guarded("covalent-braket tasks", work)


def _describe(report: CancelReport) -> str:
    if report.dry_run:
        lines = [f"would cancel {len(report.requested)} task(s) (dry run, nothing sent)"]
        lines += [f"  {arn}" for arn in report.requested]
        return "\n".join(lines)
    lines = [
        f"cancelled {len(report.cancelled)}, already finished {len(report.already_finished)}, "
        f"failed {len(report.failed)} of {len(report.requested)} task(s)"
    ]
    lines += [f"  {status:<10} {arn}" for arn, status in report.cancelled.items()]
    lines += [f"  {'FINISHED':<10} {arn}" for arn in report.already_finished]
    lines += [f"  {'FAILED':<10} {arn}: {reason}" for arn, reason in report.failed.items()]
    return "\n".join(lines)

