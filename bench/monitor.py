"""Benchmark: API calls and time of the day summary, the cost guard and a workflow's cost report,
on the local Braket stack.

Run: ``python bench/monitor.py [--tasks 10000] [--guard-events 1000] [--electrons 100]
[--tasks-per-electron 100] [--sections summary guard cost] [--quick]``

Each section is a module of this directory, whose docstring says what it measures and against
which baseline in the same run:

1. ``summary`` (``day_summary.py``): one device's day of ``--tasks`` stored QPU tasks counted by
   ``AmazonBraketlib.summary``, beside the earlier monitoring tool's method.
2. ``guard`` (``cost_guard.py``): a burst of ``--guard-events`` CREATED events through the cost
   guard's handler, with and without its DynamoDB ledger table.
3. ``cost`` (``dispatch_cost.py``, on a stack of its own): the report of ``covalent-braket cost
   DISPATCH_ID`` for ``--electrons`` jobs of ``--tasks-per-electron`` QPU tasks each, beside
   reading every record.

API calls are counted with a botocore ``before-send`` hook on the clients used, so retries count too.
Figures are printed, never asserted: speed depends on the machine (its CPUs and load average are
printed with them) and on the local stack, whose searches scan every stored record.
"""

from __future__ import annotations

import argparse
import os

from cost_guard import bench_guard
from day_summary import bench_summary
from dispatch_cost import bench_cost
from held_tasks import prepare_stack

from covalent_braket_plugin.local.stack import LocalStack

SECTIONS = ("summary", "guard", "cost")
QUICK = {"tasks": 1_000, "guard_events": 100, "electrons": 10, "tasks_per_electron": 100}
FULL = {"tasks": 10_000, "guard_events": 1_000, "electrons": 100, "tasks_per_electron": 100}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, help=f"tasks stored for the summary (default {FULL['tasks']})")
    parser.add_argument(
        "--guard-events", type=int, help=f"events in the guard burst (default {FULL['guard_events']})"
    )
    parser.add_argument(
        "--electrons", type=int, help=f"jobs of one dispatch (default {FULL['electrons']})"
    )
    parser.add_argument(
        "--tasks-per-electron",
        type=int,
        help=f"quantum tasks each of those jobs queues (default {FULL['tasks_per_electron']})",
    )
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to run")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small scale for a quick check, a minute or two: "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
        + " (flags given win)",
    )
    args = parser.parse_args()
    for name, full in FULL.items():
        if getattr(args, name) is None:
            setattr(args, name, QUICK[name] if args.quick else full)
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    print(f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    if {"summary", "guard"} & set(args.sections):
        with LocalStack(port=0, runner="process") as stack:
            session = prepare_stack(stack)
            if "summary" in args.sections:
                bench_summary(session, args.tasks)
            if "guard" in args.sections:
                bench_guard(session, args.guard_events)
    if "cost" in args.sections:
        with LocalStack(port=0, runner="process") as stack:  # its own, so its searches scan its records only
            bench_cost(stack, prepare_stack(stack), args.electrons, args.tasks_per_electron)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
