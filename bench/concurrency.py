"""(4) **``--concurrent`` electrons at once** on one event loop: wall time, and whether the executor
blocks the loop.

The loop runs in asyncio's debug mode, whose slow-callback accounting (``loop.slow_callback_duration``,
1 ms here) reports every callback that held the loop longer: the **longest callback** is the figure
(target < 20 ms). Beside it, a ticker coroutine that sleeps 10 ms records how late it wakes, and a
ticker in a separate idle process records the same over the same time: the machine's own lateness,
which no executor change can remove (target: the loop's ticker within 20 ms of it). The baseline is
one electron alone, measured the same way.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from electrons import DEFAULT_INITIAL_POLL, DEFAULT_POLL, Bench, add_one
from harness import Row

TICK_S = 0.01
SLOW_CALLBACK_S = 0.001
"""Callbacks longer than this are reported by asyncio's debug mode: the figure is the longest."""


@dataclass(frozen=True)
class Stall:
    """How much the event loop was held while some work ran, and what the machine did meanwhile.

    ``longest_callback_s`` is the longest single callback asyncio's debug mode saw (``where`` names
    it): time the executor itself held the loop. ``worst_s`` is a ticker coroutine's worst lateness,
    ``busy_s`` the CPU time the loop's thread used during that worst tick (near zero: the loop was
    waiting for the CPU or the GIL, not working). ``machine_s`` is the worst lateness of a ticker in
    a separate idle process over the same time, which shares no GIL with the client.
    """

    wall_s: float
    longest_callback_s: float
    where: str
    worst_s: float
    busy_s: float
    machine_s: float


class SlowCallbacks(logging.Handler):
    """Keeps the longest of the callbacks asyncio's debug mode reports as slow."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.longest, self.where = 0.0, ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Executing %s took %.3f seconds" and record.args:
            handle, took = record.args  # type: ignore[misc]
            if took > self.longest:
                self.longest, self.where = took, str(handle)[:120]


def process_ticker(ready: Any, stop: Any, worst: Any) -> None:
    """Ticker of a separate process: ``worst`` receives its greatest lateness, in seconds."""
    ready.set()
    late = 0.0
    while not stop.is_set():
        before = time.perf_counter()
        time.sleep(TICK_S)
        late = max(late, time.perf_counter() - before - TICK_S)
    worst.value = late


async def with_ticker(work: Callable[[], Awaitable[Any]]) -> Stall:
    """Run ``work()`` in debug mode while a ticker coroutine, and a ticker process beside it, record
    how late they wake; asyncio's slow-callback reports give the longest callback.

    ``work`` is called once both tickers run, so that everything it does is measured.
    """
    context = multiprocessing.get_context("spawn")
    ready, stop, machine = context.Event(), context.Event(), context.Value("d", 0.0)
    control = context.Process(target=process_ticker, args=(ready, stop, machine), daemon=True)
    control.start()
    await asyncio.to_thread(ready.wait)
    worst, busy = 0.0, 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst, busy
        while running:
            before, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(TICK_S)
            late = time.perf_counter() - before - TICK_S
            if late > worst:
                worst, busy = late, time.thread_time() - cpu

    loop = asyncio.get_running_loop()
    slow = SlowCallbacks()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(slow)
    propagate, asyncio_log.propagate = asyncio_log.propagate, False
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_S
    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    try:
        await work()
        wall = time.perf_counter() - start
    finally:
        running = False
        await tick
        loop.set_debug(False)
        asyncio_log.removeHandler(slow)
        asyncio_log.propagate = propagate
        stop.set()
        await asyncio.to_thread(control.join)
    return Stall(wall, slow.longest, slow.where, worst, busy, machine.value)


def concurrency(bench: Bench, electrons: int) -> list[Row]:
    executor = bench.executor(DEFAULT_INITIAL_POLL, DEFAULT_POLL)

    async def many(count: int) -> Stall:
        return await with_ticker(
            lambda: asyncio.gather(*(bench.run(executor, add_one, [1], 2) for _ in range(count)))
        )

    single = asyncio.run(many(1))
    burst = asyncio.run(many(electrons))

    def described(stall: Stall) -> str:
        return (
            f"longest callback {stall.longest_callback_s * 1000:.1f} ms ({stall.where}); ticker "
            f"{stall.worst_s * 1000:.0f} ms late (loop thread busy {stall.busy_s * 1000:.0f} ms of it), "
            f"a separate idle process {stall.machine_s * 1000:.0f} ms"
        )

    print(f"(4) 1 electron {single.wall_s:.1f} s: {described(single)}")
    print(f"(4) {electrons} at once {burst.wall_s:.1f} s: {described(burst)}")
    beyond = burst.worst_s - burst.machine_s
    return [
        Row(
            f"{electrons} concurrent electrons: wall time (default polling, debug mode)",
            f"{burst.wall_s:.1f} s",
            f"1 electron alone: {single.wall_s:.1f} s",
            "",
            None,
        ),
        Row(
            f"{electrons} concurrent electrons: longest callback on the loop",
            f"{burst.longest_callback_s * 1000:.1f} ms",
            f"1 alone: {single.longest_callback_s * 1000:.1f} ms",
            "< 20 ms",
            burst.longest_callback_s < 0.02,
        ),
        Row(
            f"{electrons} concurrent electrons: ticker lateness beside an idle process's",
            f"{burst.worst_s * 1000:.0f} ms vs {burst.machine_s * 1000:.0f} ms ({beyond * 1000:+.0f} ms)",
            f"1 alone: {single.worst_s * 1000:.0f} ms vs {single.machine_s * 1000:.0f} ms",
            "within 20 ms",
            beyond <= 0.02,
        ),
    ]
