"""The local Braket API over HTTP, driven by boto3 and the unmodified Braket SDK."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from braket.aws import AwsDevice, AwsQuantumTask
from braket.circuits import Circuit

from covalent_braket_plugin.local.braket_api.devices import DEVICES
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.testing.pytest_plugin import point_at

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
AQUILA = "arn:aws:braket:us-east-1::device/qpu/quera/Aquila"


@pytest.fixture(scope="module")
def stack(braket_local_stack: LocalStack) -> LocalStack:
    """The session's local stack (a server process on a free port, jobs on the process runner)."""
    return braket_local_stack


@pytest.fixture(scope="module")
def env(stack: LocalStack) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        yield point_at(stack, patch)


@pytest.fixture(autouse=True)
def _no_faults(stack: Any) -> Iterator[None]:
    yield
    stack.reset_faults()


@pytest.fixture(scope="module")
def braket(env: Any) -> Any:
    return boto3.client("braket", **env.client_kwargs(), config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def bucket(env: Any) -> str:
    name = f"amazon-braket-test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", **env.client_kwargs()).create_bucket(Bucket=name)
    return name


def bell() -> Circuit:
    return Circuit().h(0).cnot(0, 1)


def openqasm_action(
    source: str = "OPENQASM 3;\nqubit[2] q;\nbit[2] c;\nh q[0];\ncnot q[0], q[1];\nc = measure q;",
) -> str:
    return json.dumps(
        {
            "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
            "source": source,
            "inputs": {},
        }
    )


def create_task(braket: Any, bucket: str, device: str = SV1, shots: int = 10, **extra: Any) -> str:
    return braket.create_quantum_task(
        deviceArn=device,
        shots=shots,
        outputS3Bucket=bucket,
        outputS3KeyPrefix="tasks",
        action=extra.pop("action", openqasm_action()),
        **extra,
    )["quantumTaskArn"]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def task_status(braket: Any, arn: str) -> str:
    return braket.get_quantum_task(quantumTaskArn=arn)["status"]


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


# ------------------------------------------------------------------ the Braket SDK, unmodified
def test_sdk_runs_bell_circuit_on_sv1(env: Any) -> None:
    task = AwsDevice(SV1).run(bell(), shots=100)
    counts = task.result().measurement_counts
    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 100
    assert task.state() == "COMPLETED"


def test_sdk_runs_on_dm1_and_on_a_qpu_in_another_region(env: Any) -> None:
    assert sum(AwsDevice(DM1).run(bell(), shots=20).result().measurement_counts.values()) == 20
    garnet = AwsDevice("arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet")
    counts = garnet.run(bell(), shots=30).result().measurement_counts
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 30


def test_sdk_parses_every_device(env: Any) -> None:
    for arn in DEVICES:
        device = AwsDevice(arn)
        assert device.status == DEVICES[arn].status
        assert device.properties.service.shotsRange[1] == DEVICES[arn].max_shots
    found = {d.arn for d in AwsDevice.get_devices()}
    assert found == {arn for arn, device in DEVICES.items() if not device.is_retired}


def test_sdk_cancels_a_held_qpu_task(env: Any, braket: Any) -> None:
    env.set_faults(hold_qpu_tasks_s=300)
    # Tests before this one on the session's stack may have left held tasks in the device's queue.
    ahead = braket.search_quantum_tasks(
        filters=[
            {"name": "deviceArn", "operator": "EQUAL", "values": [FORTE]},
            {"name": "status", "operator": "EQUAL", "values": ["QUEUED"]},
        ]
    )["quantumTasks"]
    task = AwsDevice(FORTE).run(bell(), shots=10)
    assert task.state() == "QUEUED"
    assert task.queue_position().queue_position == str(len(ahead) + 1)
    task.cancel()
    wait_for(lambda: task.state() == "CANCELLED", "the cancelled task")
    with pytest.raises(ClientError) as exc:
        braket.cancel_quantum_task(quantumTaskArn=task.id, clientToken=str(uuid.uuid4()))
    assert error_code(exc) == "ConflictException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_jaqcd_and_ahs_programs_run(env: Any, braket: Any, bucket: str) -> None:
    jaqcd = json.dumps(
        {
            "braketSchemaHeader": {"name": "braket.ir.jaqcd.program", "version": "1"},
            "instructions": [{"type": "h", "target": 0}, {"type": "cnot", "control": 0, "target": 1}],
        }
    )
    arn = create_task(braket, bucket, shots=50, action=jaqcd)
    assert AwsQuantumTask(arn).result().measurement_counts.keys() <= {"00", "11"}

    from braket.ahs.analog_hamiltonian_simulation import AnalogHamiltonianSimulation
    from braket.ahs.atom_arrangement import AtomArrangement
    from braket.ahs.driving_field import DrivingField
    from braket.timings.time_series import TimeSeries

    register = AtomArrangement().add((0.0, 0.0)).add((0.0, 6.1e-6))
    amplitude = TimeSeries().put(0.0, 0.0).put(1e-7, 6.3e6).put(3.9e-6, 6.3e6).put(4e-6, 0.0)
    detuning = TimeSeries().put(0.0, -1e7).put(4e-6, 1e7)
    phase = TimeSeries().put(0.0, 0.0).put(4e-6, 0.0)
    program = AnalogHamiltonianSimulation(
        register=register, hamiltonian=DrivingField(amplitude, phase, detuning)
    )
    result = AwsDevice(AQUILA).run(program, shots=20).result()
    assert len(result.measurements) == 20


def test_invalid_programs_fail_or_are_rejected(env: Any, braket: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        create_task(
            braket, bucket, action=json.dumps({"braketSchemaHeader": {"name": "nope", "version": "1"}})
        )
    assert error_code(exc) == "ValidationException"
    arn = create_task(braket, bucket, action=openqasm_action("OPENQASM 3; qubit[1] q; foo q[0];"))
    wait_for(lambda: task_status(braket, arn) in ("FAILED", "COMPLETED"), "the bad program to end")
    task = braket.get_quantum_task(quantumTaskArn=arn)
    assert task["status"] == "FAILED" and task["failureReason"]
    big = create_task(braket, bucket, action=openqasm_action("OPENQASM 3; qubit[30] q; h q[0];"))
    wait_for(lambda: task_status(braket, big) in ("FAILED", "COMPLETED"), "the oversized program to end")
    task = braket.get_quantum_task(quantumTaskArn=big)
    assert task["status"] == "FAILED" and "simulates at most 26" in task["failureReason"]


def test_missing_bucket_is_a_validation_error(braket: Any) -> None:
    with pytest.raises(ClientError) as exc:
        create_task(braket, f"no-such-bucket-{uuid.uuid4().hex[:8]}")
    assert error_code(exc) == "ValidationException"
    assert "doesn't exist" in exc.value.response["Error"]["Message"]


def test_results_document_names_task_and_device(env: Any, braket: Any, bucket: str) -> None:
    arn = create_task(braket, bucket, shots=7)
    wait_for(lambda: task_status(braket, arn) == "COMPLETED", "the task")
    task = braket.get_quantum_task(quantumTaskArn=arn)
    body = (
        boto3.client("s3", **env.client_kwargs())
        .get_object(Bucket=bucket, Key=f"{task['outputS3Directory']}/results.json")["Body"]
        .read()
    )
    document = json.loads(body)
    assert document["braketSchemaHeader"]["name"] == "braket.task_result.gate_model_task_result"
    assert document["taskMetadata"]["id"] == arn
    assert document["taskMetadata"]["deviceId"] == SV1
    assert document["taskMetadata"]["shots"] == 7
    assert task["outputS3Directory"] == f"tasks/{arn.rsplit('/', 1)[1]}"


def test_client_token_makes_create_idempotent(braket: Any, bucket: str) -> None:
    token = str(uuid.uuid4())
    assert create_task(braket, bucket, clientToken=token) == create_task(braket, bucket, clientToken=token)


# ------------------------------------------------------------------ search
def test_search_paginator_with_created_at_between_and_status(env: Any, braket: Any, bucket: str) -> None:
    env.set_faults(hold_qpu_tasks_s=300)
    create_task(braket, bucket)  # before the window
    time.sleep(0.01)
    start = datetime.now(UTC)
    completed = [create_task(braket, bucket) for _ in range(7)]
    held = [create_task(braket, bucket, device=FORTE, shots=1) for _ in range(6)]
    for arn in held[:3]:
        braket.cancel_quantum_task(quantumTaskArn=arn, clientToken=str(uuid.uuid4()))
    end = datetime.now(UTC)
    time.sleep(0.01)
    create_task(braket, bucket)  # after the window
    for arn in completed:
        wait_for(lambda a=arn: task_status(braket, a) == "COMPLETED", "the simulator tasks")
    for arn in held[:3]:
        wait_for(lambda a=arn: task_status(braket, a) == "CANCELLED", "the cancelled tasks")

    def search(statuses: list[str]) -> list[str]:
        pages = braket.get_paginator("search_quantum_tasks").paginate(
            filters=[
                {
                    "name": "createdAt",
                    "operator": "BETWEEN",
                    "values": [
                        start.isoformat().replace("+00:00", "Z"),
                        end.isoformat().replace("+00:00", "Z"),
                    ],
                },
                {"name": "status", "operator": "EQUAL", "values": statuses},
            ],
            PaginationConfig={"PageSize": 2},
        )
        return [t["quantumTaskArn"] for page in pages for t in page["quantumTasks"]]

    assert search(["COMPLETED"]) == completed
    assert sorted(search(["QUEUED", "CANCELLED"])) == sorted(held)
    assert search(["CANCELLED"]) == held[:3]
    forte = braket.search_quantum_tasks(
        filters=[
            {"name": "deviceArn", "operator": "EQUAL", "values": [FORTE]},
            {"name": "createdAt", "operator": "GTE", "values": [start.isoformat()]},
        ]
    )["quantumTasks"]
    assert [t["quantumTaskArn"] for t in forte] == held
    assert all(isinstance(t["shots"], int) and t["createdAt"].tzinfo for t in forte)


@pytest.mark.parametrize(
    "filters",
    [
        [{"name": "createdAt", "operator": "BETWEEN", "values": ["2024-01-01T00:00:00Z"]}],
        [{"name": "createdAt", "operator": "BETWEEN", "values": ["yesterday", "today"]}],
        [{"name": "colour", "operator": "EQUAL", "values": ["blue"]}],
        [{"name": "status", "operator": "SIMILAR", "values": ["QUEUED"]}],
    ],
)
def test_bad_search_filters_are_validation_errors(braket: Any, filters: list[dict[str, Any]]) -> None:
    with pytest.raises(ClientError) as exc:
        braket.search_quantum_tasks(filters=filters)
    assert error_code(exc) == "ValidationException"


def test_invalid_next_token_is_a_validation_error(braket: Any) -> None:
    with pytest.raises(ClientError) as exc:
        braket.search_quantum_tasks(filters=[], nextToken="not-a-token")
    assert error_code(exc) == "ValidationException"


# ------------------------------------------------------------------ jobs
def job_request(name: str, role_arn: str, bucket: str) -> dict[str, Any]:
    return {
        "jobName": name,
        "roleArn": role_arn,
        "algorithmSpecification": {
            "scriptModeConfig": {
                "entryPoint": "algo:main",
                "s3Uri": f"s3://{bucket}/src.tar.gz",
                "compressionType": "GZIP",
            }
        },
        "outputDataConfig": {"s3Path": f"s3://{bucket}/jobs/{name}/output"},
        "checkpointConfig": {"s3Uri": f"s3://{bucket}/jobs/{name}/checkpoints"},
        "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30, "instanceCount": 1},
        "deviceConfig": {"device": SV1},
        "hyperParameters": {"depth": "3"},
        "stoppingCondition": {"maxRuntimeInSeconds": 600},
    }


@pytest.fixture(scope="module")
def role_arn(env: LocalStack) -> str:
    return env.create_jobs_role(f"AmazonBraketJobsExecutionRole-{uuid.uuid4().hex[:6]}")


def test_create_job_needs_an_existing_role(braket: Any, bucket: str) -> None:
    missing = "arn:aws:iam::123456789012:role/service-role/NoSuchRole"
    with pytest.raises(ClientError) as exc:
        braket.create_job(**job_request(f"job-{uuid.uuid4().hex[:8]}", missing, bucket))
    assert error_code(exc) == "ValidationException"
    assert missing in exc.value.response["Error"]["Message"]


def test_job_lifecycle_idempotency_names_search_and_cancel(braket: Any, bucket: str, role_arn: str) -> None:
    name = f"job-{uuid.uuid4().hex[:8]}"
    token = str(uuid.uuid4())
    created = braket.create_job(**job_request(name, role_arn, bucket), clientToken=token, tags={"team": "q"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = created["jobArn"]
    assert arn.startswith("arn:aws:braket:us-east-1:123456789012:job/")
    assert braket.create_job(**job_request(name, role_arn, bucket), clientToken=token)["jobArn"] == arn
    with pytest.raises(ClientError) as exc:
        braket.create_job(**job_request(name, role_arn, bucket))
    assert error_code(exc) == "ConflictException"

    job = braket.get_job(jobArn=arn, additionalAttributeNames=["QueueInfo"])
    assert job["jobName"] == name and job["hyperParameters"] == {"depth": "3"}
    assert job["queueInfo"]["queue"] == "JOBS_QUEUE"
    assert job["createdAt"].tzinfo is not None
    found = braket.search_jobs(filters=[{"name": "jobName", "operator": "EQUAL", "values": [name]}])["jobs"]
    assert [j["jobArn"] for j in found] == [arn] and found[0]["device"] == SV1

    assert braket.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "q"}
    assert braket.cancel_job(jobArn=arn)["cancellationStatus"] == "CANCELLING"
    wait_for(lambda: braket.get_job(jobArn=arn)["status"] in ("CANCELLED", "FAILED", "COMPLETED"), "the job")
    with pytest.raises(ClientError) as exc:
        braket.cancel_job(jobArn=arn)
    assert error_code(exc) == "ConflictException"


ALGORITHM = """
import os

from braket.aws import AwsDevice
from braket.circuits import Circuit


def main():
    task = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"]).run(Circuit().h(0).cnot(0, 1), shots=10)
    print("counts", dict(task.result().measurement_counts))
"""


def test_tasks_created_by_a_job_carry_its_arn(env: Any, braket: Any, bucket: str, role_arn: str) -> None:
    source = io.BytesIO()
    with tarfile.open(fileobj=source, mode="w:gz") as archive:
        data = ALGORITHM.encode()
        info = tarfile.TarInfo("algo.py")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    key = f"src/{uuid.uuid4().hex}.tar.gz"
    boto3.client("s3", **env.client_kwargs()).put_object(Bucket=bucket, Key=key, Body=source.getvalue())
    name = f"job-{uuid.uuid4().hex[:8]}"
    request = job_request(name, role_arn, bucket)
    request["algorithmSpecification"]["scriptModeConfig"]["s3Uri"] = f"s3://{bucket}/{key}"
    job_arn = braket.create_job(**request)["jobArn"]
    wait_for(
        lambda: braket.get_job(jobArn=job_arn)["status"] in ("COMPLETED", "FAILED", "CANCELLED"),
        "the job",
        timeout=600,
    )
    job = braket.get_job(jobArn=job_arn)
    assert job["status"] == "COMPLETED", job.get("failureReason")
    tasks = braket.search_quantum_tasks(
        filters=[{"name": "jobArn", "operator": "EQUAL", "values": [job_arn]}]
    )["quantumTasks"]
    assert len(tasks) == 1 and tasks[0]["status"] == "COMPLETED"
    task = braket.get_quantum_task(
        quantumTaskArn=tasks[0]["quantumTaskArn"], additionalAttributeNames=["QueueInfo"]
    )
    assert task["jobArn"] == job_arn and task["queueInfo"]["queuePriority"] == "Priority"


def test_get_job_of_unknown_arn_is_not_found(braket: Any) -> None:
    with pytest.raises(ClientError) as exc:
        braket.get_job(jobArn=f"arn:aws:braket:us-east-1:123456789012:job/{uuid.uuid4()}")
    assert error_code(exc) == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# ------------------------------------------------------------------ tags
def test_tags_on_tasks(braket: Any, bucket: str) -> None:
    arn = create_task(braket, bucket, tags={"a": "1"})
    braket.tag_resource(resourceArn=arn, tags={"b": "2", "c": "3"})
    braket.untag_resource(resourceArn=arn, tagKeys=["a", "c"])
    assert braket.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    unknown = f"arn:aws:braket:us-east-1:123456789012:quantum-task/{uuid.uuid4()}"
    with pytest.raises(ClientError) as exc:
        braket.tag_resource(resourceArn=unknown, tags={"x": "y"})
    assert error_code(exc) == "ResourceNotFoundException"


# ------------------------------------------------------------------ spending limits
def test_spending_limit_is_enforced_and_reported(env: Any, braket: Any, bucket: str) -> None:
    env.set_faults(hold_qpu_tasks_s=300)
    device = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1"
    limit = braket.create_spending_limit(deviceArn=device, spendingLimit="1.00")["spendingLimitArn"]
    with pytest.raises(ClientError) as exc:  # 0.30 + 10 x 0.08 = 1.10 > 1.00 on its own
        create_task(braket, bucket, device=device, shots=10)
    assert error_code(exc) == "ValidationException"
    braket.update_spending_limit(spendingLimitArn=limit, spendingLimit="2.00")
    first = create_task(braket, bucket, device=device, shots=10)
    with pytest.raises(ClientError) as exc:
        create_task(braket, bucket, device=device, shots=10)
    assert error_code(exc) == "ServiceQuotaExceededException"
    assert "Spending limit" in exc.value.response["Error"]["Message"]
    (summary,) = braket.search_spending_limits(
        filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [device]}]
    )["spendingLimits"]
    assert (summary["spendingLimit"], summary["queuedSpend"], summary["totalSpend"]) == ("2.00", "1.1", "0")
    braket.cancel_quantum_task(quantumTaskArn=first, clientToken=str(uuid.uuid4()))
    wait_for(lambda: task_status(braket, first) == "CANCELLED", "the cancelled task")
    create_task(braket, bucket, device=device, shots=10)  # the cancelled task no longer counts
    with pytest.raises(ClientError) as exc:  # simulators have no spending limits
        braket.create_spending_limit(deviceArn=SV1, spendingLimit="5")
    assert error_code(exc) == "ValidationException"
    braket.delete_spending_limit(spendingLimitArn=limit)
    with pytest.raises(ClientError) as exc:
        braket.delete_spending_limit(spendingLimitArn=limit)
    assert error_code(exc) == "ResourceNotFoundException"


# ------------------------------------------------------------------ faults
def test_injected_throttling_and_errors(env: Any, braket: Any) -> None:
    env.set_faults(throttle_rate=1.0)
    with pytest.raises(ClientError) as exc:
        braket.get_device(deviceArn=SV1)
    assert error_code(exc) == "ThrottlingException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    env.set_faults(throttle_rate=0.0, error_rate=1.0)
    with pytest.raises(ClientError) as exc:
        braket.get_device(deviceArn=SV1)
    assert error_code(exc) == "InternalServiceException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


# ------------------------------------------------------------------ events
class EventQueue:
    """An SQS queue behind an EventBridge rule for one detail-type of Braket events."""

    def __init__(self, env: Any, detail_type: str) -> None:
        kwargs = env.client_kwargs()
        self.sqs, events = boto3.client("sqs", **kwargs), boto3.client("events", **kwargs)
        self.url = self.sqs.create_queue(QueueName=f"braket-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule = f"braket-{uuid.uuid4().hex[:8]}"
        events.put_rule(
            Name=rule, EventPattern=json.dumps({"source": ["aws.braket"], "detail-type": [detail_type]})
        )
        events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])

    def receive(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


def test_job_state_change_events_reach_eventbridge(env: Any, braket: Any, bucket: str, role_arn: str) -> None:
    queue = EventQueue(env, "Braket Job State Change")
    env.set_faults(hold_jobs_s=300)  # still QUEUED when cancelled
    arn = braket.create_job(**job_request(f"job-{uuid.uuid4().hex[:8]}", role_arn, bucket))["jobArn"]
    braket.cancel_job(jobArn=arn)
    seen: list[dict[str, Any]] = []

    def ended() -> bool:
        seen.extend(e for e in queue.receive() if e["detail"]["jobArn"] == arn)
        return any(e["detail"]["status"] in ("CANCELLED", "FAILED", "COMPLETED") for e in seen)

    wait_for(ended, "the job's final event")
    statuses = [e["detail"]["status"] for e in seen]
    assert statuses == ["QUEUED", "CANCELLING", "CANCELLED"]
    assert seen[0]["source"] == "aws.braket" and seen[0]["resources"] == [arn]
    final = next(e for e in seen if e["detail"]["status"] in ("CANCELLED", "FAILED", "COMPLETED"))
    assert final["detail"]["endedAt"].endswith("Z")


def test_task_state_change_events_reach_eventbridge(env: Any, braket: Any, bucket: str) -> None:
    queue = EventQueue(env, "Braket Task State Change")
    arn = create_task(braket, bucket, shots=5)
    seen: list[dict[str, Any]] = []

    def completed_seen() -> bool:
        for event in queue.receive():
            if event["detail"]["quantumTaskArn"] == arn:
                seen.append(event)
        return any(e["detail"]["status"] == "COMPLETED" for e in seen)

    wait_for(completed_seen, "the COMPLETED event")
    first = next(e for e in seen if e["detail"]["eventName"] == "INSERT")
    assert first["source"] == "aws.braket" and first["detail-type"] == "Braket Task State Change"
    assert first["detail"]["status"] == "CREATED" and first["detail"]["shots"] == "5"
    assert first["detail"]["outputS3Bucket"] == bucket
    datetime.strptime(first["detail"]["createdAt"], "%Y-%m-%dT%H:%M:%S.%fZ")
    done = next(e for e in seen if e["detail"]["status"] == "COMPLETED")
    assert done["detail"]["eventName"] == "MODIFY" and "endedAt" in done["detail"]
    assert "endedAt" not in first["detail"]


def test_timestamps_are_recent(braket: Any, bucket: str) -> None:
    arn = create_task(braket, bucket)
    created = braket.get_quantum_task(quantumTaskArn=arn)["createdAt"]
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)


# ------------------------------------------------------------------ malformed requests over raw HTTP
_TASK_ARN = "arn:aws:braket:us-east-1:123456789012:quantum-task/00000000-0000-0000-0000-000000000000"
_JOB_ARN = "arn:aws:braket:us-east-1:123456789012:job/00000000-0000-0000-0000-000000000000"
_LIMIT_ARN = "arn:aws:braket:us-east-1:123456789012:spending-limit/00000000-0000-0000-0000-000000000000"
_VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/quantum-task"): {
        "clientToken": "t" * 36,
        "deviceArn": SV1,
        "shots": 10,
        "outputS3Bucket": "b" * 10,
        "outputS3KeyPrefix": "p",
        "action": openqasm_action(),
    },
    ("POST", "/job"): {
        **job_request("fuzz", "arn:aws:iam::123456789012:role/r", "bucket"),
        "clientToken": "c",
    },
    ("POST", "/spending-limit"): {
        "clientToken": "t",
        "deviceArn": FORTE,
        "spendingLimit": "10.50",
        "timePeriod": {"startAt": 1700000000, "endAt": 1800000000},
    },
    ("POST", "/quantum-tasks"): {
        "filters": [{"name": "status", "operator": "EQUAL", "values": ["QUEUED"]}],
        "maxResults": 10,
    },
    ("POST", "/jobs"): {
        "filters": [{"name": "createdAt", "operator": "GT", "values": ["2024-01-01T00:00:00Z"]}]
    },
    ("POST", "/devices"): {"filters": [{"name": "deviceArn", "values": [SV1]}]},
    ("POST", "/spending-limits"): {"filters": []},
    ("PATCH", f"/spending-limit/{_LIMIT_ARN}/update"): {"clientToken": "t", "spendingLimit": "1"},
    ("PUT", f"/quantum-task/{_TASK_ARN}/cancel"): {"clientToken": "t"},
    ("POST", f"/tags/{_TASK_ARN}"): {"tags": {"k": "v"}},
}
_PATHS = [path for _, path in _VALID_BODIES] + [
    f"/quantum-task/{_TASK_ARN}",
    f"/job/{_JOB_ARN}",
    f"/job/{_JOB_ARN}/cancel",
    f"/device/{SV1}",
    f"/spending-limit/{_LIMIT_ARN}/delete",
    f"/tags/{_JOB_ARN}",
    "/",
    "/quantum-task/",
    "/device/",
]


def _json_values() -> Any:
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=40)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=12,
    )


def _requests() -> Any:
    from urllib.parse import quote

    from hypothesis import strategies as st

    values = _json_values()
    arn_like = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
        ["arn:aws:braket:::device/x", "arn:aws:braket:us-east-1:123456789012:job/", "::::", "%2F%2F", "a/b/c"]
    )
    path = st.one_of(
        st.sampled_from(_PATHS),
        st.builds(
            lambda prefix, arn, suffix: f"{prefix}{quote(arn, safe='/:')}{suffix}",
            st.sampled_from(["/quantum-task/", "/job/", "/device/", "/tags/", "/spending-limit/"]),
            arn_like,
            st.sampled_from(["", "/cancel", "/delete", "/update", "/x"]),
        ),
        st.binary(max_size=30).map(lambda b: "/" + quote(b)),
    )

    def mutate(base: dict[str, Any], draw: Any) -> bytes:
        body = json.loads(json.dumps(base))
        key = draw(st.sampled_from(sorted(body)))
        action = draw(st.sampled_from(["drop", "replace", "nest"]))
        if action == "drop":
            body.pop(key)
        elif action == "replace":
            body[key] = draw(values)
        elif isinstance(body[key], dict) and body[key]:
            inner = draw(st.sampled_from(sorted(body[key])))
            body[key][inner] = draw(values)
        else:
            body[key] = [body[key]]
        return json.dumps(body).encode()

    @st.composite
    def request(draw: Any) -> tuple[str, str, str, bytes]:
        kind = draw(st.sampled_from(["mutated", "random-json", "bytes", "path"]))
        if kind == "mutated":
            method, url = draw(st.sampled_from(sorted(_VALID_BODIES)))
            return method, url, "", mutate(_VALID_BODIES[(method, url)], draw)
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
        query = draw(
            st.sampled_from(
                [
                    "",
                    "additionalAttributeNames=QueueInfo",
                    "additionalAttributeNames=Nope",
                    "tagKeys=a&tagKeys=b",
                    "tagKeys=",
                    "%ZZ=%%",
                ]
            )
        )
        if kind == "random-json":
            return method, draw(path), query, json.dumps(draw(values)).encode()
        if kind == "bytes":
            return method, draw(path), query, draw(st.binary(max_size=200))
        return method, draw(path), query, b""

    return request()


def test_malformed_requests_get_well_formed_aws_errors(stack: Any, bucket: str) -> None:
    from hypothesis import HealthCheck, given, settings

    session = requests.Session()
    kwargs = stack.client_kwargs()
    credentials = Credentials(kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"])

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(_requests())
    def check(req: tuple[str, str, str, bytes]) -> None:
        method, path, query, body = req
        url = f"{stack.endpoint_url}{path}" + (f"?{query}" if query else "")
        headers = {"Content-Type": "application/json"}
        prepared = session.prepare_request(requests.Request(method, url, data=body, headers=headers))
        # Signed as sent (requests re-quotes URLs), so the stack's signature check lets the request in.
        signed = AWSRequest(method=method, url=prepared.url, data=body, headers=headers)
        SigV4Auth(credentials, "braket", stack.region).add_auth(signed)
        prepared.headers.update(dict(signed.headers))
        response = session.send(prepared, timeout=30)
        assert response.status_code < 500, (response.status_code, response.text)
        assert response.headers["Content-Type"].startswith("application/json")
        document = response.json()
        assert "Traceback" not in response.text
        if response.status_code >= 400:
            assert response.headers["x-amzn-ErrorType"].endswith("Exception")
            assert isinstance(document["message"], str) and document["message"]

    check()
