"""The job's name, its CreateJob request, the polling schedule, cancel and the CloudWatch fallback."""

from __future__ import annotations

import itertools
import re

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from covalent_braket_plugin import hybrid_jobs

# The jobName shape of botocore's own Braket model, so the test follows the service, not us.
_MODEL = botocore.session.get_session().get_service_model("braket")
_NAME_SHAPE = _MODEL.operation_model("CreateJob").input_shape.members["jobName"]
MODEL_NAME_PATTERN = re.compile(f"^(?:{_NAME_SHAPE.metadata['pattern']})$")


def _spec(**changes: object) -> hybrid_jobs.JobSpec:
    values: dict = {
        "name": hybrid_jobs.job_name("1d0e6f8c-8f57-4a0c-9a55-1d6f2b9c7a10", 3, 1),
        "role_arn": "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole",
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent:abc",
        "source_uri": "s3://amazon-braket-test/covalent-braket/runner/abc/source.tar.gz",
        "device": "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
        "instance_type": "ml.m5.large",
        "volume_size_gb": 30,
        "max_runtime_s": 300,
        "output_s3_path": "s3://amazon-braket-test/covalent-braket/d/3/job/",
        "hyperparameters": {"COVALENT_TASK_URI": "s3://amazon-braket-test/t.pkl"},
        "tags": {"covalent:dispatch_id": "d"},
    }
    values.update(changes)
    return hybrid_jobs.JobSpec(**values)


@given(
    dispatch_id=st.text(min_size=0, max_size=80),
    node_id=st.integers(min_value=-1, max_value=10**30),
    attempt=st.integers(min_value=1, max_value=10**6),
)
def test_job_name_fits_the_service_rules_for_any_identifiers(
    dispatch_id: str, node_id: int, attempt: int
) -> None:
    name = hybrid_jobs.job_name(dispatch_id, node_id, attempt)
    assert len(name) <= hybrid_jobs.JOB_NAME_MAX_LENGTH
    assert hybrid_jobs.JOB_NAME_PATTERN.match(name)
    assert MODEL_NAME_PATTERN.match(name)


def test_job_name_is_deterministic_and_differs_per_dispatch_node_and_attempt() -> None:
    dispatch = "1d0e6f8c-8f57-4a0c-9a55-1d6f2b9c7a10"
    assert hybrid_jobs.job_name(dispatch, 3, 1) == hybrid_jobs.job_name(dispatch, 3, 1)
    names = {
        hybrid_jobs.job_name(d, n, a)
        for d, n, a in itertools.product([dispatch, dispatch.replace("a10", "a11")], [0, 3], [1, 2])
    }
    assert len(names) == 8


def test_job_name_is_readable_for_a_uuid_dispatch() -> None:
    name = hybrid_jobs.job_name("1d0e6f8c-8f57-4a0c-9a55-1d6f2b9c7a10", 3, 2)
    assert name.startswith("covalent-1d0e6f8c-n3-a2-")


def test_create_job_request_is_valid_for_the_botocore_model_and_uses_the_name_as_client_token() -> None:
    request = _spec().create_job_request()
    assert request["clientToken"] == request["jobName"]
    script = request["algorithmSpecification"]["scriptModeConfig"]
    assert script == {
        "entryPoint": "covalent_braket_runner:main",
        "s3Uri": "s3://amazon-braket-test/covalent-braket/runner/abc/source.tar.gz",
        "compressionType": "GZIP",
    }
    assert request["algorithmSpecification"]["containerImage"]["uri"].endswith(":abc")
    assert request["instanceConfig"] == {
        "instanceType": "ml.m5.large",
        "volumeSizeInGb": 30,
        "instanceCount": 1,
    }
    assert request["stoppingCondition"] == {"maxRuntimeInSeconds": 300}
    assert "associations" not in request
    # botocore's parameter validation is the service's first check: a stubbed call runs it.
    braket = boto3.client("braket", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    arn = "arn:aws:braket:us-east-1:123456789012:job/x"
    with Stubber(braket) as stub:
        stub.add_response("create_job", {"jobArn": arn}, request)
        assert hybrid_jobs.create_job(braket, _spec()) == arn


def test_a_reservation_becomes_the_job_association() -> None:
    arn = "arn:aws:braket:us-east-1:123456789012:reservation/abc"
    request = _spec(reservation_arn=arn).create_job_request()
    assert request["associations"] == [{"arn": arn, "type": "RESERVATION_TIME_WINDOW_ARN"}]


def test_poll_delays_start_fast_and_back_off_to_the_slowest_interval() -> None:
    delays = list(itertools.islice(hybrid_jobs.poll_delays(0.25, 10.0), 9))
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_poll_delays_never_exceed_a_slowest_interval_below_the_first() -> None:
    assert list(itertools.islice(hybrid_jobs.poll_delays(1.0, 0.1), 3)) == [0.1, 0.1, 0.1]


def _braket_client() -> object:
    return boto3.client("braket", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


JOB_ARN = "arn:aws:braket:us-west-2:123456789012:job/covalent-x"


def test_cancel_job_reports_the_cancellation_status() -> None:
    braket = _braket_client()
    with Stubber(braket) as stub:
        stub.add_response(
            "cancel_job", {"jobArn": JOB_ARN, "cancellationStatus": "CANCELLING"}, {"jobArn": JOB_ARN}
        )
        assert hybrid_jobs.cancel_job(braket, JOB_ARN) == "CANCELLING"


@pytest.mark.parametrize("final", ["COMPLETED", "FAILED", "CANCELLED"])
def test_cancel_job_of_an_ended_job_reports_its_final_status(final: str) -> None:
    braket = _braket_client()
    with Stubber(braket) as stub:
        stub.add_client_error("cancel_job", "ConflictException", "job is terminal", 409)
        stub.add_response(
            "get_job",
            {
                "status": final,
                "jobArn": JOB_ARN,
                "roleArn": "arn:aws:iam::123456789012:role/r",
                "jobName": "covalent-x",
                "outputDataConfig": {"s3Path": "s3://b/p"},
                "algorithmSpecification": {"containerImage": {"uri": "1"}},
                "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
                "createdAt": "2026-01-01T00:00:00Z",
            },
            {"jobArn": JOB_ARN},
        )
        assert hybrid_jobs.cancel_job(braket, JOB_ARN) == final


def test_cancel_job_passes_other_errors_on() -> None:
    braket = _braket_client()
    with Stubber(braket) as stub:
        stub.add_client_error("cancel_job", "ResourceNotFoundException", "no such job", 404)
        with pytest.raises(ClientError):
            hybrid_jobs.cancel_job(braket, JOB_ARN)


class _Logs:
    """CloudWatch Logs with two streams of the job (one of another job), each several pages long."""

    def __init__(self) -> None:
        self.streams = {
            "covalent-x/a": ["a1", "a2", "a3", "a4", "a5"],
            "covalent-x/b": ["b1", "b2"],
            "covalent-xy/c": ["other job"],
        }
        self.requests: list[dict] = []

    def get_paginator(self, name: str) -> object:
        assert name == "describe_log_streams"
        logs = self

        class Paginator:
            def paginate(self, logGroupName: str, logStreamNamePrefix: str) -> list[dict]:
                assert logGroupName == "/aws/braket/jobs"
                names = sorted(n for n in logs.streams if n.startswith(logStreamNamePrefix))
                # one stream per page, newest first, to show every page and order are handled
                return [{"logStreams": [{"logStreamName": n}]} for n in reversed(names)]

        return Paginator()

    def get_log_events(self, **request: object) -> dict:
        self.requests.append(request)
        assert request["startFromHead"] is True
        lines = self.streams[str(request["logStreamName"])]
        start = int(str(request.get("nextToken", "f/0")).split("/")[1])
        page = lines[start : start + 2]
        return {
            "events": [{"message": line + "\n"} for line in page],
            "nextForwardToken": f"f/{start + len(page)}",
        }


def test_read_logs_reads_every_stream_of_the_job_and_every_page_from_the_head() -> None:
    logs = _Logs()
    assert hybrid_jobs.read_logs(logs, "/aws/braket/jobs", "covalent-x") == "a1\na2\na3\na4\na5\nb1\nb2"


def test_read_logs_of_a_job_without_a_log_group_is_empty() -> None:
    logs = boto3.client("logs", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(logs) as stub:
        stub.add_client_error("describe_log_streams", "ResourceNotFoundException", "no group", 400)
        assert hybrid_jobs.read_logs(logs, "/aws/braket/jobs", "covalent-x") == ""
