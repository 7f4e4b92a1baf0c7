"""EventBridge events of Braket quantum tasks and hybrid jobs, shaped as AWS sends them.

Events go to the default bus of the resource's own region through the stack's EventBridge (moto),
from one background thread that batches ``PutEvents`` calls: the Braket API never waits for them and
an EventBridge failure is logged, never raised into a request.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from datetime import datetime
from typing import Any

from covalent_braket_plugin.local.braket_api.protocol import format_timestamp
from covalent_braket_plugin.local.services import LocalServices

log = logging.getLogger(__name__)

SOURCE = "aws.braket"
TASK_DETAIL_TYPE = "Braket Task State Change"
JOB_DETAIL_TYPE = "Braket Job State Change"
_BATCH = 10  # PutEvents takes at most 10 entries


def _stamp(value: datetime | None) -> str | None:
    return format_timestamp(value) if value else None


def task_event_detail(task: dict[str, Any], event_name: str) -> dict[str, Any]:
    """The ``detail`` of a "Braket Task State Change" event (shots is a string, as AWS sends it)."""
    detail = {
        "quantumTaskArn": task["quantumTaskArn"],
        "status": task["status"],
        "deviceArn": task["deviceArn"],
        "shots": str(task["shots"]),
        "outputS3Bucket": task["outputS3Bucket"],
        "outputS3Directory": task["outputS3Directory"],
        "createdAt": _stamp(task["createdAt"]),
        "eventName": event_name,
    }
    if task.get("endedAt"):
        detail["endedAt"] = _stamp(task["endedAt"])
    return detail


def job_event_detail(job: dict[str, Any]) -> dict[str, Any]:
    """The ``detail`` of a "Braket Job State Change" event."""
    detail: dict[str, Any] = {"jobArn": job["jobArn"], "status": job["status"]}
    for name in ("createdAt", "startedAt", "endedAt"):
        if job.get(name):
            detail[name] = _stamp(job[name])
    if job.get("failureReason"):
        detail["failureReason"] = job["failureReason"]
    return detail


def _region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


class EventPublisher:
    """Puts Braket events on the default bus of each resource's region, in the background."""

    def __init__(self, services: LocalServices | None) -> None:
        self._services = services
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def task_changed(self, task: dict[str, Any], event_name: str) -> None:
        self._put(TASK_DETAIL_TYPE, task["quantumTaskArn"], task_event_detail(task, event_name))

    def job_changed(self, job: dict[str, Any]) -> None:
        self._put(JOB_DETAIL_TYPE, job["jobArn"], job_event_detail(job))

    def _put(self, detail_type: str, arn: str, detail: dict[str, Any]) -> None:
        if self._services is None:
            return
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "Resources": [arn],
            "EventBusName": "default",
        }
        self._queue.put((_region(arn) or self._services.region, entry))
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="braket-events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batches: dict[str, list[dict[str, Any]]] = {item[0]: [item[1]]}
            while sum(map(len, batches.values())) < 100:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._send(batches)
                    return
                batches.setdefault(nxt[0], []).append(nxt[1])
            self._send(batches)

    def _send(self, batches: dict[str, list[dict[str, Any]]]) -> None:
        assert self._services is not None
        for region, entries in batches.items():
            for start in range(0, len(entries), _BATCH):
                try:
                    self._services.client("events", region).put_events(
                        Entries=entries[start : start + _BATCH]
                    )
                except Exception:  # an event failure must never break the API
                    log.exception("could not put %d Braket events in %s", len(entries[start:]), region)

    def flush(self, timeout: float = 10.0) -> None:
        """Send every queued event and stop the sender thread (it restarts on the next event)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None or not thread.is_alive():
                return
            self._queue.put(None)
        thread.join(timeout)
