"""Execution of quantum tasks on the Braket SDK's local simulators.

Every device of the local Braket API is backed by one of the simulators that
``braket.devices.LocalSimulator`` uses (entry point group ``braket.simulators``): ``braket_sv`` for
SV1 and the gate-model QPUs, ``braket_dm`` for DM1, ``braket_ahs`` for QuEra Aquila. Results are
written to S3 in the Braket result schema exactly where ``AwsQuantumTask.result()`` looks for them.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol

import numpy
from braket.tasks import GateModelQuantumTaskResult

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


LOCAL_QUBIT_LIMITS = {"braket_sv": 26, "braket_dm": 13, "braket_ahs": 12}
"""Most qubits (atoms) the stack simulates per backend: a state vector of 26 qubits or a density
matrix of 13 takes 1 GiB; the Rydberg simulator slows to a crawl past a dozen atoms."""


def program_qubits(simulator: Any, program: Any, kind: str) -> int:
    """How many qubits (atoms, for AHS) ``program`` uses, found without simulating it."""
    if kind == OPENQASM:
        return int(simulator.parse_program(program).num_qubits)
    if kind == JAQCD:
        used = [-1]
        for instruction in program.instructions:
            for name in ("target", "control"):
                if getattr(instruction, name, None) is not None:
                    used.append(getattr(instruction, name))
            for name in ("targets", "controls"):
                used.extend(getattr(instruction, name, None) or [])
        return max(used) + 1
    return len(program.setup.ahs_register.sites)


def simulate(device: Device, action: dict[str, Any], shots: int, task_arn: str) -> dict[str, Any]:
    """Run ``action`` on the simulator behind ``device``; the result document as AWS stores it.

    Programs larger than the device, or than the stack can simulate in reasonable memory and time
    (``LOCAL_QUBIT_LIMITS``), raise ValueError, which fails the task with that reason.
    """
    kind = action_kind(action)
    accepted = (AHS,) if device.simulator == "braket_ahs" else (OPENQASM, JAQCD)
    if kind not in accepted:
        raise ValueError(f"device {device.arn} does not support {kind}")
    program = parse_program(action)
    simulator = _simulator_class(device.simulator)()
    qubits = program_qubits(simulator, program, kind)
    if qubits > device.qubit_count:
        raise ValueError(f"the program uses {qubits} qubits; {device.name} has {device.qubit_count}")
    limit = LOCAL_QUBIT_LIMITS[device.simulator]
    if qubits > limit:
        raise ValueError(
            f"the program uses {qubits} qubits; the local Braket stack simulates at most {limit} on "
            f"{device.name} (local simulator {device.simulator})"
        )
    result = simulator.run(program, shots=shots)
    document = json.loads(result.json(exclude_none=True))
    if document.get("resultTypes") and "value" not in document["resultTypes"][0]:
        # With shots, the local simulators return the requested result types without values (the
        # SDK's LocalSimulator computes them in memory); results.json on AWS holds them computed,
        # the only form AwsQuantumTask.result() parses.
        document["resultTypes"] = [
            {"type": json.loads(rt.type.json(exclude_none=True)), "value": numpy.asarray(rt.value).tolist()}
            for rt in GateModelQuantumTaskResult.from_object(result).result_types
        ]
    document["taskMetadata"].update({"id": task_arn, "deviceId": device.arn, "shots": shots})
    return document


_HELD = "held"
"""Marker in ``TaskRunner._pending`` of a QPU task waiting out ``hold_qpu_tasks_s``."""


class TaskRunner:
    """A small worker pool that takes QUEUED tasks to COMPLETED / FAILED (or CANCELLED).

    Held QPU tasks wait in one heap served by one thread, so thousands of them cost no threads.
    """

    def __init__(
        self, store: TaskStore, services: LocalServices | None, faults: Faults, workers: int = 4
    ) -> None:
        self._store = store
        self._services = services
        self._faults = faults
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="braket-task")
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


def _reason(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
    return text[:1024]


def _now() -> datetime:
    return datetime.now(UTC)
