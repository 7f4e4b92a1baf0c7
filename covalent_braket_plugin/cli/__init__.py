"""``covalent-braket``: the command line of the plugin.

Each command group is a module of this package named as the command, with a
``register(subparsers)`` function; this module only assembles them, in the order ``--help`` lists.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from covalent_braket_plugin.cli import (
    cost,
    doctor,
    guard,
    iam_policy,
    images,
    jobs,
    local,
    prices,
    setup,
    tasks,
)

_GROUPS = (local, tasks, guard, doctor, setup, iam_policy, jobs, images, prices, cost)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="covalent-braket",
        description="Run Covalent electrons on Amazon Braket Hybrid Jobs, watch their cost, "
        "and try it all on a local Braket stack.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; each command's handler returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)
