"""What the benchmarks share: a local stack for boto3, request counts, timing, and the table of
figures each printed beside its baseline and target.

A benchmark measures its figure and its baseline in the same run, on the same stack, so that the
machine's load and the stack's state weigh on both; ``section`` runs one part, keeping the others
going when it fails, and ``print_table`` sets every figure beside its baseline at the end.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from covalent_braket_plugin.local.stack import CONFLICTING_VARIABLES, LocalStack


def point_boto3_at(stack: LocalStack) -> None:
    """Point every boto3 client this process makes from now on at ``stack``, with its credentials.

    Variables that would make boto3 look elsewhere for credentials (a profile, a session token)
    are removed, so no benchmark reaches AWS by mistake.
    """
    os.environ.update(stack.environment())
    for name in CONFLICTING_VARIABLES:
        os.environ.pop(name, None)


class CallCounter:
    """Counts the HTTP requests botocore sends from the clients it is attached to, by operation.

    Counted at ``before-send``, so each attempt of botocore's retries counts; safe to share between
    the threads that use those clients.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send", self._count)
        return client

    def _count(self, event_name: str, **_: Any) -> None:
        with self._lock:  # before-send.<service>.<Operation>
            self.calls[event_name.rsplit(".", 1)[-1]] += 1

    def count(self, *operations: str) -> int:
        with self._lock:
            return sum(self.calls[operation] for operation in operations)

    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    """What ``function`` returned, and the seconds it took."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


@dataclass
class Row:
    """One figure of the final table."""

    figure: str
    measured: str
    baseline: str
    target: str
    met: bool | None  # None: the figure has no target
    took_s: float = 0.0

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "MISSED")


def section(rows: list[Row], label: str, measure: Callable[[], list[Row]]) -> bool:
    """Run one section; its rows carry the seconds it took. False (and an ERROR row) if it failed."""
    print(f"--- {label}", flush=True)
    start = time.perf_counter()
    try:
        measured = measure()
    except Exception as error:
        traceback.print_exc()
        rows.append(Row(label, f"ERROR: {type(error).__name__}: {error}"[:80], "", "", None))
        return False
    measured[0].took_s = time.perf_counter() - start
    rows.extend(measured)
    return True


def print_table(rows: list[Row]) -> None:
    headers = ("figure", "measured", "baseline", "target", "", "took")
    cells = [
        (r.figure, r.measured, r.baseline, r.target, r.verdict, f"{r.took_s:.0f} s" if r.took_s else "")
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [headers, *cells]) for i in range(len(headers))]
    print()
    for line in [headers, tuple("-" * w for w in widths), *cells]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
