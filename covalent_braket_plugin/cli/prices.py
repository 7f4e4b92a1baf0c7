"""``covalent-braket prices``: the price table the cost tools and the guard count with.

Every estimate the plugin makes rests on this table, so it can be read as the code reads it (packaged
entries with any override merged in), with each figure's source, the day it was read and whether the
source confirmed it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from decimal import Decimal

from covalent_braket_plugin.billing.prices import PRICES_ENV, PriceTable
from covalent_braket_plugin.cli.common import UsageError, add_json_flag, guarded, print_json


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``prices`` command to the ``covalent-braket`` parser."""
    prices = subparsers.add_parser(
        "prices", help="the device and job instance prices used for cost estimates, with their sources"
    )
    prices.add_argument(
        "--prices", help=f"JSON file of prices that override the packaged ones (default: ${PRICES_ENV})"
    )
    add_json_flag(prices, "tables")
    prices.set_defaults(handler=run_prices)


def run_prices(args: argparse.Namespace) -> int:
    def work() -> int:
        try:
            table = PriceTable.load(args.prices)
        except (OSError, ValueError) as error:
            raise UsageError(f"--prices: {error}") from None
        if args.json:
            print_json(to_json(table))
        else:
            print(to_text(table))
        return 0

    return guarded("covalent-braket prices", work)


def to_json(table: PriceTable) -> dict[str, object]:
    return {
        "currency": table.currency,
        "devices": [price.to_json() for price in sorted(table, key=lambda p: p.device_arn)],
        "instances": [table.instances[name].to_json() for name in sorted(table.instances)],
    }


def to_text(table: PriceTable) -> str:
    devices = [
        (
            price.name,
            price.status,
            _money(price.per_task) if price.is_priced else "unpriced",
            _money(price.per_shot),
            _money(price.per_minute),
            f"{price.minimum_seconds} s" if price.is_simulator else "",
            "yes" if price.provenance.confirmed else "no",
            price.provenance.read,
            price.device_arn,
        )
        for price in sorted(table, key=lambda p: (p.retired, p.name))
    ]
    instances = [
        (
            item.instance_type,
            _money(item.per_hour) if item.per_hour is not None else "unpriced",
            item.region,
            "yes" if item.provenance.confirmed else "no",
            item.provenance.read,
        )
        for item in (table.instances[name] for name in sorted(table.instances))
    ]
    unconfirmed = [
        f"  {price.name}: {price.provenance.note} ({price.source})"
        for price in sorted(table, key=lambda p: p.name)
        if not price.provenance.confirmed
    ]
    lines = [
        f"Devices ({table.currency}; unpriced = no figure, never free)",
        *_render(("DEVICE", "STATUS", "PER TASK", "PER SHOT", "PER MINUTE", "MINIMUM", "CONFIRMED", "READ",
                  "ARN"), devices),
        "",
        f"Hybrid job instances ({table.currency} per hour and instance)",
        *_render(("INSTANCE", "PER HOUR", "REGION", "CONFIRMED", "READ"), instances),
    ]
    if unconfirmed:
        lines += ["", "Not confirmed at the source:", *unconfirmed]
    return "\n".join(lines)


def _money(amount: Decimal | None) -> str:
    return "" if amount is None else str(amount)


def _render(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return [" ".join(header), "(none)"]
    widths = [max(len(line[i]) for line in (header, *rows)) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in (header, *rows)]
