"""Everything the executor keeps for the life of a process, in one object: :class:`Runtime`.

Covalent makes one ``BraketExecutor`` per electron (and rebuilds it from JSON in its dispatcher), so
what electrons share cannot live on the executor: the worker threads that keep blocking calls off
the event loop, the AWS sessions with their clients, each electron's attempt count, the job images
known to be in ECR or being built, the job watchers and the progress display. :func:`current` gives
the process's runtime, made on first use; :func:`fresh` puts a new one in its place for a block
(tests start from nothing that way).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.billing.budget import DispatchSpend
from covalent_braket_plugin.executor.image_builds import ImageBuilds
from covalent_braket_plugin.executor.progress import Progress
from covalent_braket_plugin.executor.watch import JobWatcher
from covalent_braket_plugin.settings import BraketExecutorSettings

T = TypeVar("T")

BLOCKING_THREADS = 8
"""Worker threads for the executor's blocking work (boto3 calls, pickling, image builds).

Bounded and the executor's own, not the event loop's default pool that anything else in the Covalent
server may fill: a call spends most of its time waiting for AWS with the interpreter free, so eight
keep up with a burst of electrons, and a hundred electrons never mean a hundred threads running
botocore's Python code against the dispatcher's event loop. An image build holds one thread for as
long as it runs; builds are rare (one per environment) and share the pool with everything else.
"""
ELECTRON_SERVICES = ("braket", "s3", "logs")
"""The clients every electron uses, made with its session."""


class Runtime:
    """The executor's process-wide state: one thread pool and everything electrons share.

    ``progress`` is where the executor reports its long steps (uploads, job states, image builds):
    default, the Covalent server's stderr (its log), one line per event; through covalent's logger
    they would vanish at its default level.
    """

    def __init__(self, *, threads: int = BLOCKING_THREADS, progress: Progress | None = None) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="braket-executor")
        self.progress = progress if progress is not None else Progress.for_stream()
        self.images = ImageBuilds(self.pool)
        self.spend = DispatchSpend()
        """What each dispatch's jobs have cost so far, for ``dispatch_max_cost_usd``."""
        self._sessions: dict[tuple[Any, ...], AwsSession] = {}
        self._attempts: dict[tuple[str, int], itertools.count[int]] = {}
        self._watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, JobWatcher]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        # Held while a session is made (slow), so not the lock the event loop takes.
        self._sessions_lock = threading.Lock()

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the runtime's worker threads, so the event loop stays free."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def next_attempt(self, dispatch_id: str, node_id: int) -> int:
        """1 for the first run of an electron in this process, 2 for the next, ...

        The attempt is part of the job name and so of CreateJob's idempotency token: a second run of
        the same electron must make a new job, while a retried CreateJob of the same run must not.
        """
        with self._lock:
            return next(self._attempts.setdefault((dispatch_id, node_id), itertools.count(1)))

    def session(self, settings: BraketExecutorSettings) -> AwsSession:
        """The AWS session of ``settings``' identity and region, shared by every electron with them.

        Made on first use with the clients electrons use and the account id: building a client parses
        large service models, holding the interpreter for hundreds of milliseconds, and the account
        id is an STS call. Call this from a worker thread (:meth:`blocking`): done once per identity
        there, it keeps the dispatcher's event loop free however many electrons start.

        Raises:
            ExecutorConfigError: bad credentials file or profile, or no region can be found.
        """
        region = settings.resolve_region()
        key = (
            settings.credentials,
            settings.profile,
            region,
            # boto3 reads endpoints and credentials from these too
            tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))),
        )
        with self._sessions_lock:
            if key not in self._sessions:
                made = AwsSession(credentials=settings.credentials, profile=settings.profile, region=region)
                for service in ELECTRON_SERVICES:
                    made.client(service)
                _ = made.account_id
                self._sessions[key] = made
            return self._sessions[key]

    def watcher(self, braket: Any) -> JobWatcher:
        """The watcher of ``braket``'s jobs on the running event loop (made on first use).

        Electrons share one client per endpoint, region and identity (:meth:`session`), so one
        client stands for them all; an event loop that is gone takes its watchers with it.
        """
        per_loop = self._watchers.setdefault(asyncio.get_running_loop(), {})
        found = per_loop.get(id(braket))
        if found is None or found.braket is not braket:
            found = per_loop[id(braket)] = JobWatcher(braket, self.pool)
        return found

    def close(self) -> None:
        """Stop the worker threads once the work given to them is done."""
        self.pool.shutdown(wait=False)


_current: Runtime | None = None
_current_lock = threading.Lock()


def current() -> Runtime:
    """The process's runtime, made on first use."""
    global _current
    with _current_lock:
        if _current is None:
            _current = Runtime()
        return _current


@contextmanager
def fresh(**options: Any) -> Iterator[Runtime]:
    """A new :class:`Runtime` (made with ``options``) as the process's for the block, closed after.

    Nothing from before the block is shared with it: sessions, attempts and known images all start
    empty. The runtime from before comes back afterwards.
    """
    global _current
    runtime = Runtime(**options)
    with _current_lock:
        previous, _current = _current, runtime
    try:
        yield runtime
    finally:
        with _current_lock:
            _current = previous
        runtime.close()
