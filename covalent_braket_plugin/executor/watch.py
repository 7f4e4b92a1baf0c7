"""One status watcher per process for all the Braket jobs its executors wait on.

Polling each job with GetJob forces a choice between a quick answer and few calls: a job checked
every second costs 60 calls a minute, one checked every 30 s is seen ended 15 s late on average.
A watcher instead asks SearchJobs about every job it watches at once, so a status check costs one
call whatever the number of jobs, and GetJob is only called for what SearchJobs cannot tell:

- the failure reason of a job seen FAILED or CANCELLED (SearchJobs' summaries lack it; a COMPLETED
  summary already has all the executor reads);
- the queue position of a job still QUEUED at its next turn (``additionalAttributeNames=["QueueInfo"]``);
- the status of a job SearchJobs did not list (an index that lags behind CreateJob).

The last two follow each job's own back-off (``initial_poll_freq`` doubling up to ``poll_freq``).

How often it searches: when the first watched job is due by its own back-off, but at least every
``budget_interval`` seconds, which spends ``STATUS_CALLS_PER_JOB_MINUTE`` calls per job and minute
and never goes below ``WATCH_TICK_S``. So with five or more jobs a search runs every second (each
job is seen ended within a second, at 12 calls per job-minute or fewer); a lone job backs off from
``initial_poll_freq`` to a check every 5 s (12 calls a minute where per-job polling at the default
``poll_freq`` of 30 s made two, but seen ended 2.5 s after its end on average instead of 15 s).
A ``poll_freq`` below that interval is honoured: the user asked for quicker checks.

Searches name the jobs (``jobArn``, at most ``ARN_FILTER_MAX`` values per filter) while few are
watched, and otherwise ask for every job created since the oldest one (``createdAt`` GTE, pages of
``SEARCH_PAGE_SIZE``), keeping the watched ones. Until a job's summary tells its ``createdAt``, the
client's clock at CreateJob less ``CLOCK_SKEW_S`` stands for it.

Outages are weather, not failure. A status call that fails after botocore's own retries (throttling,
5xx answers, connection errors) starts an outage: each watched job's ``on_unreachable`` hears it once
with its cause, then every ``OUTAGE_REPORT_S`` how long it has lasted, and the search is retried
with jittered back-off (``OUTAGE_FIRST_RETRY_S`` doubling to ``OUTAGE_SLOWEST_RETRY_S``). The jobs
themselves run on; their waits stay pending until Braket answers again or the job's deadline
passes (:meth:`_Watched.deadline`). Only an answer that retrying cannot change
(``UNRECOVERABLE_CODES``) or a passed deadline ends a wait early, with :class:`WatchAbandoned`;
the watcher never cancels a job.

The watcher is also the process's one clock. Each watched job takes its turns on its own back-off
(``initial_poll_freq`` doubling up to ``poll_freq``) at the watcher's searches, and whoever waits for
the job hears of each turn with the job's summary from that search (:meth:`JobWatcher.job_ticks`):
the executor looks for Covalent's cancel request and checks the job's budget there, so nothing
else keeps a timer. A wait without a job (for a job image being built, :meth:`JobWatcher.ticks`)
takes its turns on the same loop, with no search at all.

One watcher serves one event loop and one Braket client (so one endpoint, region and identity):
its futures belong to that loop, and its calls run in the executor given to it. The executor's
runtime (``executor.runtime``) keeps the watchers of a process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from covalent_braket_plugin import hybrid_jobs

WATCH_TICK_S = 1.0
"""The shortest interval between two searches that the call budget allows."""
STATUS_CALLS_PER_JOB_MINUTE = 12
"""Searches a minute the watcher may spend per watched job."""
TRIAGE_BATCH = 10
"""Jobs acted on between two turns of the event loop: ending a job's wait wakes its electron, and a
hundred of them at once would hold the loop for the whole round."""
ARN_FILTER_MAX = 10
"""SearchJobs takes at most 10 values per filter."""
SEARCH_PAGE_SIZE = 100
CLOCK_SKEW_S = 300.0
"""How far the client's clock may be ahead of Braket's when a job's createdAt is not known yet."""

OUTAGE_FIRST_RETRY_S = 2.0
OUTAGE_SLOWEST_RETRY_S = 30.0
"""Back-off of the status search while Braket cannot be reached (each delay jittered down to half)."""
OUTAGE_REPORT_S = 120.0
"""How often a job's ``on_unreachable`` hears that the outage goes on."""
DEADLINE_MARGIN_S = 900.0
"""Added to a job's ``time_limit`` after its start: Braket's stop, the upload of its outputs, clock skew."""
UNRECOVERABLE_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "ResourceNotFoundException", "ValidationException"}
)
"""Error codes retrying cannot change: the identity may not watch the job, or there is no such job."""

Listener = Callable[[dict[str, Any]], None]
"""Hears a job's summary (or GetJob answer) each time its status or queue position changes."""
Notice = Callable[[str], None]
"""Hears a line about an outage: its start with the cause, how long it has lasted, its end."""


class WatchAbandoned(RuntimeError):
    """The wait for a job ended without its end: the job was left running, nothing was cancelled."""

    def __init__(self, job_arn: str, reason: str) -> None:
        super().__init__(
            f"Stopped waiting for Braket job {job_arn}: {reason}. The job was left running (it was not "
            "cancelled) and its objects in S3 were kept; once it has ended, fetch its result with "
            f"`covalent-braket jobs result {job_arn} --output FILE`."
        )
        self.job_arn = job_arn


def transient(error: BaseException) -> bool:
    """Whether asking again later may succeed: throttling, 5xx answers, connection errors, expired tokens.

    Access denied, an unknown job and a request Braket refuses stay so; any other exception is a
    fault of the caller (a bug) that retrying would only hide.
    """
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") not in UNRECOVERABLE_CODES
    return isinstance(error, (HTTPClientError, BotocoreConnectionError))


def describe_error(error: BaseException) -> str:
    """The cause of a failed call in one line: the AWS error code and message, or the exception."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', type(error).__name__)}: {details.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


def _duration(seconds: float) -> str:
    """``45 s``, ``2 min``, ``1 h 5 min``: how long an outage has lasted, as the log says it."""
    minutes = int(seconds) // 60
    if minutes == 0:
        return f"{int(seconds)} s"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


@dataclass
class _Outage:
    """Braket unreachable since ``since`` (monotonic): why, and when the search is tried again."""

    since: float
    cause: str
    delays: Iterator[float]
    retry_at: float = 0.0

    def schedule_retry(self, now: float) -> None:
        delay = next(self.delays)
        self.retry_at = now + random.uniform(delay / 2, delay)


@dataclass(eq=False)
class _Turns:
    """A back-off on the watcher's clock: the next turn is due at ``due`` (monotonic), each later one a
    delay after the last; ``ticked`` is set at each turn taken, for whoever waits to hear of it."""

    delays: Iterator[float]
    due: float
    ticked: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def backing_off(cls, initial: float, slowest: float) -> _Turns:
        delays = hybrid_jobs.poll_delays(initial, slowest)
        return cls(delays, time.monotonic() + next(delays))

    def take(self, now: float) -> bool:
        """True when a turn is due; then the next one is one delay later, and the turn is told."""
        if now < self.due:
            return False
        self.due = now + next(self.delays)
        self.ticked.set()
        return True


@dataclass(eq=False)
class _Watched:
    """One watched job: the future that ends with its final record, its turns, what was reported."""

    arn: str
    future: asyncio.Future
    created: float
    turns: _Turns
    slowest: float
    listener: Listener | None = None
    reported: tuple[str, str | None] = ("", None)
    time_limit: float | None = None
    started: float | None = None
    """Epoch seconds the job started running (its startedAt, else when first seen past QUEUED)."""
    on_unreachable: Notice | None = None
    told_unreachable: float | None = None
    """Monotonic time the job last heard about the current outage; None outside an outage."""
    summary: dict[str, Any] | None = None
    """The job's summary from the last search (None when it did not list the job)."""

    def deadline(self) -> float | None:
        """Epoch seconds after which the job has surely ended: ``time_limit`` plus a margin after its start.

        Braket starts a job's ``maxRuntimeInSeconds`` clock when it starts running, not at creation,
        and a job may wait in a QPU's queue for days first; so a job not yet seen running has no
        deadline (its wait goes on until Braket answers again), and one seen running is given its
        ``time_limit`` plus ``DEADLINE_MARGIN_S`` from its start.
        """
        if self.time_limit is None or self.started is None:
            return None
        return self.started + self.time_limit + DEADLINE_MARGIN_S

    def note_start(self, record: dict[str, Any]) -> None:
        if self.started is None and record["status"] != "QUEUED":
            started = record.get("startedAt")
            self.started = started.timestamp() if isinstance(started, datetime) else time.time()

    def tell(self, message: str) -> None:
        if self.on_unreachable is not None:
            self.on_unreachable(message)


class JobWatcher:
    """Watches jobs of one Braket client on one event loop; ``watch`` gives each job's future."""

    def __init__(self, braket: Any, pool: concurrent.futures.Executor) -> None:
        self.braket = braket
        self._pool = pool
        self._jobs: dict[str, _Watched] = {}
        self._changed = asyncio.Event()
        self._waiting: set[_Turns] = set()
        self._task: asyncio.Task | None = None
        self._last_search = float("-inf")
        self._outage: _Outage | None = None

    def watch(
        self,
        job_arn: str,
        *,
        created: float,
        initial: float,
        slowest: float,
        listener: Listener | None = None,
        time_limit: float | None = None,
        on_unreachable: Notice | None = None,
    ) -> asyncio.Future:
        """A future that resolves to the job's final record (GetJob, or its COMPLETED summary).

        ``created`` is the client's clock (epoch seconds) just before CreateJob; ``initial`` and
        ``slowest`` are the job's back-off; ``time_limit`` its ``maxRuntimeInSeconds`` (None: no
        deadline). Cancelling the future stops watching the job. The future fails only with
        :class:`WatchAbandoned`: on an unrecoverable answer, or when an outage outlasts the deadline.
        """
        loop = asyncio.get_running_loop()
        if job_arn in self._jobs:
            return self._jobs[job_arn].future
        watched = _Watched(
            job_arn,
            loop.create_future(),
            created - CLOCK_SKEW_S,
            _Turns.backing_off(initial, slowest),
            slowest,
            listener,
            time_limit=time_limit,
            on_unreachable=on_unreachable,
        )
        watched.future.add_done_callback(lambda _: self._forget(watched))
        if not self._jobs:
            self._last_search = time.monotonic()  # a new job is QUEUED: nothing to ask before its turn
        self._jobs[job_arn] = watched
        self._start()
        return watched.future

    async def job_ticks(self, job_arn: str) -> AsyncIterator[dict[str, Any] | None]:
        """At each turn the watched job ``job_arn`` takes: its summary from that turn's search (None
        when Braket did not list it). Ends when the job's wait ends (or at once if it is not watched).

        Whoever is slower than the turns hears the latest one: turns it missed are not queued.
        """
        watched = self._jobs.get(job_arn)
        if watched is None:
            return
        async for _ in _told(watched.turns, watched.future):
            yield watched.summary

    async def ticks(self, until: asyncio.Future, *, initial: float, slowest: float) -> AsyncIterator[None]:
        """Turns on a back-off from ``initial`` to ``slowest`` seconds until ``until`` is done, for a
        wait with no job to search for (an image being built); they cost no call.

        Close it (``contextlib.aclosing``) when leaving the loop early, so the watcher lets it go.
        """
        turns = _Turns.backing_off(initial, slowest)
        self._waiting.add(turns)
        self._start()
        try:
            async for _ in _told(turns, until):
                yield
        finally:
            self._waiting.discard(turns)
            self._changed.set()

    def _start(self) -> None:
        """Work the schedule out again, with the loop running."""
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _forget(self, watched: _Watched) -> None:
        if self._jobs.get(watched.arn) is watched:
            del self._jobs[watched.arn]
            self._changed.set()

    def budget_interval(self) -> float:
        """Seconds between searches that spend the call budget on the jobs watched now."""
        return max(WATCH_TICK_S, 60.0 / (STATUS_CALLS_PER_JOB_MINUTE * max(len(self._jobs), 1)))

    def _next_search(self) -> float:
        """Monotonic time of the next search: the first job's turn, or the budget's if sooner.

        Never sooner than ``WATCH_TICK_S`` after the last search (jobs whose turns fall in between
        share the next one), unless a job's ``poll_freq`` asks for quicker checks than that. During
        an outage, the outage's back-off decides.
        """
        if self._outage is not None:
            return self._outage.retry_at
        watched = self._jobs.values()
        first_due = min(w.turns.due for w in watched)
        shortest = min(WATCH_TICK_S, *(w.slowest for w in watched))
        return max(min(first_due, self._last_search + self.budget_interval()), self._last_search + shortest)

    async def _run(self) -> None:
        while self._jobs or self._waiting:
            search_at = self._next_search() if self._jobs else math.inf
            wake = min([search_at, *(turns.due for turns in self._waiting)])
            now = time.monotonic()
            if wake > now:
                self._changed.clear()
                # A job or a wait added or gone changes the schedule: wake up and work it out again.
                with suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), wake - now)
                continue
            for turns in self._waiting:
                turns.take(now)
            if search_at <= now:
                await self._search_round()

    async def _search_round(self) -> None:
        """One search for every watched job, each job's summary acted on, GetJob where it is not enough."""
        self._last_search = time.monotonic()
        watched = list(self._jobs.values())
        try:
            summaries = await self._call(
                search, self.braket, [w.arn for w in watched], min(w.created for w in watched)
            )
        except Exception as error:  # a waiter must never hang on a failed watch
            self._failed(watched, error)
            return
        self._reached(watched)
        now = time.monotonic()
        asks = []
        for start in range(0, len(watched), TRIAGE_BATCH):
            if start:
                await asyncio.sleep(0)  # let the loop run what the last batch's ends scheduled
            batch = watched[start : start + TRIAGE_BATCH]
            asks.extend(
                (w, ask) for w in batch if (ask := self._triage(w, summaries.get(w.arn), now)) is not None
            )
        if asks:
            await asyncio.gather(*(self._ask(w, attributes) for w, attributes in asks))

    def _failed(self, watched: list[_Watched], error: Exception) -> None:
        """A call about ``watched`` failed: end their waits if retrying cannot help, else ride it out.

        In an outage each job hears of it once with its cause, then every ``OUTAGE_REPORT_S``; a job
        whose deadline passed meanwhile is given up on (left running).
        """
        if not transient(error):
            reason = f"Braket answered {describe_error(error)}"
            for job in watched:
                _abandon(job, reason, error)
            return
        now = time.monotonic()
        if self._outage is None:
            delays = hybrid_jobs.poll_delays(OUTAGE_FIRST_RETRY_S, OUTAGE_SLOWEST_RETRY_S)
            self._outage = _Outage(now, describe_error(error), delays)
        outage = self._outage
        outage.schedule_retry(now)
        for job in watched:
            deadline = job.deadline()
            if deadline is not None and time.time() > deadline:
                _abandon(
                    job,
                    f"Braket has been unreachable for {_duration(now - outage.since)} ({outage.cause}) "
                    "and the job's time_limit has passed",
                    error,
                )
            elif job.told_unreachable is None:
                job.told_unreachable = now
                job.tell(
                    f"Braket API unreachable ({outage.cause}), still waiting for job {job.arn}; "
                    "the job runs on, status checks are retried with back-off"
                )
            elif now - job.told_unreachable >= OUTAGE_REPORT_S:
                job.told_unreachable = now
                lasted = _duration(now - outage.since)
                job.tell(f"Braket API unreachable for {lasted}, still waiting for job {job.arn}")

    def _reached(self, watched: list[_Watched]) -> None:
        """Braket answered: end the outage, if any, telling the jobs that heard of it."""
        if self._outage is None:
            return
        lasted = _duration(time.monotonic() - self._outage.since)
        self._outage = None
        for job in watched:
            if job.told_unreachable is not None:
                job.told_unreachable = None
                job.reported = ("", None)  # the next record is reported again, after the notice
                job.tell(f"Braket API reachable again after {lasted}")

    def _triage(self, job: _Watched, summary: dict[str, Any] | None, now: float) -> tuple[str, ...] | None:
        """Act on one job's summary; what to ask GetJob about it (its ``additionalAttributeNames``)
        when the summary is not enough, None when it is.

        Synchronous, so a round costs the event loop no task per job: only the jobs that need a
        GetJob (an unlisted job at its turn, a failure reason, a queue position) get one.
        """
        if job.future.done():
            return None
        job.summary = summary
        due = job.turns.take(now)
        if summary is None:
            return () if due else None  # not listed (yet): ask about it alone, on its own back-off
        job.created = summary["createdAt"].timestamp()
        status = summary["status"]
        ended = status in hybrid_jobs.TERMINAL_STATUSES
        if ended and status != "COMPLETED" and "failureReason" not in summary:
            return ()
        if status == "QUEUED" and due and job.reported[0] == "QUEUED" and "queueInfo" not in summary:
            return ("QueueInfo",)  # still queued since the last turn: worth a GetJob for its place
        self._conclude(job, summary)
        return None

    async def _ask(self, job: _Watched, attributes: tuple[str, ...]) -> None:
        try:
            record = await self._call(hybrid_jobs.get_job, self.braket, job.arn, attributes)
        except Exception as error:  # ridden out, or handed to the job's waiter
            self._failed([job], error)
            return
        self._conclude(job, record)

    def _conclude(self, job: _Watched, record: dict[str, Any]) -> None:
        """Report the job's record and end its wait if it ended."""
        if job.future.done():
            return
        job.note_start(record)
        self._report(job, record)
        if record["status"] in hybrid_jobs.TERMINAL_STATUSES:
            job.future.set_result(record)

    @staticmethod
    def _report(job: _Watched, record: dict[str, Any]) -> None:
        """Tell the job's listener when its status or its queue position changed."""
        position = (record.get("queueInfo") or {}).get("position") if record["status"] == "QUEUED" else None
        if position is None and record["status"] == job.reported[0]:
            position = job.reported[1]  # a summary without queue info: the position did not change
        if (record["status"], position) == job.reported:
            return
        job.reported = (record["status"], position)
        if job.listener is not None:
            job.listener(record)

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)


def search(braket: Any, arns: list[str], created_after: float) -> dict[str, dict[str, Any]]:
    """SearchJobs summaries of the jobs ``arns`` that Braket lists, by ARN.

    Names the jobs while there are at most ``ARN_FILTER_MAX`` of them; otherwise lists every job
    created since ``created_after`` (epoch seconds) page by page, stopping once all are found.
    """
    wanted = set(arns)
    if len(wanted) <= ARN_FILTER_MAX:
        filters = [{"name": "jobArn", "operator": "EQUAL", "values": sorted(wanted)}]
    else:
        since = datetime.fromtimestamp(created_after, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        filters = [{"name": "createdAt", "operator": "GTE", "values": [since]}]
    found: dict[str, dict[str, Any]] = {}
    request: dict[str, Any] = {"filters": filters, "maxResults": SEARCH_PAGE_SIZE}
    while True:
        page = braket.search_jobs(**request)
        found.update((s["jobArn"], s) for s in page.get("jobs", []) if s["jobArn"] in wanted)
        if not page.get("nextToken") or len(found) == len(wanted):
            return found
        request["nextToken"] = page["nextToken"]


def _abandon(job: _Watched, reason: str, cause: BaseException) -> None:
    if not job.future.done():
        abandoned = WatchAbandoned(job.arn, reason)
        abandoned.__cause__ = cause
        job.future.set_exception(abandoned)


async def _told(turns: _Turns, until: asyncio.Future) -> AsyncIterator[None]:
    """Once per turn taken (turns taken meanwhile told once), until ``until`` is done."""
    while not until.done():
        tick = asyncio.ensure_future(turns.ticked.wait())
        try:
            await asyncio.wait({tick, until}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            tick.cancel()
        if until.done():
            return
        turns.ticked.clear()
        yield
