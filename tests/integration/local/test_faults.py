"""Fault injection changes what the stack answers, at run time and from the first request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from covalent_braket_plugin.local.stack import LocalStack

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture
def stack(braket_local_stack: LocalStack) -> Iterator[LocalStack]:
    """The session's stack, with every fault turned off again after the test."""
    yield braket_local_stack
    braket_local_stack.reset_faults()


def _client(stack: LocalStack, service: str) -> Any:
    return boto3.client(service, config=NO_RETRIES, **stack.client_kwargs())


def test_throttling_answers_braket_calls_with_429(stack: LocalStack) -> None:
    braket = _client(stack, "braket")
    stack.set_faults(throttle_rate=1)
    with pytest.raises(braket.exceptions.ThrottlingException) as raised:
        braket.search_devices(filters=[])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    stack.reset_faults()
    assert braket.search_devices(filters=[])["devices"]


def test_server_errors_answer_braket_calls_with_500(stack: LocalStack) -> None:
    braket = _client(stack, "braket")
    stack.set_faults(error_rate=1)
    with pytest.raises(braket.exceptions.InternalServiceException) as raised:
        braket.get_device(deviceArn="arn:aws:braket:::device/quantum-simulator/amazon/sv1")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_faults_leave_the_other_services_alone(stack: LocalStack) -> None:
    stack.set_faults(throttle_rate=1)
    s3 = _client(stack, "s3")
    s3.create_bucket(Bucket="amazon-braket-faults-test")
    assert "amazon-braket-faults-test" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert _client(stack, "ecr").get_authorization_token()["authorizationData"]


def test_standard_retries_ride_out_partial_throttling(stack: LocalStack) -> None:
    stack.set_faults(throttle_rate=0.5)
    braket = boto3.client(
        "braket", config=Config(retries={"max_attempts": 20, "mode": "standard"}), **stack.client_kwargs()
    )
    answers = [braket.search_devices(filters=[])["ResponseMetadata"]["RetryAttempts"] for _ in range(20)]
    assert any(attempts > 0 for attempts in answers)  # some calls were throttled and retried


def test_faults_are_reported_and_refused_when_invalid(stack: LocalStack) -> None:
    assert stack.set_faults(latency_ms=3, hold_qpu_tasks_s=1)["latency_ms"] == 3
    assert stack.status()["faults"]["hold_qpu_tasks_s"] == 1
    with pytest.raises(ValueError, match="throttle_rate"):
        stack.set_faults(throttle_rate=7)
    assert stack.faults()["throttle_rate"] == 0


def test_faults_given_at_start_apply_to_the_first_request() -> None:
    with LocalStack(runner="process", faults={"throttle_rate": 1}) as stack:
        braket = _client(stack, "braket")
        with pytest.raises(braket.exceptions.ThrottlingException):
            braket.search_devices(filters=[])
        assert stack.status()["faults"]["throttle_rate"] == 1
