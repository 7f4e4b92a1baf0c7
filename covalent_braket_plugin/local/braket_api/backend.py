"""State of the local Braket API: quantum tasks, hybrid jobs, spending limits, tags and devices.

One ``BraketBackend`` per stack. Its operation methods take the validated request members of the
botocore model (``params``) and the region the request was signed for, and return the response
members; ``responses.py`` does the HTTP. It is also the ``JobStore`` of the job manager: the
manager reads and updates job records through ``get_job`` / ``update_job`` / ``add_job_event``.
"""

from __future__ import annotations

import base64
import bisect
import copy
import hashlib
import json
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError

from covalent_braket_plugin.local.braket_api.devices import (
    DEVICES,
    OPENQASM,
    PROGRAM_SET,
    Device,
    get_device_document,
    program_set_limits,
    requires_all_qubits_measured,
    supported_actions,
)
from covalent_braket_plugin.local.braket_api.errors import (
    conflict,
    internal,
    not_found,
    quota_exceeded,
    retired,
    validation,
)
from covalent_braket_plugin.local.braket_api.events import EventPublisher
from covalent_braket_plugin.local.braket_api.programs import (
    action_kind,
    executable_inputs,
    measures_every_qubit,
    parse_program,
)
from covalent_braket_plugin.local.braket_api.protocol import parse_timestamp
from covalent_braket_plugin.local.braket_api.pulse import native_gate_calibrations
from covalent_braket_plugin.local.braket_api.task_runner import ACTIVE, TERMINAL, TaskRunner
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.public_objects import PublicObjects
from covalent_braket_plugin.local.services import ACCOUNT_ID, DEFAULT_REGION, LocalServices
from covalent_braket_plugin.tasks.pricing import PriceTable

JOB_TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
DEFAULT_MAX_RESULTS = 100
MAX_JOB_EVENTS = 20  # JobEvents list max in the model
_NO_END = datetime(9999, 12, 31, tzinfo=UTC)
CALIBRATIONS_BUCKET = "amazon-braket-device-calibrations"
"""The stack's S3 bucket of pulse devices' native gate calibrations (linked from GetDevice)."""
# Which spend of a spending limit a QPU task counts in, by status; other statuses cost nothing.
_SPEND_STATE = {"CREATED": "queued", "QUEUED": "queued", "RUNNING": "queued", "COMPLETED": "total"}


class JobManagerLike(Protocol):
    """What the backend asks of the job manager (``local/jobs/manager.py``): start and stop jobs."""

    def submit(self, job: dict[str, Any], job_token: str) -> None: ...

    def cancel(self, job_arn: str) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


def _usd(amount: Decimal) -> str:
    return format(amount.quantize(Decimal("0.00001")).normalize(), "f")


class _Collection:
    """Records kept in creation order (createdAt never decreases), for stable, fast paging."""

    def __init__(self) -> None:
        self.by_arn: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.times: list[float] = []

    def add(self, arn: str, record: dict[str, Any]) -> None:
        self.by_arn[arn] = record
        self.order.append(arn)
        self.times.append(record["createdAt"].timestamp())

    def live(self, position: int) -> dict[str, Any] | None:
        return self.by_arn.get(self.order[position])


class _Filter:
    """One search filter: EQUAL (any of the values), LT/LTE/GT/GTE (one value), BETWEEN (two), CONTAINS."""

    def __init__(
        self,
        raw: dict[str, Any],
        fields: dict[str, Callable[[dict[str, Any]], Any]],
        time_fields: frozenset[str],
    ) -> None:
        self.name = raw["name"]
        self.operator = raw.get("operator", "EQUAL")
        if self.name not in fields:
            raise validation(f"Unsupported filter name '{self.name}'; use one of: {', '.join(fields)}")
        self.get = fields[self.name]
        self.is_time = self.name in time_fields
        values = list(raw["values"])
        expected = {"BETWEEN": 2, "LT": 1, "LTE": 1, "GT": 1, "GTE": 1}.get(self.operator)
        if expected is not None and len(values) != expected:
            raise validation(
                f"Filter '{self.name}' with operator {self.operator} takes exactly {expected} "
                f"value(s), got {len(values)}"
            )
        if self.is_time:
            try:
                self.values: list[Any] = [parse_timestamp(v) for v in values]
            except ValueError:
                raise validation(
                    f"Filter '{self.name}' values must be RFC 3339 date-times such as "
                    f"2024-01-31T12:00:00Z, got {values}"
                ) from None
            if self.operator == "CONTAINS":
                raise validation(f"Operator CONTAINS does not apply to '{self.name}'")
        else:
            self.values = values
        if self.operator == "BETWEEN" and self.values[0] > self.values[1]:
            raise validation(f"Filter '{self.name}' BETWEEN needs the lower bound first")

    def time_range(self) -> tuple[float, float, bool, bool]:
        """(low, high, low inclusive, high inclusive) this time filter allows."""
        ts = [v.timestamp() for v in self.values]
        op = self.operator
        if op == "BETWEEN":
            return ts[0], ts[1], True, True
        if op == "EQUAL":
            return min(ts), max(ts), True, True
        if op in ("GT", "GTE"):
            return ts[0], float("inf"), op == "GTE", True
        return float("-inf"), ts[0], True, op == "LTE"

    def __call__(self, record: dict[str, Any]) -> bool:
        value = self.get(record)
        if value is None:
            return False
        op, values = self.operator, self.values
        if op == "EQUAL":
            return value in values
        if op == "CONTAINS":
            return any(v in value for v in values)
        if op == "BETWEEN":
            return values[0] <= value <= values[1]
        bound = values[0]
        return {"LT": value < bound, "LTE": value <= bound, "GT": value > bound, "GTE": value >= bound}[op]


class BraketBackend:
    """Thread-safe state and behaviour of the Braket API of the local stack."""

    def __init__(
        self,
        services: LocalServices | None,
        faults: Faults | None = None,
        job_manager: JobManagerLike | None = None,
        prices: PriceTable | None = None,
        workers: int | None = None,
        public: PublicObjects | None = None,
    ) -> None:
        self.services = services
        self.public = public or PublicObjects()
        self.faults = faults or Faults()
        self.job_manager = job_manager
        self.prices = prices or PriceTable.load()
        self.account_id = services.account_id if services else ACCOUNT_ID
        self.default_region = services.region if services else DEFAULT_REGION
        self.events = EventPublisher(services)
        self.runner = TaskRunner(self, services, self.faults, workers=workers)
        self._lock = threading.RLock()
        self._tasks = _Collection()
        self._jobs = _Collection()
        self._limits = _Collection()
        self._client_tokens: dict[tuple[str, str], str] = {}
        self._job_tokens: dict[str, str] = {}
        self._job_names: dict[str, str] = {}
        self._queued: dict[str, dict[str, None]] = {}  # device ARN -> QUEUED task ARNs, oldest first
        self._qpu_tasks: dict[str, list[str]] = {}  # device ARN -> its task ARNs (spend accounting)
        self._last_created = datetime.min.replace(tzinfo=UTC)
        self._devices: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- helpers
    def _created_at(self) -> datetime:
        """Now, but never before the previous record: creation order is createdAt order."""
        moment = max(_now(), self._last_created)
        self._last_created = moment
        return moment

    def _arn(self, region: str, kind: str) -> str:
        return f"arn:aws:braket:{region}:{self.account_id}:{kind}/{uuid.uuid4()}"

    def shutdown(self) -> None:
        """Stop the task workers and send the events still queued."""
        self.runner.shutdown()
        self.events.flush()

    # ---------------------------------------------------------------- devices
    def _device(self, arn: str) -> Device:
        device = DEVICES.get(arn)
        if device is None:
            raise not_found(f"Braket device {arn} not found")
        return device

    def get_device(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        device = self._device(params["deviceArn"])
        with self._lock:
            if device.arn not in self._devices:
                url = self._publish_calibrations(device) if device.has_pulse else None
                self._devices[device.arn] = get_device_document(device, url)
            return dict(self._devices[device.arn])

    def _publish_calibrations(self, device: Device) -> str | None:
        """Put the device's native gate calibrations in the stack's S3, make that object public and
        return its URL.

        AWS links them as a URL the SDK downloads without credentials; here it is the object's
        path-style S3 URL on the stack's endpoint. Public takes two grants: the object's ACL lets
        anyone read it, as S3 (and moto) require of an unsigned read, and the gateway, which refuses
        every other unsigned request, lets unsigned reads of this object through.
        """
        if self.services is None:
            return None
        key = f"{device.provider}/{device.name}/native-gate-calibrations.json"
        document = native_gate_calibrations(device.qubit_count, device.connectivity)
        s3 = self.services.client("s3")
        try:
            if self.default_region == "us-east-1":
                s3.create_bucket(Bucket=CALIBRATIONS_BUCKET)
            else:
                s3.create_bucket(
                    Bucket=CALIBRATIONS_BUCKET,
                    CreateBucketConfiguration={"LocationConstraint": self.default_region},
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        s3.put_object(
            Bucket=CALIBRATIONS_BUCKET,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
            ACL="public-read",
        )
        self.public.publish(CALIBRATIONS_BUCKET, key)
        return f"{self.services.endpoint_url.rstrip('/')}/{CALIBRATIONS_BUCKET}/{key}"

    def search_devices(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        fields = {
            "deviceArn": lambda d: d["deviceArn"],
            "deviceName": lambda d: d["deviceName"],
            "providerName": lambda d: d["providerName"],
            "deviceType": lambda d: d["deviceType"],
            "deviceStatus": lambda d: d["deviceStatus"],
        }
        filters = [_Filter(f, fields, frozenset()) for f in params.get("filters", [])]
        summaries = [d.summary() for d in DEVICES.values()]
        coll = _Collection()
        for s in summaries:
            coll.add(s["deviceArn"], {**s, "createdAt": datetime.fromtimestamp(0, UTC)})
        items, token = self._page(coll, filters, params, "devices", lambda r: {k: r[k] for k in summaries[0]})
        return {"devices": items, "nextToken": token}

    # ---------------------------------------------------------------- paging
    def _page(
        self,
        coll: _Collection,
        filters: list[_Filter],
        params: dict[str, Any],
        kind: str,
        summary: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], str | None]:
        limit = params.get("maxResults", DEFAULT_MAX_RESULTS)
        fingerprint = hashlib.sha256(
            json.dumps([kind, params.get("filters", [])], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        start = self._decode_token(params.get("nextToken"), fingerprint)
        low, high = 0, len(coll.order)
        for f in filters:
            if f.is_time and f.name == "createdAt":
                lo_t, hi_t, lo_inc, hi_inc = f.time_range()
                low = max(low, (bisect.bisect_left if lo_inc else bisect.bisect_right)(coll.times, lo_t))
                high = min(high, (bisect.bisect_right if hi_inc else bisect.bisect_left)(coll.times, hi_t))
        items: list[dict[str, Any]] = []
        position = max(start, low)
        while position < high:
            record = coll.live(position)
            if record is not None and all(f(record) for f in filters):
                if len(items) == limit:
                    return items, self._encode_token(position, fingerprint)
                items.append(summary(record))
            position += 1
        return items, None

    @staticmethod
    def _encode_token(position: int, fingerprint: str) -> str:
        raw = json.dumps({"p": position, "f": fingerprint}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode_token(token: str | None, fingerprint: str) -> int:
        if token is None:
            return 0
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            position = data["p"]
            if data["f"] != fingerprint or not isinstance(position, int) or position < 0:
                raise ValueError
            return position
        except Exception:
            raise validation(
                "The nextToken is not valid for this request; repeat the request with the "
                "same filters and the token the previous page returned"
            ) from None

    # ---------------------------------------------------------------- quantum tasks
    def create_quantum_task(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        device = DEVICES.get(params["deviceArn"])
        if device is None:
            raise validation(f"Device {params['deviceArn']} does not exist or is not available")
        if device.is_retired:
            raise retired(device.arn)
        key = ("task", params["clientToken"])
        with self._lock:
            if key in self._client_tokens:
                return {"quantumTaskArn": self._client_tokens[key]}
        self._check_associations(params.get("associations"), device)
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
            if key in self._client_tokens:
                return {"quantumTaskArn": self._client_tokens[key]}
            cost = self._check_spend(device, shots, task_region) if device.is_qpu else None
            arn = self._arn(task_region, "quantum-task")
            task_id = arn.rsplit("/", 1)[1]
            record: dict[str, Any] = {
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
            self._client_tokens[key] = arn
            if device.is_qpu:
                self._qpu_tasks.setdefault(device.arn, []).append(arn)
                self._move_spend(record, None, "CREATED")
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

    @staticmethod
    def _check_associations(associations: list[dict[str, Any]] | None, device: Device | None) -> None:
        """Braket Direct reservations: none exist on the stack (they are bought, not created through
        the API), so every reservation ARN is invalid; simulators take none at all, as on AWS."""
        for association in associations or []:
            if association.get("type") != "RESERVATION_TIME_WINDOW_ARN":
                continue
            if device is not None and not device.is_qpu:
                raise validation(f"Braket Direct is not supported for {device.name}.")
            raise validation(f"Reservation arn is invalid: {association.get('arn')}")

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

    def _task(self, arn: str) -> dict[str, Any]:
        record = self._tasks.by_arn.get(arn)
        if record is None:
            raise not_found(f"Quantum task {arn} not found")
        return record

    def get_quantum_task(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            record = self._task(params["quantumTaskArn"])
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
            record = self._task(arn)
            if record["status"] in TERMINAL:
                raise conflict(
                    f"Amazon Braket cannot cancel a quantum task in the {record['status']} status."
                )
            if record["status"] != "CANCELLING":
                self.transition_task(arn, ACTIVE, "CANCELLING")
        self.runner.cancel(arn)
        with self._lock:
            return {"quantumTaskArn": arn, "cancellationStatus": self._task(arn)["status"]}

    @staticmethod
    def _task_summary(record: dict[str, Any]) -> dict[str, Any]:
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
        fields: dict[str, Callable[[dict[str, Any]], Any]] = {
            name: (lambda r, n=name: r.get(n))
            for name in ("quantumTaskArn", "deviceArn", "jobArn", "status", "createdAt")
        }
        filters = [_Filter(f, fields, frozenset({"createdAt"})) for f in params.get("filters", [])]
        with self._lock:
            items, token = self._page(self._tasks, filters, params, "tasks", self._task_summary)
        return {"quantumTasks": items, "nextToken": token}

    # ---------------------------------------------------------------- spending limits
    def _recount(self, limit: dict[str, Any]) -> None:
        """Sum a limit's queued and total spend from its device's tasks (when its period is set)."""
        start, end = self._period(limit)
        limit["_spend"] = {"queued": Decimal("0"), "total": Decimal("0")}
        for arn in self._qpu_tasks.get(limit["deviceArn"], []):
            task = self._tasks.by_arn[arn]
            state = _SPEND_STATE.get(task["status"])
            if state and task["_cost"] is not None and start <= task["createdAt"] <= end:
                limit["_spend"][state] += task["_cost"]

    def _move_spend(self, task: dict[str, Any], previous: str | None, status: str) -> None:
        """Keep the spend of the limits covering ``task`` current as it changes status (O(limits))."""
        cost = task.get("_cost")
        before, after = _SPEND_STATE.get(previous or ""), _SPEND_STATE.get(status)
        if cost is None or before == after:
            return
        for limit in self._limits.by_arn.values():
            start, end = self._period(limit)
            if limit["deviceArn"] == task["deviceArn"] and start <= task["createdAt"] <= end:
                if before:
                    limit["_spend"][before] -= cost
                if after:
                    limit["_spend"][after] += cost

    def _check_spend(self, device: Device, shots: int, region: str) -> Decimal | None:
        cost = self.prices.task_cost(device.arn, shots)
        now = _now()
        for limit in self._limits.by_arn.values():
            if limit["deviceArn"] != device.arn:
                continue
            start, end = self._period(limit)
            if not start <= now <= end:
                continue
            ceiling = Decimal(limit["spendingLimit"])
            if cost is None:
                raise validation(
                    f"Device {device.arn} has a spending limit but no known price, so the task "
                    "cannot be checked against it; add a price with COVALENT_BRAKET_PRICES"
                )
            if cost > ceiling:
                raise validation(
                    f"This quantum task costs ${_usd(cost)} ({shots} shots), more than the spending "
                    f"limit of ${limit['spendingLimit']} set for {device.arn}"
                )
            queued, total = limit["_spend"]["queued"], limit["_spend"]["total"]
            if queued + total + cost > ceiling:
                raise quota_exceeded(
                    f"Spending limit of ${limit['spendingLimit']} for {device.arn} would be exceeded: "
                    f"queued ${_usd(queued)} + completed ${_usd(total)} + this task ${_usd(cost)} "
                    f"({shots} shots); raise it with UpdateSpendingLimit or wait for its period to end."
                )
        return cost

    @staticmethod
    def _period(limit: dict[str, Any]) -> tuple[datetime, datetime]:
        period = limit.get("timePeriod") or {}
        return period.get("startAt", limit["createdAt"]), period.get("endAt", _NO_END)

    @staticmethod
    def _check_period(period: dict[str, Any] | None) -> None:
        if period and period["startAt"] >= period["endAt"]:
            raise validation("timePeriod.startAt must be before timePeriod.endAt")

    def create_spending_limit(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        device = DEVICES.get(params["deviceArn"])
        if device is None or not device.is_qpu:
            raise validation(
                f"Spending limits apply to QPUs only; {params['deviceArn']} is not a QPU this endpoint knows"
            )
        if device.is_retired:
            raise retired(device.arn)
        self._check_period(params.get("timePeriod"))
        key = ("limit", params["clientToken"])
        with self._lock:
            if key in self._client_tokens:
                return {"spendingLimitArn": self._client_tokens[key]}
            for limit in self._limits.by_arn.values():
                if limit["deviceArn"] == device.arn:
                    raise validation(
                        f"A spending limit for {device.arn} already exists: "
                        f"{limit['spendingLimitArn']}; change it with UpdateSpendingLimit"
                    )
            arn = self._arn(device.region or region, "spending-limit")
            created = self._created_at()
            self._limits.add(
                arn,
                {
                    "spendingLimitArn": arn,
                    "deviceArn": device.arn,
                    "spendingLimit": params["spendingLimit"],
                    "timePeriod": params.get("timePeriod"),
                    "createdAt": created,
                    "updatedAt": created,
                    "tags": dict(params.get("tags", {})),
                },
            )
            self._recount(self._limits.by_arn[arn])
            self._client_tokens[key] = arn
            return {"spendingLimitArn": arn}

    def _limit(self, arn: str) -> dict[str, Any]:
        record = self._limits.by_arn.get(arn)
        if record is None:
            raise not_found(f"Spending limit {arn} not found")
        return record

    def update_spending_limit(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        self._check_period(params.get("timePeriod"))
        with self._lock:
            record = self._limit(params["spendingLimitArn"])
            for name in ("spendingLimit", "timePeriod"):
                if name in params:
                    record[name] = params[name]
            if "timePeriod" in params:
                self._recount(record)
            record["updatedAt"] = _now()
        return {}

    def delete_spending_limit(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            self._limit(params["spendingLimitArn"])
            del self._limits.by_arn[params["spendingLimitArn"]]
        return {}

    def _limit_summary(self, record: dict[str, Any]) -> dict[str, Any]:
        start, end = self._period(record)
        return {
            **record,
            "timePeriod": {"startAt": start, "endAt": end},
            "queuedSpend": _usd(record["_spend"]["queued"]),
            "totalSpend": _usd(record["_spend"]["total"]),
        }

    def search_spending_limits(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        fields = {"deviceArn": lambda r: r["deviceArn"], "spendingLimitArn": lambda r: r["spendingLimitArn"]}
        filters = [_Filter(f, fields, frozenset()) for f in params.get("filters", [])]
        with self._lock:
            items, token = self._page(self._limits, filters, params, "limits", self._limit_summary)
        return {"spendingLimits": items, "nextToken": token}

    # ---------------------------------------------------------------- jobs
    def create_job(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        key = ("job", params["clientToken"])
        with self._lock:
            if key in self._client_tokens:
                return {"jobArn": self._client_tokens[key]}
        device = params["deviceConfig"]["device"]
        if not device.startswith("local:") and device not in DEVICES:
            raise validation(
                f"Device {device} does not exist; use a Braket device ARN or local:<provider>/<sim>"
            )
        if device in DEVICES and DEVICES[device].is_retired:
            raise retired(device)
        self._check_associations(params.get("associations"), DEVICES.get(device))
        self._check_role(params["roleArn"])
        with self._lock:
            if key in self._client_tokens:
                return {"jobArn": self._client_tokens[key]}
            if params["jobName"] in self._job_names:
                raise conflict(
                    f"A hybrid job named {params['jobName']} already exists: "
                    f"{self._job_names[params['jobName']]}"
                )
            arn = self._arn(region, "job")
            record: dict[str, Any] = {
                name: copy.deepcopy(params[name])
                for name in (
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
                if name in params
            }
            record.update(
                {
                    "jobArn": arn,
                    "status": "QUEUED",
                    "createdAt": self._created_at(),
                    "events": [],
                    "tags": dict(params.get("tags", {})),
                }
            )
            token = secrets.token_urlsafe(48)
            self._jobs.add(arn, record)
            self._client_tokens[key] = arn
            self._job_names[params["jobName"]] = arn
            self._job_tokens[token] = arn
            self.add_job_event(arn, "QUEUED_FOR_EXECUTION", "Job queued for execution.")
            self.events.job_changed(record)
            snapshot = copy.deepcopy(record)
        if self.job_manager is not None:
            try:
                self.job_manager.submit(snapshot, token)
            except Exception as exc:
                self.update_job(
                    arn, status="FAILED", failureReason=f"ServiceError: {exc}"[:1024], endedAt=_now()
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

    def _job(self, arn: str) -> dict[str, Any]:
        record = self._jobs.by_arn.get(arn)
        if record is None:
            raise not_found(f"Hybrid job {arn} not found")
        return record

    def get_job(self, params_or_arn: dict[str, Any] | str, region: str | None = None) -> dict[str, Any]:
        """GetJob (``params`` dict) and ``JobStore.get_job`` (an ARN): the job record, a copy."""
        params = {"jobArn": params_or_arn} if isinstance(params_or_arn, str) else params_or_arn
        with self._lock:
            record = copy.deepcopy(self._job(params["jobArn"]))
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
            record = self._job(job_arn)
            status = fields.pop("status", None)
            record.update(copy.deepcopy(fields))
            if status and status != record["status"] and record["status"] not in JOB_TERMINAL:
                record["status"] = status
                self.events.job_changed(record)

    def add_job_event(self, job_arn: str, event_type: str, message: str) -> None:
        """``JobStore``: append to the job's events (the model keeps at most 20: the latest ones)."""
        with self._lock:
            events = self._job(job_arn)["events"]
            events.append({"eventType": event_type, "timeOfEvent": _now(), "message": message[:2500]})
            del events[:-MAX_JOB_EVENTS]

    def cancel_job(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        arn = params["jobArn"]
        with self._lock:
            record = self._job(arn)
            if record["status"] in JOB_TERMINAL:
                raise conflict(f"Hybrid job {arn} is already {record['status']} and cannot be cancelled")
            first = record["status"] != "CANCELLING"
            if first:
                self.update_job(arn, status="CANCELLING")
        if first:
            if self.job_manager is not None:
                self.job_manager.cancel(arn)
            else:
                self.update_job(arn, status="CANCELLED", endedAt=_now())
                self.add_job_event(arn, "CANCELLED", "Job cancelled.")
            self._cancel_waiting_tasks(arn)
        return {"jobArn": arn, "cancellationStatus": "CANCELLING"}

    def _cancel_waiting_tasks(self, job_arn: str) -> None:
        """Cancel the job's tasks still CREATED or QUEUED, as AWS's CancelJob does (best effort);
        running ones finish, as they may on AWS."""
        with self._lock:
            waiting = [
                arn
                for arn, task in self._tasks.by_arn.items()
                if task.get("jobArn") == job_arn
                and task["status"] in ("CREATED", "QUEUED")
                and self.transition_task(arn, frozenset({"CREATED", "QUEUED"}), "CANCELLING")
            ]
        for arn in waiting:
            self.runner.cancel(arn)

    @staticmethod
    def _job_summary(record: dict[str, Any]) -> dict[str, Any]:
        summary = {
            k: record.get(k)
            for k in ("status", "jobArn", "jobName", "createdAt", "startedAt", "endedAt", "tags")
        }
        summary["device"] = record["deviceConfig"]["device"]
        return summary

    def search_jobs(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        fields: dict[str, Callable[[dict[str, Any]], Any]] = {
            name: (lambda r, n=name: r.get(n)) for name in ("jobArn", "jobName", "status", "createdAt")
        }
        fields["device"] = lambda r: r["deviceConfig"]["device"]
        filters = [_Filter(f, fields, frozenset({"createdAt"})) for f in params.get("filters", [])]
        with self._lock:
            items, token = self._page(self._jobs, filters, params, "jobs", self._job_summary)
        return {"jobs": items, "nextToken": token}

    # ---------------------------------------------------------------- tags
    def _tagged(self, arn: str) -> dict[str, Any]:
        if not arn.startswith("arn:aws") or ":braket:" not in arn:
            raise validation(f"{arn} is not a Braket resource ARN")
        for coll in (self._tasks, self._jobs, self._limits):
            record = coll.by_arn.get(arn)
            if record is not None:
                return record
        raise not_found(f"Resource {arn} not found")

    def list_tags_for_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            return {"tags": dict(self._tagged(params["resourceArn"]).get("tags") or {})}

    def tag_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            record = self._tagged(params["resourceArn"])
            record["tags"] = {**(record.get("tags") or {}), **params["tags"]}
        return {}

    def untag_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            record = self._tagged(params["resourceArn"])
            record["tags"] = {
                k: v for k, v in (record.get("tags") or {}).items() if k not in params["tagKeys"]
            }
        return {}

    # ---------------------------------------------------------------- admin
    def status(self) -> dict[str, Any]:
        """Counts of tasks and jobs by status and the jobs themselves (for ``/_local/status``)."""
        with self._lock:
            tasks: Iterable[dict[str, Any]] = self._tasks.by_arn.values()
            return {
                "tasks": {
                    "total": len(self._tasks.by_arn),
                    "byStatus": dict(Counter(t["status"] for t in tasks)),
                },
                "jobs": {
                    "total": len(self._jobs.by_arn),
                    "byStatus": dict(Counter(j["status"] for j in self._jobs.by_arn.values())),
                    "items": [
                        {
                            k: (v.isoformat() if isinstance(v, datetime) else v)
                            for k, v in self._job_summary(j).items()
                            if v is not None
                        }
                        for j in self._jobs.by_arn.values()
                    ],
                },
                "spendingLimits": len(self._limits.by_arn),
            }
