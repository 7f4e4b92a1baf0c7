"""The Braket jobs the executor created: list them, read their logs, cancel them, fetch a kept result.

A job is the plugin's when its tags hold the dispatch tag the executor puts on every job
(``covalent:dispatch_id``, beside ``covalent:node_id``). SearchJobs returns each job's tags, so one
paged search finds them; status and creation time are filtered by Braket, the dispatch by its tag
here. Logs and cancelling reuse what the executor itself uses (``hybrid_jobs.read_logs``, and
``job_stop``, which cancels the job's waiting quantum tasks after the job, as the executor does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin import hybrid_jobs, job_stop, s3_layout
from covalent_braket_plugin.executor import transfer
from covalent_braket_plugin.inventory.formatting import format_time, iso_time, table
from covalent_braket_plugin.job.runner import BUCKET_OWNER_KEY, OUTPUT_URI_KEY
from covalent_braket_plugin.quantum_tasks import CancelReport
from covalent_braket_plugin.settings import DEVICE_SHORT_NAMES

JOB_STATUSES = ("QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED")
SEARCH_PAGE_SIZE = 100
FOLLOW_INTERVAL_S = 2.0
_DEVICE_NAMES = {arn: name for name, arn in DEVICE_SHORT_NAMES.items()}


class JobNotFoundError(LookupError):
    """No job of the plugin has that name or ARN."""


@dataclass(frozen=True)
class JobFilter:
    """Which of the plugin's jobs to show: any of ``statuses``, one dispatch, created since a time."""

    statuses: tuple[str, ...] = ()
    dispatch_id: str | None = None
    since: datetime | None = None

    def __post_init__(self) -> None:
        unknown = [status for status in self.statuses if status not in JOB_STATUSES]
        if unknown:
            raise ValueError(
                f"--status: {', '.join(unknown)} is not a job status; use {', '.join(JOB_STATUSES)}"
            )

    def search_filters(self) -> list[dict[str, Any]]:
        """The SearchJobs filters Braket applies itself (status, createdAt); tags are checked here."""
        filters: list[dict[str, Any]] = []
        if self.statuses:
            filters.append({"name": "status", "operator": "EQUAL", "values": list(self.statuses)})
        if self.since is not None:
            since = self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            filters.append({"name": "createdAt", "operator": "GTE", "values": [since]})
        return filters

    def matches(self, summary: dict[str, Any]) -> bool:
        """Whether a SearchJobs summary is a job of the plugin that this filter keeps."""
        tags = summary.get("tags") or {}
        if hybrid_jobs.TAG_DISPATCH_ID not in tags:
            return False
        return self.dispatch_id is None or tags[hybrid_jobs.TAG_DISPATCH_ID] == self.dispatch_id


@dataclass(frozen=True)
class PluginJob:
    """One job of the plugin as ``jobs list`` shows it."""

    name: str
    arn: str
    status: str
    dispatch_id: str
    node_id: str
    device: str
    created: datetime | None
    ended: datetime | None

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> PluginJob:
        tags = summary.get("tags") or {}
        return cls(
            name=summary["jobName"],
            arn=summary["jobArn"],
            status=summary["status"],
            dispatch_id=tags.get(hybrid_jobs.TAG_DISPATCH_ID, ""),
            node_id=tags.get(hybrid_jobs.TAG_NODE_ID, ""),
            device=summary.get("device", ""),
            created=summary.get("createdAt"),
            ended=summary.get("endedAt"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "status": self.status,
            "dispatch_id": self.dispatch_id,
            "node_id": self.node_id,
            "device": self.device,
            "created": iso_time(self.created),
            "ended": iso_time(self.ended),
        }


def device_label(device: str) -> str:
    """A device's short name (``sv1``, ``forte-1``) where it has one, else the device as given."""
    return _DEVICE_NAMES.get(device, device)


def _plugin_summaries(braket: Any, job_filter: JobFilter) -> Iterator[dict[str, Any]]:
    pages = braket.get_paginator("search_jobs").paginate(
        filters=job_filter.search_filters(), PaginationConfig={"PageSize": SEARCH_PAGE_SIZE}
    )
    for page in pages:
        yield from (summary for summary in page.get("jobs", []) if job_filter.matches(summary))


def list_jobs(braket: Any, job_filter: JobFilter) -> list[PluginJob]:
    """Every job of the plugin the filter keeps, newest first."""
    found = [PluginJob.from_summary(summary) for summary in _plugin_summaries(braket, job_filter)]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda job: job.created or oldest, reverse=True)


def jobs_table(found: Sequence[PluginJob]) -> str:
    """``jobs list`` for a terminal: one row per job, times in UTC."""
    if not found:
        return "(no jobs of covalent-braket-plugin)"
    header = ("NAME", "STATUS", "DISPATCH ID", "NODE", "DEVICE", "CREATED (UTC)", "ENDED (UTC)")
    rows = [
        (
            job.name,
            job.status,
            job.dispatch_id,
            job.node_id,
            device_label(job.device),
            format_time(job.created),
            format_time(job.ended),
        )
        for job in found
    ]
    return table(header, rows)


def resolve_job(braket: Any, name_or_arn: str) -> dict[str, Any]:
    """GetJob of a job given by ARN, or by the name of one of the plugin's jobs.

    Raises:
        JobNotFoundError: no such job (with what to run to see the names).
    """
    arn = name_or_arn
    if not name_or_arn.startswith("arn:"):
        named = (s for s in _plugin_summaries(braket, JobFilter()) if s["jobName"] == name_or_arn)
        summary = next(named, None)
        if summary is None:
            raise JobNotFoundError(
                f"no job of covalent-braket-plugin is named {name_or_arn!r} in this region; "
                "`covalent-braket jobs list` shows their names (or give the job's ARN)"
            )
        arn = summary["jobArn"]
    try:
        return hybrid_jobs.get_job(braket, arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in (
            "ResourceNotFoundException",
            "ValidationException",
        ):
            raise JobNotFoundError(
                f"no Braket job {arn}: {error.response['Error'].get('Message', '')}"
            ) from None
        raise


def follow_logs(
    braket: Any,
    logs: Any,
    log_group: str,
    job: dict[str, Any],
    write: Callable[[str], None],
    follow: bool = False,
    interval_s: float = FOLLOW_INTERVAL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Write the job's log lines; with ``follow``, keep writing new ones until the job ends.

    Returns the job's last known status. Each round reads the whole log again with
    ``hybrid_jobs.read_logs`` and writes the lines past those already written: a job of the plugin runs
    on one instance, so its log is one stream that only grows.
    """
    written = 0
    status = job["status"]
    while True:
        # The status is read before the log: a job seen ended has written all it will.
        ended = status in hybrid_jobs.TERMINAL_STATUSES
        text = hybrid_jobs.read_logs(logs, log_group, job["jobName"])
        lines = text.split("\n") if text else []
        for line in lines[written:]:
            write(line)
        written = max(written, len(lines))
        if not follow or ended:
            return status
        sleep(interval_s)
        status = hybrid_jobs.get_job(braket, job["jobArn"])["status"]


@dataclass(frozen=True)
class CancelOutcome:
    """What ``jobs cancel`` did: ``cancelled`` False when the job had ended already; ``waiting_tasks``
    what was asked of the quantum tasks it left waiting."""

    name: str
    arn: str
    status: str
    cancelled: bool
    ended: datetime | None = None
    waiting_tasks: CancelReport = field(default_factory=lambda: CancelReport(requested=()))

    def message(self) -> str:
        if self.cancelled:
            parts = [f"cancelling job {self.name} ({self.arn}): {self.status}"]
        else:
            when = f" at {format_time(self.ended)} UTC" if self.ended else ""
            parts = [f"job {self.name} had already ended {self.status}{when}"]
        swept = self.waiting_tasks
        if swept.cancelled:
            parts.append(f"cancelled {_tasks(len(swept.cancelled))} of it still waiting")
        if swept.failed:
            parts.append(f"{_tasks(len(swept.failed))} still waiting could not be cancelled (see above)")
        if len(parts) == 1 and not self.cancelled:
            parts.append("nothing to cancel")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "status": self.status,
            "cancelled": self.cancelled,
            "waiting_tasks": self.waiting_tasks.to_json(),
        }


def _tasks(count: int) -> str:
    return f"{count} quantum task{'s' if count != 1 else ''}"


def cancel(braket: Any, job: dict[str, Any]) -> CancelOutcome:
    """Stop the job (its GetJob answer) as the executor stops one: CancelJob, then its quantum tasks
    still waiting (``job_stop``). Of a job that has ended, only the tasks it left waiting are cancelled:
    they would run, and be billed, after it.
    """
    name, arn = job["jobName"], job["jobArn"]
    if job["status"] in hybrid_jobs.TERMINAL_STATUSES:
        swept = job_stop.cancel_waiting_tasks(braket, arn)
        return CancelOutcome(name, arn, job["status"], False, job.get("endedAt"), swept)
    stopped = job_stop.stop_job(braket, arn)
    if stopped.status in hybrid_jobs.TERMINAL_STATUSES and stopped.status != "CANCELLED":
        # It ended between GetJob and CancelJob.
        ended = hybrid_jobs.get_job(braket, arn).get("endedAt")
        return CancelOutcome(name, arn, stopped.status, False, ended, stopped.tasks)
    return CancelOutcome(name, arn, stopped.status, True, waiting_tasks=stopped.tasks)


def fetch_result(s3: Any, job: dict[str, Any], output: Path) -> str:
    """Download the job's pickled result to ``output`` and return its S3 URI.

    For a result the executor kept because it could not load it (``ResultNotLoaded``), or one of a
    job it stopped waiting for. The job's hyperparameters say where its outputs are and who owns
    the bucket.

    Raises:
        JobNotFoundError: the job is not the executor's, or there is no result (any more) in S3.
    """
    hyper = job.get("hyperParameters") or {}
    if OUTPUT_URI_KEY not in hyper or BUCKET_OWNER_KEY not in hyper:
        raise JobNotFoundError(f"job {job['jobName']} was not made by the executor: it has no result.pkl")
    location = s3_layout.ElectronLocation.from_output_uri(hyper[OUTPUT_URI_KEY])
    uri = location.uri(location.result_key)
    if not transfer.download_result(s3, location, hyper[BUCKET_OWNER_KEY], output):
        raise JobNotFoundError(
            f"no result at {uri}: job {job['jobName']} ({job['status']}) wrote none, or it was removed "
            "after the executor collected it, as the executor removes an electron's objects once its "
            "result is back; to keep them, set cleanup = false in [executors.braket] of covalent.conf "
            "(or BraketExecutor(cleanup=False))"
        )
    return uri
