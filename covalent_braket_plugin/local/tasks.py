"""Execution of quantum tasks on the Braket SDK's local simulators.

Every device of the local Braket API is backed by one of the simulators that
``braket.devices.LocalSimulator`` uses (entry point group ``braket.simulators``): ``braket_sv`` for
SV1 and the gate-model QPUs, ``braket_dm`` for DM1, ``braket_ahs`` for QuEra Aquila. Results are
written to S3 in the Braket result schema exactly where ``AwsQuantumTask.result()`` looks for them.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol

from covalent_braket_plugin.local.braket_api.devices import AHS, JAQCD, OPENQASM, Device
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.services import LocalServices

log = logging.getLogger(__name__)

ACTIVE = frozenset({"CREATED", "QUEUED", "RUNNING", "CANCELLING"})
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class TaskStore(Protocol):
    """What the runner needs from the backend that keeps the task records."""

    def transition_task(self, task_arn: str, expected: frozenset[str], status: str, **fields: Any) -> bool:
        """Set ``status`` (and ``fields``) if the task is in one of ``expected``; False otherwise."""


def action_kind(action: dict[str, Any]) -> str:
    """The IR name in the action's braketSchemaHeader (``braket.ir.openqasm.program`` ...)."""
    header = action.get("braketSchemaHeader")
    return header.get("name", "") if isinstance(header, dict) else ""


def parse_program(action: dict[str, Any]) -> Any:
    """The IR program object of an action document; raises ValueError when it is not one."""
    kind = action_kind(action)
    if kind == OPENQASM:
        from braket.ir.openqasm import Program
    elif kind == JAQCD:
        from braket.ir.jaqcd import Program
    elif kind == AHS:
        from braket.ir.ahs import Program
    else:
        raise ValueError(
            f"unsupported action type {kind or '(no braketSchemaHeader)'}; use {OPENQASM}, {JAQCD} or {AHS}"
        )
    try:
        return Program.parse_obj(action)
    except Exception as exc:
        raise ValueError(f"invalid {kind} action: {exc}") from None


@cache
def _simulator_class(name: str) -> Any:
    """The simulator class registered under ``name``; reading entry points costs ~30 ms, so once."""
    (entry,) = [e for e in entry_points(group="braket.simulators") if e.name == name]
    return entry.load()


def simulate(device: Device, action: dict[str, Any], shots: int, task_arn: str) -> dict[str, Any]:
    """Run ``action`` on the simulator behind ``device``; the result document as AWS stores it."""
    program = parse_program(action)
    accepted = AHS if device.simulator == "braket_ahs" else (OPENQASM, JAQCD)
    if action_kind(action) not in accepted:
        raise ValueError(f"device {device.arn} does not support {action_kind(action)}")
    result = _simulator_class(device.simulator)().run(program, shots=shots)
    document = json.loads(result.json(exclude_none=True))
    document["taskMetadata"].update({"id": task_arn, "deviceId": device.arn, "shots": shots})
    return document


class TaskRunner:
    """A small worker pool that takes QUEUED tasks to COMPLETED / FAILED (or CANCELLED)."""

    def __init__(
        self, store: TaskStore, services: LocalServices | None, faults: Faults, workers: int = 4
    ) -> None:
        self._store = store
        self._services = services
        self._faults = faults
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="braket-task")
        self._lock = threading.Lock()
        self._pending: dict[str, threading.Timer | Future[None]] = {}

    def submit(self, task: dict[str, Any], device: Device, action: dict[str, Any]) -> None:
        """Queue a CREATED task; QPU tasks wait ``hold_qpu_tasks_s`` in QUEUED first."""
        arn = task["quantumTaskArn"]
        if not self._store.transition_task(arn, frozenset({"CREATED"}), "QUEUED"):
            return
        hold = self._faults.settings.hold_qpu_tasks_s if device.is_qpu else 0.0
        with self._lock:
            if hold > 0:
                timer = threading.Timer(hold, self._start, args=(task, device, action))
                timer.daemon = True
                self._pending[arn] = timer
                timer.start()
            else:
                self._pending[arn] = self._pool.submit(self._run, task, device, action)

    def _start(self, task: dict[str, Any], device: Device, action: dict[str, Any]) -> None:
        with self._lock:
            if task["quantumTaskArn"] in self._pending:
                self._pending[task["quantumTaskArn"]] = self._pool.submit(self._run, task, device, action)

    def cancel(self, task_arn: str) -> None:
        """Stop a CANCELLING task that has not started; a running one is settled when it finishes."""
        with self._lock:
            pending = self._pending.get(task_arn)
            # Timer.cancel() returns None and always stops it; Future.cancel() is False once running.
            stopped = pending is None or pending.cancel() is not False
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
                document = simulate(device, action, task["shots"], arn)
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
        with self._lock:
            for pending in self._pending.values():
                pending.cancel()
            self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)


def _reason(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
    return text[:1024]


def _now() -> datetime:
    return datetime.now(timezone.utc)
