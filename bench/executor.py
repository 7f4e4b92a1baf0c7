"""The executor's four promised figures, each beside its baseline and target, measured in one run.

    python bench/executor.py [--skip-build] [--overhead-electrons 8] [--long-electrons 5]
                             [--long-seconds 60 90] [--concurrent 100] [--build-electrons 10]
                             [--outage-jobs 4] [--outages 90 300] [--quick]
                             [--result-mib 200 1024] [--sections 1 2 3 4 5 6]

Everything runs against local Braket stacks (``LocalStack(port=0)``) as a user's client reaches
them, over HTTP. Electrons are run with ``BraketExecutor.run`` as Covalent's dispatcher calls it
(``electrons.py``). Each section is a module of this directory, whose docstring says what it
measures and against which baseline:

1. client overhead per electron, warm image (``client_overhead.py``);
2. image builds for the electrons of one environment, and the cold build
   (``builds_per_environment.py``, on a stack of its own with the docker runner);
3. from job completion to the result in hand, and status calls per job-minute
   (``completion_delay.py``);
4. ``--concurrent`` electrons at once on one event loop (``concurrency.py``);
5. an outage of the Braket API while jobs run (``outage.py``);
6. peak client memory for a result (``result_memory.py``).

Figures are printed as they come and again in a table at the end, MISSED beside any that misses
its target. The exit status is non-zero only when a section failed with an error.
"""

from __future__ import annotations

import argparse

from builds_per_environment import image_builds
from client_overhead import client_overhead
from completion_delay import completion_delay
from concurrency import concurrency
from electrons import DEFAULT_POLL, Bench, JobLedger
from harness import Row, print_table, section
from outage import outage
from result_memory import result_memory

from covalent_braket_plugin.local.stack import LocalStack


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--overhead-electrons", type=int, default=8, help="(1) electrons on each side")
    parser.add_argument("--overhead-poll", type=float, default=0.1, help="(1) both sides poll this often")
    parser.add_argument("--long-electrons", type=int, default=5, help="(3) sleeping electrons on each side")
    parser.add_argument("--long-seconds", type=float, nargs=2, default=(60.0, 90.0), metavar=("MIN", "MAX"))
    parser.add_argument("--poll-freq", type=float, default=DEFAULT_POLL, help="(3) poll_freq of both sides")
    parser.add_argument("--concurrent", type=int, default=100, help="(4) electrons at once")
    parser.add_argument("--build-electrons", type=int, default=10, help="(2) electrons of one environment")
    parser.add_argument("--skip-build", action="store_true", help="leave (2), minutes of docker build, out")
    parser.add_argument("--outage-jobs", type=int, default=4, help="(5) jobs running through each outage")
    parser.add_argument(
        "--outages",
        type=float,
        nargs="+",
        default=(90.0, 300.0),
        metavar="S",
        help="(5) seconds of each outage",
    )
    parser.add_argument("--quick", action="store_true", help="(5) outages of 20 s and 60 s instead")
    parser.add_argument(
        "--result-mib",
        type=int,
        nargs="+",
        default=(200, 1024),
        metavar="MIB",
        help="(6) sizes of the results",
    )
    parser.add_argument(
        "--sections",
        type=int,
        nargs="+",
        default=(1, 2, 3, 4, 5, 6),
        choices=range(1, 7),
        metavar="N",
        help="the sections to run (default: all)",
    )
    args = parser.parse_args()
    wanted = set(args.sections)
    outages = (20.0, 60.0) if args.quick else args.outages

    rows: list[Row] = []
    ok = True
    ledger = JobLedger()
    with LocalStack(port=0, runner="process") as stack:
        bench = Bench(stack, ledger, "amazon-braket-covalent-bench")
        print(f"local stack {stack.endpoint_url} (process runner)")
        if 1 in wanted:
            ok &= section(
                rows,
                "(1) client overhead",
                lambda: client_overhead(bench, args.overhead_electrons, args.overhead_poll),
            )
        if 3 in wanted:
            ok &= section(
                rows,
                "(3) completion to result",
                lambda: completion_delay(bench, args.long_electrons, *args.long_seconds, args.poll_freq),
            )
        if 4 in wanted:
            ok &= section(rows, "(4) concurrency", lambda: concurrency(bench, args.concurrent))
        for seconds in outages if 5 in wanted else ():
            ok &= section(
                rows, f"(5) {seconds:.0f} s outage", lambda s=seconds: outage(bench, args.outage_jobs, s)
            )
        for mib in args.result_mib if 6 in wanted else ():
            ok &= section(rows, f"(6) {mib} MiB result", lambda m=mib: result_memory(bench, m))
    if 2 in wanted and args.skip_build:
        rows.append(Row("image builds and cold build time", "skipped (--skip-build)", "", "", None))
    elif 2 in wanted:
        ok &= section(rows, "(2) image builds", lambda: image_builds(args.build_electrons, ledger))
    print_table(rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
