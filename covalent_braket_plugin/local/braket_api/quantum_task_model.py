"""Quantum tasks: CreateQuantumTask's checks, the task records the runner moves on, and queues.

A request is checked as AWS checks it before a task exists (device, action, shots, bucket, job
token, spending limit), so a refused task leaves nothing behind. The record is then handed to the
``TaskRunner``, which moves it through ``transition_task``: the one place a task changes status,
so its events, its device's queue and its spending limit's spend follow every change.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.local.braket_api.devices import (
    DEVICES,
    OPENQASM,
    PROGRAM_SET,
    Device,
    program_set_limits,
    requires_all_qubits_measured,
    supported_actions,
)
from covalent_braket_plugin.local.braket_api.errors import conflict, internal, retired, validation
from covalent_braket_plugin.local.braket_api.programs import (
    action_kind,
    executable_inputs,
    measures_every_qubit,
    parse_program,
)
from covalent_braket_plugin.local.braket_api.record_search import Record, Records, filters_of, search_page
from covalent_braket_plugin.local.braket_api.reservations import check_associations
from covalent_braket_plugin.local.braket_api.resource_model import ResourceModel
from covalent_braket_plugin.local.braket_api.task_runner import ACTIVE, TERMINAL, TaskRunner
from covalent_braket_plugin.local.faults import Faults

_WAITING = frozenset({"CREATED", "QUEUED"})


class QuantumTaskModel(ResourceModel):
    """Quantum tasks, and the job tokens that tie a hybrid job's tasks to it.

    A QPU task is checked against, and counted in, its device's spending limit through the spending
    limit model's ``_check_spend``, ``_count_spend`` and ``_move_spend``, composed beside this one.
    """

    def __init__(self, faults: Faults, workers: int | None) -> None:
        self.runner = TaskRunner(self, self.services, faults, workers=workers)
        self._tasks = Records("Quantum task")
        self._queued: dict[str, dict[str, None]] = {}  # device ARN -> QUEUED task ARNs, oldest first
        self._job_tokens: dict[str, str] = {}  # job token -> the hybrid job's ARN
        self.taggable.append(self._tasks)

    def _issue_job_token(self, job_arn: str) -> str:
        """A new token for the tasks of the hybrid job ``job_arn`` to name it by (``jobToken``)."""
        token = secrets.token_urlsafe(48)
        self._job_tokens[token] = job_arn
        return token

    def create_quantum_task(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        device = DEVICES.get(params["deviceArn"])
        if device is None:
            raise validation(f"Device {params['deviceArn']} does not exist or is not available")
        if device.is_retired:
            raise retired(device.arn)
        earlier = self._created_for("task", params["clientToken"])
        if earlier is not None:
            return {"quantumTaskArn": earlier}
        check_associations(params.get("associations"), device)
        try:
            action = json.loads(params["action"])
            if not isinstance(action, dict):
                raise ValueError("the action must be a JSON object")
            program = parse_program(action)
        except ValueError as exc:
            raise validation(f"Invalid action: {exc}") from None
        kind = action_kind(action)
        supported = supported_actions(device.arn)
        if kind not in supported:
            raise validation(
                f"Device {device.arn} does not support action {kind}; "
                f"it supports {', '.join(sorted(supported))}"
            )
        if kind == PROGRAM_SET:
            openqasm = [(p.source, executable_inputs(p, 0)) for p in program.programs]
        else:
            openqasm = [(program.source, program.inputs)] if kind == OPENQASM else []
        if requires_all_qubits_measured(device.arn) and not all(
            measures_every_qubit(source, inputs) for source, inputs in openqasm
        ):
            raise validation(
                "Device requires all qubits in the program to be measured. This may be caused by "
                "declaring non-contiguous qubits or measuring partial qubits"
            )
        shots = params["shots"]
        action_metadata: dict[str, Any] = {"actionType": kind, "programCount": len(openqasm) or 1}
        if kind == PROGRAM_SET:
            self._check_program_set(program, shots, device)
            action_metadata["executableCount"] = program.num_executables
        low = 1 if device.is_qpu else 0
        if not low <= shots <= device.max_shots:
            raise validation(
                f"Shots {shots} out of range for {device.arn}: allowed {low} to {device.max_shots}"
            )
        self._check_bucket(params["outputS3Bucket"])
        job_arn = None
        if "jobToken" in params:
            with self._lock:
                job_arn = self._job_tokens.get(params["jobToken"])
            if job_arn is None:
                raise validation("The jobToken does not belong to any hybrid job")
        task_region = device.region or region
        with self._lock:
            earlier = self._created_for("task", params["clientToken"])
            if earlier is not None:
                return {"quantumTaskArn": earlier}
            cost = self._check_spend(device, shots) if device.is_qpu else None
            arn = self._arn(task_region, "quantum-task")
            task_id = arn.rsplit("/", 1)[1]
            record: Record = {
                "quantumTaskArn": arn,
                "status": "CREATED",
                "deviceArn": device.arn,
                "deviceParameters": params.get("deviceParameters", "{}"),
                "shots": shots,
                "outputS3Bucket": params["outputS3Bucket"],
                "outputS3Directory": f"{params['outputS3KeyPrefix'].rstrip('/')}/{task_id}",
                "createdAt": self._created_at(),
                "tags": dict(params.get("tags", {})),
                "jobArn": job_arn,
                "associations": params.get("associations"),
                "experimentalCapabilities": params.get("experimentalCapabilities"),
                "actionMetadata": action_metadata,
                "_cost": cost,
                "_region": task_region,
            }
            self._tasks.add(arn, record)
            self._remember_token("task", params["clientToken"], arn)
            if device.is_qpu:
                self._count_spend(record)
            self.events.task_changed(record, "INSERT")
            snapshot = dict(record)
        self.runner.submit(snapshot, device, action)
        return {"quantumTaskArn": arn}

    @staticmethod
    def _check_program_set(program_set: Any, shots: int, device: Device) -> None:
        """The limits the device's program set action states, and shots that split evenly."""
        limits = program_set_limits(device.arn)
        count = program_set.num_executables
        if count > limits["maximumExecutables"]:
            raise validation(
                f"The program set has {count} executables; {device.name} runs at most "
                f"{limits['maximumExecutables']} in one quantum task"
            )
        if shots > limits["maximumTotalShots"] or shots % count:
            raise validation(
                f"Shots {shots} must be a multiple of the program set's {count} executables and at "
                f"most {limits['maximumTotalShots']} on {device.name}"
            )

    def _check_bucket(self, bucket: str) -> None:
        if self.services is None:
            return
        try:
            self.services.client("s3").head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "403", "AccessDenied"):
                raise validation(
                    f"Caller doesn't have access to s3://{bucket} or it doesn't exist."
                ) from None
            raise internal(f"Could not reach S3 to check bucket {bucket}") from exc

    def transition_task(self, task_arn: str, expected: frozenset[str], status: str, **fields: Any) -> bool:
        """``TaskStore`` for the runner: move a task on if it is in ``expected`` and send the event."""
        with self._lock:
            record = self._tasks.by_arn.get(task_arn)
            if record is None or record["status"] not in expected:
                return False
            previous = record["status"]
            record["status"] = status
            record.update({k: v for k, v in fields.items() if v is not None})
            self._move_spend(record, previous, status)
            queue = self._queued.setdefault(record["deviceArn"], {})
            if status == "QUEUED":
                queue[task_arn] = None
            elif previous == "QUEUED":
                queue.pop(task_arn, None)
            self.events.task_changed(record, "MODIFY")
            return True

    def _cancel_waiting_tasks(self, job_arn: str) -> None:
        """Cancel the job's tasks still CREATED or QUEUED, as AWS's CancelJob does (best effort);
        running ones finish, as they may on AWS."""
        with self._lock:
            waiting = [
                arn
                for arn, task in self._tasks.by_arn.items()
                if task.get("jobArn") == job_arn
                and task["status"] in _WAITING
                and self.transition_task(arn, _WAITING, "CANCELLING")
            ]
        for arn in waiting:
            self.runner.cancel(arn)

    def get_quantum_task(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            record = self._tasks.existing(params["quantumTaskArn"])
            result = {k: v for k, v in record.items() if not k.startswith("_")}
            if "QueueInfo" in params.get("additionalAttributeNames", []):
                priority = "Priority" if record.get("jobArn") else "Normal"
                info: dict[str, Any] = {"queue": "QUANTUM_TASKS_QUEUE", "queuePriority": priority}
                if record["status"] == "QUEUED":
                    waiting = list(self._queued.get(record["deviceArn"], {}))
                    info["position"] = str(waiting.index(record["quantumTaskArn"]) + 1)
                else:
                    info["position"] = "None"
                    info["message"] = (
                        f"Task is in {record['status']} status. AmazonBraket does not show "
                        "queue position for this status."
                    )
                result["queueInfo"] = info
            return result

    def cancel_quantum_task(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        arn = params["quantumTaskArn"]
        with self._lock:
            record = self._tasks.existing(arn)
            if record["status"] in TERMINAL:
                raise conflict(
                    f"Amazon Braket cannot cancel a quantum task in the {record['status']} status."
                )
            if record["status"] != "CANCELLING":
                self.transition_task(arn, ACTIVE, "CANCELLING")
        self.runner.cancel(arn)
        with self._lock:
            return {"quantumTaskArn": arn, "cancellationStatus": self._tasks.existing(arn)["status"]}

    @staticmethod
    def _task_summary(record: Record) -> Record:
        return {
            k: record.get(k)
            for k in (
                "quantumTaskArn",
                "status",
                "deviceArn",
                "shots",
                "outputS3Bucket",
                "outputS3Directory",
                "createdAt",
                "endedAt",
                "tags",
            )
        }

    def search_quantum_tasks(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        fields: dict[str, Callable[[Record], Any]] = {
            name: (lambda r, n=name: r.get(n))
            for name in ("quantumTaskArn", "deviceArn", "jobArn", "status", "createdAt")
        }
        filters = filters_of(params, fields, frozenset({"createdAt"}))
        with self._lock:
            items, token = search_page(self._tasks, filters, params, self._task_summary)
        return {"quantumTasks": items, "nextToken": token}
