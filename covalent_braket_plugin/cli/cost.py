"""``covalent-braket cost``: what a workflow cost, electron by electron, or Braket's costs day by day.

``cost DISPATCH_ID`` finds the dispatch's jobs and their quantum tasks in AWS alone, so it works for
a workflow dispatched from any machine; ``cost --since 7d`` shows every day since then per device
and job instance type. The account is found as the executor finds it (covalent.conf's
``[executors.braket]``, with ``--region`` and ``--profile`` first); prices come from the price table
(``covalent-braket prices``) with the override file of ``--prices`` or ``$COVALENT_BRAKET_PRICES``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable
from covalent_braket_plugin.cli.common import (
    UsageError,
    add_executor_account_flags,
    add_json_flag,
    argument_type,
    executor_session,
    guarded,
    parse_since,
    print_json,
)
from covalent_braket_plugin.inventory import cost_reports


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``cost`` command to the ``covalent-braket`` parser."""
    cost = subparsers.add_parser(
        "cost",
        help="what a dispatch's electrons cost (jobs and their quantum tasks), or each day since a time",
    )
    cost.add_argument("dispatch_id", nargs="?", metavar="DISPATCH_ID", help="the Covalent dispatch")
    cost.add_argument(
        "--since",
        type=argument_type(lambda value: parse_since(value, datetime.now(UTC))),
        help="instead of a dispatch: every day since then, per device and job instance type "
        "(a duration back from now such as 7d, or a date such as 2026-11-01)",
    )
    cost.add_argument(
        "--prices", help=f"JSON file of prices that override the packaged ones (default: ${PRICES_ENV})"
    )
    add_executor_account_flags(cost)
    add_json_flag(cost)
    cost.set_defaults(handler=run_cost)


def run_cost(args: argparse.Namespace) -> int:
    def work() -> int:
        if (args.dispatch_id is None) == (args.since is None):
            raise UsageError("give a DISPATCH_ID or --since (such as --since 7d), one of the two")
        try:
            prices = PriceTable.load(args.prices)
        except (OSError, ValueError) as error:
            raise UsageError(f"--prices: {error}") from None
        _, aws = executor_session(args)
        braket = aws.client("braket")
        report: cost_reports.DispatchCost | cost_reports.DailyCost
        if args.dispatch_id is not None:
            report = cost_reports.dispatch_cost(braket, args.dispatch_id, prices)
        else:
            report = cost_reports.daily_cost(braket, args.since, prices)
        if args.json:
            print_json(report.to_json())
        else:
            print(report.to_table())
        return 0

    return guarded("covalent-braket cost", work)
