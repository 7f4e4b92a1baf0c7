"""Hybrid jobs: their records, the operations on them, and the ``JobStore`` of the job manager.

The records live here and the job manager (``local/jobs/manager.py``) runs the jobs: CreateJob
hands it a snapshot of the record and the job's token, CancelJob asks it to stop the job, and it
reads and updates the record through ``get_job`` / ``update_job`` / ``add_job_event``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import ClientError

from covalent_braket_plugin.local.braket_api.devices import DEVICES
from covalent_braket_plugin.local.braket_api.errors import conflict, internal, retired, validation
from covalent_braket_plugin.local.braket_api.record_search import Record, Records, filters_of, search_page
from covalent_braket_plugin.local.braket_api.reservations import check_associations
from covalent_braket_plugin.local.braket_api.resource_model import ResourceModel, now

JOB_TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
MAX_JOB_EVENTS = 20  # JobEvents list max in the model
_RECORDED = (
    "jobName",
    "roleArn",
    "algorithmSpecification",
    "inputDataConfig",
    "outputDataConfig",
    "checkpointConfig",
    "instanceConfig",
    "deviceConfig",
    "hyperParameters",
    "stoppingCondition",
    "associations",
)
"""The CreateJob members a job record keeps, as GetJob returns them."""


class JobManagerLike(Protocol):
    """What the backend asks of the job manager (``local/jobs/manager.py``): start and stop jobs."""

    def submit(self, job: dict[str, Any], job_token: str) -> None: ...

    def cancel(self, job_arn: str) -> None: ...


class HybridJobModel(ResourceModel):
    """Hybrid jobs. Their tasks are the quantum task model's, composed beside this one: CreateJob
    takes a job token from its ``_issue_job_token`` and CancelJob cancels the job's waiting tasks
    through its ``_cancel_waiting_tasks``."""

    def __init__(self, job_manager: JobManagerLike | None) -> None:
        self.job_manager = job_manager
        self._jobs = Records("Hybrid job")
        self._job_names: dict[str, str] = {}
        self.taggable.append(self._jobs)

    def create_job(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        earlier = self._created_for("job", params["clientToken"])
        if earlier is not None:
            return {"jobArn": earlier}
        device = params["deviceConfig"]["device"]
        if not device.startswith("local:") and device not in DEVICES:
            raise validation(
                f"Device {device} does not exist; use a Braket device ARN or local:<provider>/<sim>"
            )
        if device in DEVICES and DEVICES[device].is_retired:
            raise retired(device)
        check_associations(params.get("associations"), DEVICES.get(device))
        self._check_role(params["roleArn"])
        with self._lock:
            earlier = self._created_for("job", params["clientToken"])
            if earlier is not None:
                return {"jobArn": earlier}
            if params["jobName"] in self._job_names:
                raise conflict(
                    f"A hybrid job named {params['jobName']} already exists: "
                    f"{self._job_names[params['jobName']]}"
                )
            arn = self._arn(region, "job")
            record: Record = {name: copy.deepcopy(params[name]) for name in _RECORDED if name in params}
            record.update(
                {
                    "jobArn": arn,
                    "status": "QUEUED",
                    "createdAt": self._created_at(),
                    "events": [],
                    "tags": dict(params.get("tags", {})),
                }
            )
            self._jobs.add(arn, record)
            self._remember_token("job", params["clientToken"], arn)
            self._job_names[params["jobName"]] = arn
            token = self._issue_job_token(arn)
            self.add_job_event(arn, "QUEUED_FOR_EXECUTION", "Job queued for execution.")
            self.events.job_changed(record)
            snapshot = copy.deepcopy(record)
        if self.job_manager is not None:
            try:
                self.job_manager.submit(snapshot, token)
            except Exception as exc:
                self.update_job(
                    arn, status="FAILED", failureReason=f"ServiceError: {exc}"[:1024], endedAt=now()
                )
        return {"jobArn": arn}

    def _check_role(self, role_arn: str) -> None:
        if self.services is None:
            return
        name = role_arn.rsplit("/", 1)[-1]
        try:
            self.services.client("iam").get_role(RoleName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                raise validation(f"The role {role_arn} does not exist or Braket cannot assume it") from None
            raise internal(f"Could not look up role {role_arn}") from exc

    def get_job(self, params_or_arn: dict[str, Any] | str, region: str | None = None) -> dict[str, Any]:
        """GetJob (``params`` dict) and ``JobStore.get_job`` (an ARN): the job record, a copy."""
        params = {"jobArn": params_or_arn} if isinstance(params_or_arn, str) else params_or_arn
        with self._lock:
            record = copy.deepcopy(self._jobs.existing(params["jobArn"]))
            if "QueueInfo" in params.get("additionalAttributeNames", []):
                if record["status"] == "QUEUED":
                    waiting = [a for a, j in self._jobs.by_arn.items() if j["status"] == "QUEUED"]
                    record["queueInfo"] = {
                        "queue": "JOBS_QUEUE",
                        "position": str(waiting.index(record["jobArn"]) + 1),
                    }
                else:
                    record["queueInfo"] = {
                        "queue": "JOBS_QUEUE",
                        "position": "None",
                        "message": f"Job is in {record['status']} status. AmazonBraket does not show queue "
                        "position for this status.",
                    }
            return record

    def update_job(self, job_arn: str, **fields: Any) -> None:
        """``JobStore``: change a job record; a status change sends a "Braket Job State Change" event.

        A job that reached COMPLETED, FAILED or CANCELLED keeps that status.
        """
        with self._lock:
            record = self._jobs.existing(job_arn)
            status = fields.pop("status", None)
            record.update(copy.deepcopy(fields))
            if status and status != record["status"] and record["status"] not in JOB_TERMINAL:
                record["status"] = status
                self.events.job_changed(record)

    def add_job_event(self, job_arn: str, event_type: str, message: str) -> None:
        """``JobStore``: append to the job's events (the model keeps at most 20: the latest ones)."""
        with self._lock:
            events = self._jobs.existing(job_arn)["events"]
            events.append({"eventType": event_type, "timeOfEvent": now(), "message": message[:2500]})
            del events[:-MAX_JOB_EVENTS]

    def cancel_job(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        arn = params["jobArn"]
        with self._lock:
            record = self._jobs.existing(arn)
            if record["status"] in JOB_TERMINAL:
                raise conflict(f"Hybrid job {arn} is already {record['status']} and cannot be cancelled")
            first = record["status"] != "CANCELLING"
            if first:
                self.update_job(arn, status="CANCELLING")
        if first:
            if self.job_manager is not None:
                self.job_manager.cancel(arn)
            else:
                self.update_job(arn, status="CANCELLED", endedAt=now())
                self.add_job_event(arn, "CANCELLED", "Job cancelled.")
            self._cancel_waiting_tasks(arn)
        return {"jobArn": arn, "cancellationStatus": "CANCELLING"}

    @staticmethod
    def _job_summary(record: Record) -> Record:
        summary = {
            k: record.get(k)
            for k in ("status", "jobArn", "jobName", "createdAt", "startedAt", "endedAt", "tags")
        }
        summary["device"] = record["deviceConfig"]["device"]
        return summary

    def search_jobs(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        fields: dict[str, Callable[[Record], Any]] = {
            name: (lambda r, n=name: r.get(n)) for name in ("jobArn", "jobName", "status", "createdAt")
        }
        fields["device"] = lambda r: r["deviceConfig"]["device"]
        filters = filters_of(params, fields, frozenset({"createdAt"}))
        with self._lock:
            items, token = search_page(self._jobs, filters, params, self._job_summary)
        return {"jobs": items, "nextToken": token}
