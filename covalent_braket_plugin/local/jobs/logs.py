"""Ship a job's output to CloudWatch Logs, where the SDK's ``AwsQuantumJob.logs()`` reads it.

Braket writes every line a job prints to the log group ``/aws/braket/jobs``, in a stream whose name
starts with ``<jobName>/<uuid from the job ARN>``. The shipper batches lines and sends them from a
background thread while the job runs, so ``logs(wait=True)`` can follow a running job; ``close()``
sends the rest before the job is reported finished.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from botocore.exceptions import ClientError

LOG_GROUP = "/aws/braket/jobs"
FLUSH_INTERVAL_S = 0.5
MAX_BATCH_EVENTS = 1000
MAX_MESSAGE_CHARS = 200_000
"""CloudWatch takes events up to 256 KiB; longer lines are cut."""


class LogShipper:
    """Collects lines with their time and puts them into one CloudWatch Logs stream."""

    def __init__(self, logs_client: Any, stream: str, group: str = LOG_GROUP) -> None:
        self._client = logs_client
        self.group = group
        self.stream = stream
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._closed = threading.Event()
        self._create_stream()
        self._thread = threading.Thread(target=self._flush_periodically, name=f"logs {stream}", daemon=True)
        self._thread.start()

    def _create_stream(self) -> None:
        for create, kwargs in (
            (self._client.create_log_group, {"logGroupName": self.group}),
            (self._client.create_log_stream, {"logGroupName": self.group, "logStreamName": self.stream}),
        ):
            try:
                create(**kwargs)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                    raise

    def write(self, line: str) -> None:
        """Queue one line of output; blank lines are dropped (CloudWatch rejects empty events)."""
        if not line.strip():
            return
        event = {"timestamp": int(time.time() * 1000), "message": line[:MAX_MESSAGE_CHARS]}
        with self._lock:
            self._pending.append(event)

    def flush(self) -> None:
        """Send every queued line, in order, in batches."""
        with self._send_lock:
            with self._lock:
                events, self._pending = self._pending, []
            while events:
                try:
                    batch = events[:MAX_BATCH_EVENTS]
                    self._client.put_log_events(
                        logGroupName=self.group, logStreamName=self.stream, logEvents=batch
                    )
                except Exception:
                    with self._lock:  # keep the unsent lines, in order, for the next try
                        self._pending[:0] = events
                    raise
                events = events[MAX_BATCH_EVENTS:]

    def _flush_periodically(self) -> None:
        while not self._closed.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except Exception:  # the stack is busy or going down: close() sends what is left
                continue  # the stack is busy or going down; close() sends what is left

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self.flush()

    def __enter__(self) -> LogShipper:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
