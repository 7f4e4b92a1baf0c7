"""Run the local stack's Hybrid Jobs: from QUEUED to COMPLETED, FAILED or CANCELLED.

The Braket API side (``BraketBackend``) owns job records and answers CreateJob, GetJob and CancelJob;
it hands every new job to ``JobManager.submit`` and every cancel to ``JobManager.cancel``. The
manager runs each job on its own thread through the life a job has on Amazon Braket: held QUEUED
(``FaultSettings.hold_jobs_s``; the backend recorded QUEUED_FOR_EXECUTION when it created the job),
inputs staged, RUNNING with its output shipped to CloudWatch Logs, results uploaded, and a terminal
status with the reason it failed. It writes back through the ``JobStore`` protocol only, so it never
sees how records are kept.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import botocore.session
import requests

from covalent_braket_plugin.local import base_image
from covalent_braket_plugin.local.base_image import MissingPrerequisiteError
from covalent_braket_plugin.local.braket_images import BraketImages
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.jobs import instances, orphans
from covalent_braket_plugin.local.jobs.contract import (
    JobError,
    JobLayout,
    JobPaths,
    Runner,
    failure_reason,
    job_environment,
    job_region,
    max_runtime_s,
    publish_outputs,
    stage_inputs,
    truncate_reason,
)
from covalent_braket_plugin.local.jobs.docker_runner import DockerRunner, is_braket_image
from covalent_braket_plugin.local.jobs.process_runner import ProcessRunner
from covalent_braket_plugin.local.services import LocalServices

logger = logging.getLogger(__name__)

RUNNER_CHOICES = ("auto", "docker", "process")
OUTPUT_DRAIN_TIMEOUT_S = 30.0
"""How long to wait for the last output of a finished program before reporting the job."""
SHUTDOWN_TIMEOUT_S = 30.0


def _braket_enum(shape: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("braket")
    return frozenset(model.shape_for(shape).enum)


JOB_EVENT_TYPES = _braket_enum("JobEventType")
"""The eventType values of GetJob's events (the botocore model's JobEventType)."""


class JobStore(Protocol):
    """Where job records live (the Braket backend); the manager reads and updates them through it."""

    def get_job(self, job_arn: str) -> dict[str, Any]:
        """The job record, in GetJob response shape."""

    def update_job(self, job_arn: str, **fields: Any) -> None:
        """Set fields of the record; a status change emits "Braket Job State Change"."""

    def add_job_event(self, job_arn: str, event_type: str, message: str) -> None:
        """Append to the record's events (eventType from the model's JobEventType)."""


def docker_client() -> Any | None:
    """A client of the local Docker engine if one answers, else None.

    Its timeout is the long one of image builds: creating a container copies the whole image on
    the vfs storage driver, which can take longer than docker-py's default minute.
    """
    try:
        return base_image.docker_client()
    except (MissingPrerequisiteError, requests.exceptions.RequestException):
        return None


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Outcome:
    status: str
    event_type: str
    message: str
    failure_reason: str | None = None
    started_at: datetime | None = None


def _cancelled(started_at: datetime | None = None) -> _Outcome:
    return _Outcome("CANCELLED", "CANCELLED", "The job was cancelled", started_at=started_at)


class _Run:
    """One submitted job: its thread, its programs once started, and whether it was cancelled."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.lock = threading.Lock()
        self.execution: instances.InstanceGroup | None = None
        self.finished = False
        self.thread: threading.Thread | None = None

    def attach(self, execution: instances.InstanceGroup, on_running: Callable[[], None]) -> bool:
        """Remember the started program and report it running; False when a cancel came first.

        Both happen under the lock ``cancel`` takes, so a job is never reported RUNNING after the
        backend set it CANCELLING.
        """
        with self.lock:
            if self.cancelled.is_set():
                return False
            self.execution = execution
            on_running()
            return True

    def cancel(self) -> bool:
        """Stop the job's work now; False when the job had already ended."""
        with self.lock:
            if self.finished:
                return False
            self.cancelled.set()
            if self.execution is not None:
                self.execution.kill()
            return True


class JobManager:
    """Runs submitted jobs, one thread each, with the process or the docker runner."""

    def __init__(
        self,
        services: LocalServices,
        faults: Faults,
        runner: str,
        work_dir: Path,
        registry_address: str | None,
        braket_images_state: Path | None = None,
    ) -> None:
        if runner not in RUNNER_CHOICES:
            raise ValueError(f"runner must be one of {', '.join(RUNNER_CHOICES)}, got {runner!r}")
        self._services = services
        self._faults = faults
        self._work_dir = Path(work_dir)
        self._store: JobStore | None = None
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._closed = False
        # A server killed before this one left job programs running: end them before any job starts.
        orphans.end_orphans(self._work_dir, docker_client)
        self._process = ProcessRunner()
        self._docker: DockerRunner | None = None
        self.braket_images: BraketImages | None = None
        """Braket's own job images, made by the stack when it runs containers and was asked to."""
        if runner != "process":
            client = docker_client()
            if client is None and runner == "docker":
                raise RuntimeError("the docker runner needs a Docker engine, and none answers")
            if client is not None:
                if braket_images_state is not None:  # where the stack says whether it made them
                    braket_images_state.unlink(missing_ok=True)
                    self.braket_images = BraketImages(client, registry_address, braket_images_state).start()
                self._docker = DockerRunner(client, registry_address, owner=uuid.uuid4().hex,
                                            braket=self.braket_images)

    @property
    def runner_name(self) -> str:
        """"docker" or "process": the runner of jobs with their own images ("auto" resolved)."""
        return self._docker.name if self._docker else self._process.name

    def bind_store(self, store: JobStore) -> None:
        self._store = store

    def _require_store(self) -> JobStore:
        if self._store is None:
            raise RuntimeError("JobManager.bind_store() must be called before jobs are submitted")
        return self._store

    def submit(self, job: Mapping[str, Any], job_token: str) -> None:
        """Start running ``job`` (a GetJob-shaped record in status QUEUED) on a thread of its own."""
        self._require_store()
        run = _Run()
        with self._lock:
            if self._closed:
                raise RuntimeError("the job manager is shut down")
            self._runs[job["jobArn"]] = run
        run.thread = threading.Thread(
            target=self._run_job, args=(dict(job), job_token, run), name=f"job {job['jobName']}", daemon=True
        )
        run.thread.start()

    def cancel(self, job_arn: str) -> None:
        """Stop the job's work; its thread reports CANCELLED once the program is gone.

        A job this manager no longer runs (it ended meanwhile, or the stack restarted) is set
        CANCELLED here if the backend left it CANCELLING.
        """
        with self._lock:
            run = self._runs.get(job_arn)
        if run is not None and run.cancel():
            return
        store = self._require_store()
        if store.get_job(job_arn).get("status") == "CANCELLING":
            self._event(job_arn, "CANCELLED", "The job was cancelled")
            store.update_job(job_arn, status="CANCELLED", endedAt=_now())

    def shutdown(self) -> None:
        """Cancel every job still running and wait until its process or container is gone."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
        for run in runs:
            run.cancel()
        for run in runs:
            if run.thread is not None:
                run.thread.join(SHUTDOWN_TIMEOUT_S)
        if self._docker is not None:
            self._docker.remove_all()

    def _event(self, job_arn: str, event_type: str, message: str) -> None:
        if event_type not in JOB_EVENT_TYPES:
            raise ValueError(f"{event_type!r} is not a Braket job event type")
        self._require_store().add_job_event(job_arn, event_type, message)

    def _runner_for(self, job: Mapping[str, Any]) -> Runner:
        """Docker for jobs with an image of their own, and for Braket's own images when the stack
        makes them; without them, Braket's images' script-mode jobs run on the process runner, which
        plays their part."""
        uri = ((job.get("algorithmSpecification") or {}).get("containerImage") or {}).get("uri")
        if self._docker is None or not uri or (is_braket_image(uri) and self.braket_images is None):
            return self._process
        return self._docker

    def _run_job(self, job: dict[str, Any], job_token: str, run: _Run) -> None:
        arn = job["jobArn"]
        try:
            outcome = self._execute(job, job_token, run)
        except JobError as exc:
            outcome = _Outcome("FAILED", "FAILED", "The job failed", truncate_reason(str(exc)))
        except Exception as exc:
            logger.exception("job %s failed in the local stack", arn)
            reason = truncate_reason(f"InternalError: {type(exc).__name__}: {exc}")
            outcome = _Outcome("FAILED", "FAILED", "The job failed", reason)
        try:
            self._finish(arn, run, outcome)
        except Exception:
            logger.exception("could not record the end of job %s", arn)
        finally:
            with self._lock:
                self._runs.pop(arn, None)

    def _execute(self, job: dict[str, Any], job_token: str, run: _Run) -> _Outcome:
        arn = job["jobArn"]
        store = self._require_store()
        if run.cancelled.wait(self._faults.settings.hold_jobs_s):
            return _cancelled()
        runner = self._runner_for(job)
        instance = (job.get("instanceConfig") or {}).get("instanceType", "an instance")
        self._event(arn, "STARTING_INSTANCE", f"Starting {instance} with the local {runner.name} runner")
        layout = JobLayout.create(self._work_dir, job)
        region = job_region(arn)
        s3 = self._services.client("s3", region)
        layouts = {host: instances.layout(layout, host) for host in instances.hosts(job)}
        self._event(arn, "DOWNLOADING_DATA", "Downloading input data and checkpoints")
        for host, host_layout in layouts.items():
            stage_inputs(s3, job, host_layout)
            instances.write_resource_config(job, host_layout, host)
        if run.cancelled.is_set():
            return _cancelled()
        services_env = self._services.environment()
        logs = self._services.client("logs", region)
        limit_s = max_runtime_s(job)
        group = instances.InstanceGroup()
        records: list[Path] = []
        try:
            for host, host_layout in layouts.items():
                on_host = runner is self._process
                paths = JobPaths.on_host(host_layout) if on_host else JobPaths.in_container(job)
                env = job_environment(job, job_token, paths, services_env)
                execution = group.start(runner, job, host, host_layout, env, logs).execution
                records.append(orphans.record(self._work_dir, instances.record_name(arn, host), execution))
            started_at = _now()

            def report_running() -> None:
                store.update_job(arn, status="RUNNING", startedAt=started_at)
                self._event(arn, "RUNNING", "The job is running")

            if not run.attach(group, report_running):
                return _cancelled()
            timed_out = group.wait(limit_s) is None
            # The job ends with its programs, as a container stops with its main process: whatever
            # they left running (and holding their output open) goes too, and so do the other
            # instances once one failed.
            group.kill()
            group.drain(OUTPUT_DRAIN_TIMEOUT_S)
        finally:
            group.close()
            for record in records:
                record.unlink(missing_ok=True)
        if run.cancelled.is_set():
            return _cancelled(started_at)
        ending = group.reporting()
        outcome = self._outcome(ending.layout, ending.exit_code, limit_s if timed_out else None, started_at)
        group.gather_outputs()
        self._event(arn, "UPLOADING_RESULTS", "Uploading results and checkpoints")
        try:
            publish_outputs(s3, job, layout, completed=outcome.status == "COMPLETED")
        except JobError as exc:
            if outcome.status == "COMPLETED":
                reason = truncate_reason(str(exc))
                outcome = _Outcome("FAILED", "FAILED", "The job failed", reason, started_at)
            else:  # the program's own failure is the better reason
                logger.warning("job %s: %s", arn, exc)
        if timed_out:
            self._event(arn, "MAX_RUNTIME_EXCEEDED", f"The job ran longer than {limit_s} s")
        return outcome

    @staticmethod
    def _outcome(
        layout: JobLayout, exit_code: int | None, limit_s: int | None, started_at: datetime
    ) -> _Outcome:
        """How a program that ran ended: stopped at ``limit_s``, failed, or completed."""
        if limit_s is not None:
            reason = (
                f"The job exceeded its time limit: stoppingCondition.maxRuntimeInSeconds is {limit_s} s "
                "and the job was stopped"
            )
            return _Outcome("FAILED", "FAILED", "The job was stopped at its time limit", reason, started_at)
        failure = layout.read_failure()
        if exit_code != 0 or failure:
            reason = failure_reason(failure, exit_code)
            return _Outcome("FAILED", "FAILED", "The job's program failed", reason, started_at)
        return _Outcome("COMPLETED", "COMPLETED", "The job completed", started_at=started_at)

    def _finish(self, job_arn: str, run: _Run, outcome: _Outcome) -> None:
        """Record the terminal status; a cancel that arrived before this point wins."""
        store = self._require_store()
        with run.lock:
            run.finished = True
            if run.cancelled.is_set() and outcome.status != "CANCELLED":
                outcome = _cancelled(outcome.started_at)
            ended_at = _now()
            fields: dict[str, Any] = {"status": outcome.status, "endedAt": ended_at}
            if outcome.started_at is not None:
                fields["billableDuration"] = int((ended_at - outcome.started_at).total_seconds() * 1000)
            if outcome.failure_reason:
                fields["failureReason"] = outcome.failure_reason
            self._event(job_arn, outcome.event_type, outcome.message)
            store.update_job(job_arn, **fields)
