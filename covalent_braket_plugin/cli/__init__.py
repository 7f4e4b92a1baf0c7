"""``covalent-braket``: the command line of the plugin.

Each command group lives beside the code it drives and registers itself here through a
``register(subparsers)`` function, so this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

_GROUPS = (
    "covalent_braket_plugin.cli.local",
    "covalent_braket_plugin.cli.tasks",
    "covalent_braket_plugin.cli.guard",
    "covalent_braket_plugin.cli.doctor",
    "covalent_braket_plugin.cli.setup",
    "covalent_braket_plugin.cli.jobs",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="covalent-braket",
        description="Run Covalent electrons on Amazon Braket Hybrid Jobs, watch their cost, "
        "and try it all on a local Braket stack.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in _GROUPS:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; each command's handler returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
