"""The life of a quantum task after CreateQuantumTask: QUEUED, RUNNING, then COMPLETED or FAILED.

Simulations run in a pool of worker processes sized to the machine (``simulation.py`` is what they
run), never in the server's threads: the Braket SDK's simulators use numba, whose default threading
layer aborts the whole process when two threads use it at once, and a simulation that runs out of
memory takes only its worker down. The workers run at a lower priority so a burst of simulations
leaves the caller's own processes (a test run, a notebook) their share of the CPU. Results are
written to S3 in the Braket result schema exactly where ``AwsQuantumTask.result()`` looks for them.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any, Protocol

from covalent_braket_plugin.local.braket_api.devices import Device
from covalent_braket_plugin.local.braket_api.simulation import simulate, warm_up
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.services import LocalServices

log = logging.getLogger(__name__)

ACTIVE = frozenset({"CREATED", "QUEUED", "RUNNING", "CANCELLING"})
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
WORKER_NICENESS = 10
"""How much lower than the server's the simulation workers' CPU priority is (``os.nice``)."""


class TaskStore(Protocol):
    """What the runner needs from the backend that keeps the task records."""

    def transition_task(self, task_arn: str, expected: frozenset[str], status: str, **fields: Any) -> bool:
        """Set ``status`` (and ``fields``) if the task is in one of ``expected``; False otherwise."""


class SimulatorCrashedError(RuntimeError):
    """The worker process running a simulation ended without an answer (killed, out of memory)."""


def machine_workers() -> int:
    """One simulation worker per CPU this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


def _start_worker() -> None:
    """Initializer of a simulation worker process: lower its priority, load the simulators."""
    os.nice(WORKER_NICENESS)
    warm_up()


class SimulationPool:
    """Worker processes that run ``simulate``; a pool a crashed worker broke is replaced by a new one.

    The processes are started with ``spawn`` (a fork of the threaded server could inherit held
    locks) and only when the first task arrives, so a stack that runs no task starts none.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def run(
        self, device: Device, action: dict[str, Any], shots: int, task_arn: str, device_parameters: str
    ) -> dict[str, Any]:
        """The result document of one simulation, computed in a worker process (blocks meanwhile)."""
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                )
            pool = self._pool
        try:
            return pool.submit(simulate, device, action, shots, task_arn, device_parameters).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise SimulatorCrashedError(
                "the simulator process ended without a result (it was killed or ran out of memory)"
            ) from None

    def shutdown(self) -> None:
        """Let running simulations finish, drop queued ones, stop the processes."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_HELD = "held"
"""Marker in ``TaskRunner._pending`` of a QPU task waiting out ``hold_qpu_tasks_s``."""


class TaskRunner:
    """Takes QUEUED tasks to COMPLETED / FAILED (or CANCELLED) through the simulation processes.

    Held QPU tasks wait in one heap served by one thread, so thousands of them cost no threads.
    """

    def __init__(
        self, store: TaskStore, services: LocalServices | None, faults: Faults, workers: int | None = None
    ) -> None:
        self._store = store
        self._services = services
        self._faults = faults
        self.simulations = SimulationPool(workers or machine_workers())
        # One thread per worker process: it waits for its simulation and writes the result, so a
        # task not yet handed to a process can still be cancelled by dropping its thread's future.
        self._pool = ThreadPoolExecutor(
            max_workers=self.simulations.workers, thread_name_prefix="braket-task"
        )
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: dict[str, Future[None] | str] = {}
        self._held: list[tuple[float, int, str, tuple[dict[str, Any], Device, dict[str, Any]]]] = []
        self._order = itertools.count()
        self._releaser: threading.Thread | None = None
        self._stopping = False

    def submit(self, task: dict[str, Any], device: Device, action: dict[str, Any]) -> None:
        """Queue a CREATED task; QPU tasks wait ``hold_qpu_tasks_s`` in QUEUED first."""
        arn = task["quantumTaskArn"]
        if not self._store.transition_task(arn, frozenset({"CREATED"}), "QUEUED"):
            return
        hold = self._faults.settings.hold_qpu_tasks_s if device.is_qpu else 0.0
        with self._lock:
            if self._stopping:
                return
            if hold <= 0:
                self._pending[arn] = self._pool.submit(self._run, task, device, action)
                return
            self._pending[arn] = _HELD
            heapq.heappush(
                self._held, (time.monotonic() + hold, next(self._order), arn, (task, device, action))
            )
            if self._releaser is None:
                self._releaser = threading.Thread(target=self._release, name="braket-held-tasks", daemon=True)
                self._releaser.start()
            self._wake.notify()

    def _release(self) -> None:
        """Hand held tasks to the pool when their hold ends (cancelled ones are skipped)."""
        with self._lock:
            while not self._stopping:
                now = time.monotonic()
                while self._held and self._held[0][0] <= now:
                    _, _, arn, args = heapq.heappop(self._held)
                    if self._pending.get(arn) == _HELD:
                        self._pending[arn] = self._pool.submit(self._run, *args)
                self._wake.wait(self._held[0][0] - now if self._held else None)

    def cancel(self, task_arn: str) -> None:
        """Stop a CANCELLING task that has not started; a running one is settled when it finishes."""
        with self._lock:
            pending = self._pending.get(task_arn)
            stopped = pending is None or isinstance(pending, str) or pending.cancel()
            if stopped:
                self._pending.pop(task_arn, None)
        if stopped:
            self._settle_cancel(task_arn)

    def _settle_cancel(self, task_arn: str) -> None:
        self._store.transition_task(task_arn, frozenset({"CANCELLING"}), "CANCELLED", endedAt=_now())

    def _run(self, task: dict[str, Any], device: Device, action: dict[str, Any]) -> None:
        arn = task["quantumTaskArn"]
        try:
            if not self._store.transition_task(arn, frozenset({"QUEUED"}), "RUNNING"):
                self._settle_cancel(arn)
                return
            try:
                document = self.simulations.run(
                    device, action, task["shots"], arn, task.get("deviceParameters", "{}")
                )
                self._write_result(task, document)
            except Exception as exc:
                log.info("quantum task %s failed: %s", arn, exc)
                if not self._store.transition_task(
                    arn, frozenset({"RUNNING"}), "FAILED", failureReason=_reason(exc), endedAt=_now()
                ):
                    self._settle_cancel(arn)
                return
            if not self._store.transition_task(
                arn, frozenset({"RUNNING"}), "COMPLETED", endedAt=_now(), numSuccessfulShots=task["shots"]
            ):
                self._settle_cancel(arn)
        finally:
            with self._lock:
                self._pending.pop(arn, None)

    def _write_result(self, task: dict[str, Any], document: dict[str, Any]) -> None:
        if self._services is None:
            raise RuntimeError("no S3 endpoint to write results to")
        self._services.client("s3").put_object(
            Bucket=task["outputS3Bucket"],
            Key=f"{task['outputS3Directory']}/results.json",
            Body=json.dumps(document).encode(),
            ContentType="application/json",
        )

    def shutdown(self) -> None:
        """Drop held and queued tasks, finish the running ones."""
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
            for pending in self._pending.values():
                if not isinstance(pending, str):
                    pending.cancel()
            self._pending.clear()
            self._held.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.simulations.shutdown()


def _reason(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
    return text[:1024]


def _now() -> datetime:
    return datetime.now(UTC)
