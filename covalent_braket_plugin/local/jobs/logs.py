"""Ship a job's output to CloudWatch Logs, where the SDK's ``AwsQuantumJob.logs()`` reads it.

Braket writes every line a job prints to the log group ``/aws/braket/jobs``, in a stream whose name
starts with ``<jobName>/<uuid from the job ARN>``. The shipper batches lines and sends them from a
background thread while the job runs, so ``logs(wait=True)`` can follow a running job; ``close()``
sends the rest before the job is reported finished.

Braket's job images start their program through SageMaker's training toolkit, which logs around it:
the training environment (``"user_entry_point"`` names the program), ``Invoking script with the
following command:`` before it and ``Reporting training SUCCESS`` (or ``FAILURE``) after it.
``toolkit_start_lines`` and ``toolkit_end_lines`` are those lines, for the runners to log the same.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from botocore.exceptions import ClientError

LOG_GROUP = "/aws/braket/jobs"
FLUSH_INTERVAL_S = 0.5
MAX_BATCH_EVENTS = 1000
MAX_MESSAGE_CHARS = 200_000
"""CloudWatch takes events up to 256 KiB; longer lines are cut."""
TOOLKIT = "sagemaker-training-toolkit"


def _toolkit_line(level: str, message: str) -> str:
    """A line in the training toolkit's logging format (``2025-09-24 23:13:40,962 ... INFO     ...``)."""
    moment = datetime.now()
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {TOOLKIT} {level:<8} {message}"


def toolkit_start_lines(job: Mapping[str, Any], env: Mapping[str, str], command: list[str]) -> list[str]:
    """What the training toolkit logs before it starts the job's program ``command``."""
    channels = [channel["channelName"] for channel in job.get("inputDataConfig") or []]
    training_env = {
        "channel_input_dirs": {name: f"{env['AMZN_BRAKET_INPUT_DIR']}/{name}" for name in channels},
        "current_host": env.get("SM_CURRENT_HOST", "algo-1"),
        "hosts": json.loads(env.get("SM_HOSTS", '["algo-1"]')),
        "hyperparameters": dict(job.get("hyperParameters") or {}),
        "input_config_dir": env["AMZN_BRAKET_HP_FILE"].rsplit("/", 1)[0],
        "input_data_config": {name: {"TrainingInputMode": "File"} for name in channels},
        "input_dir": env["AMZN_BRAKET_INPUT_DIR"].rsplit("/", 1)[0],
        "job_name": env["AMZN_BRAKET_JOB_NAME"],
        "model_dir": env["AMZN_BRAKET_JOB_RESULTS_DIR"],
        "module_name": command[-1].removesuffix(".py"),
        "user_entry_point": command[-1],
    }
    return [
        _toolkit_line("INFO", "Invoking user training script."),
        "Training Env:",
        *json.dumps(training_env, indent=4, sort_keys=True).splitlines(),
        "Invoking script with the following command:",
        " ".join(command),
    ]


def toolkit_end_lines(exit_code: int) -> list[str]:
    """What the training toolkit logs when the program exited with ``exit_code``."""
    if exit_code == 0:
        return [_toolkit_line("INFO", "Reporting training SUCCESS")]
    return [
        _toolkit_line("ERROR", "Reporting training FAILURE"),
        _toolkit_line("ERROR", "ExecuteUserScriptError:"),
        f"ExitCode {exit_code}",
    ]


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
