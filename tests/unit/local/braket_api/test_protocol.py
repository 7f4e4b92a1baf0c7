"""Routing, validation and serialization of the Braket API, read from botocore's service model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.model import ServiceModel

from covalent_braket_plugin.local.braket_api.errors import BraketError
from covalent_braket_plugin.local.braket_api.protocol import (
    error_status,
    match_route,
    parse_request,
    parse_timestamp,
    routes,
    serialize_output,
    service_model,
)

JOB = "arn:aws:braket:us-east-1:123456789012:job/5f1c-a/b"
TASK = "arn:aws:braket:us-east-1:123456789012:quantum-task/abc"
LIMIT = "arn:aws:braket:us-east-1:123456789012:spending-limit/xyz"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def request(
    operation: str, body: dict[str, Any] | None = None, query: str = "", **uri: str
) -> dict[str, Any]:
    model = service_model().operation_model(operation)
    return parse_request(model, uri, query, json.dumps(body or {}).encode())


def validation_message(operation: str, body: dict[str, Any], **uri: str) -> str:
    with pytest.raises(BraketError) as exc:
        request(operation, body, **uri)
    assert exc.value.code == "ValidationException"
    return exc.value.message


def test_every_operation_of_the_model_has_a_route() -> None:
    assert {r.operation.name for r in routes()} == set(service_model().operation_names)
    assert len(routes()) == 17


@pytest.mark.parametrize(
    ("method", "path", "operation", "params"),
    [
        ("PUT", f"/job/{JOB}/cancel", "CancelJob", {"jobArn": JOB}),
        ("GET", f"/job/{JOB}", "GetJob", {"jobArn": JOB}),
        ("POST", "/job", "CreateJob", {}),
        ("PUT", f"/quantum-task/{TASK}/cancel", "CancelQuantumTask", {"quantumTaskArn": TASK}),
        ("GET", f"/quantum-task/{TASK}", "GetQuantumTask", {"quantumTaskArn": TASK}),
        ("GET", f"/device/{SV1}", "GetDevice", {"deviceArn": SV1}),
        ("DELETE", f"/spending-limit/{LIMIT}/delete", "DeleteSpendingLimit", {"spendingLimitArn": LIMIT}),
        ("PATCH", f"/spending-limit/{LIMIT}/update", "UpdateSpendingLimit", {"spendingLimitArn": LIMIT}),
        ("GET", f"/tags/{TASK}", "ListTagsForResource", {"resourceArn": TASK}),
        ("POST", f"/tags/{TASK}", "TagResource", {"resourceArn": TASK}),
        ("DELETE", f"/tags/{TASK}", "UntagResource", {"resourceArn": TASK}),
        ("POST", "/quantum-tasks", "SearchQuantumTasks", {}),
    ],
)
def test_routes_take_whole_arns_with_slashes_and_colons(
    method: str, path: str, operation: str, params: dict[str, str]
) -> None:
    model, found = match_route(method, path)
    assert model.name == operation
    assert found == params


def test_unknown_paths_and_methods_are_aws_errors() -> None:
    with pytest.raises(BraketError) as exc:
        match_route("GET", "/nothing/here")
    assert exc.value.code == "ResourceNotFoundException"
    with pytest.raises(BraketError) as exc:
        match_route("PATCH", "/quantum-task")
    assert exc.value.code == "ValidationException"


def test_error_status_comes_from_the_model() -> None:
    assert error_status("ValidationException") == 400
    assert error_status("ServiceQuotaExceededException") == 402
    assert error_status("ResourceNotFoundException") == 404
    assert error_status("ConflictException") == 409
    assert error_status("ThrottlingException") == 429
    assert error_status("InternalServiceException") == 500


def test_querystring_lists_and_enums() -> None:
    params = request("UntagResource", query="tagKeys=a&tagKeys=b", resourceArn=TASK)
    assert params == {"resourceArn": TASK, "tagKeys": ["a", "b"]}
    params = request("GetJob", query="additionalAttributeNames=QueueInfo", jobArn=JOB)
    assert params["additionalAttributeNames"] == ["QueueInfo"]
    with pytest.raises(BraketError, match="enum value set"):
        request("GetJob", query="additionalAttributeNames=Everything", jobArn=JOB)


def valid_task() -> dict[str, Any]:
    return {
        "clientToken": "t",
        "deviceArn": SV1,
        "shots": 10,
        "outputS3Bucket": "bucket",
        "outputS3KeyPrefix": "p",
        "action": "{}",
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"shots": None}, "Value null at 'shots'"),
        ({"shots": -1}, "greater than or equal to 0"),
        ({"shots": "10"}, "must be an integer"),
        ({"shots": True}, "must be an integer"),
        ({"shots": 2**64}, "out of range"),
        ({"outputS3Bucket": "ab"}, "length greater than or equal to 3"),
        ({"outputS3Bucket": "b" * 64}, "length less than or equal to 63"),
        ({"action": "{not json"}, "must be a JSON document"),
        ({"action": {"a": 1}}, "must be a string"),
        ({"tags": ["a"]}, "must be a JSON object"),
        ({"tags": {"a": 1}}, "must be a string"),
        (
            {"associations": [{"arn": "x", "type": "RESERVATION_TIME_WINDOW_ARN"}] * 2},
            "less than or equal to 1",
        ),
        ({"associations": [{"arn": "nope", "type": "RESERVATION_TIME_WINDOW_ARN"}]}, "regular expression"),
        ({"experimentalCapabilities": {}}, "exactly one"),
        ({"experimentalCapabilities": {"enabled": "SOME"}}, "enum value set"),
    ],
)
def test_create_quantum_task_validation(change: dict[str, Any], expected: str) -> None:
    body = {**valid_task(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    assert expected in validation_message("CreateQuantumTask", body)


def test_patterns_must_match_the_whole_value() -> None:
    job = {
        "clientToken": "c",
        "jobName": "good-name",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "algorithmSpecification": {},
        "outputDataConfig": {"s3Path": "s3://b/o"},
        "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 1},
        "deviceConfig": {"device": SV1},
    }
    assert request("CreateJob", job)["jobName"] == "good-name"
    assert "regular expression" in validation_message("CreateJob", {**job, "jobName": "bad name!"})
    assert "regular expression" in validation_message("CreateJob", {**job, "jobName": "-dash"})
    assert "less than or equal to 50" in validation_message("CreateJob", {**job, "jobName": "a" * 51})
    assert "enum value set" in validation_message(
        "CreateJob", {**job, "instanceConfig": {"instanceType": "ml.huge", "volumeSizeInGb": 1}}
    )
    assert "less than or equal to 100" in validation_message(
        "CreateJob", {**job, "hyperParameters": {str(i): "v" for i in range(101)}}
    )
    assert "less than or equal to 432000" in validation_message(
        "CreateJob", {**job, "stoppingCondition": {"maxRuntimeInSeconds": 432001}}
    )


def test_shape_types_the_braket_model_does_not_use_yet_are_checked_too() -> None:
    """Numbers and booleans are checked and blobs taken as sent, so a botocore release whose Braket
    model gains such a member needs no change here."""
    model = ServiceModel(
        {
            "metadata": {"protocol": "rest-json", "apiVersion": "2019-09-01", "endpointPrefix": "braket"},
            "operations": {
                "Op": {
                    "name": "Op",
                    "http": {"method": "POST", "requestUri": "/op"},
                    "input": {"shape": "In"},
                }
            },
            "shapes": {
                "In": {
                    "type": "structure",
                    "members": {
                        "ratio": {"shape": "Ratio"},
                        "flag": {"shape": "Flag"},
                        "data": {"shape": "Data"},
                    },
                },
                "Ratio": {"type": "double"},
                "Flag": {"type": "boolean"},
                "Data": {"type": "blob"},
            },
        }
    )
    operation = model.operation_model("Op")
    sent = {"ratio": 0.5, "flag": True, "data": "AAE="}
    assert parse_request(operation, {}, "", json.dumps(sent).encode()) == sent
    with pytest.raises(BraketError) as exc:
        parse_request(operation, {}, "", b'{"ratio": "half", "flag": 1}')
    assert exc.value.message == (
        "2 validation errors detected: Value 'half' at 'ratio' must be a number; "
        "Value '1' at 'flag' must be a boolean"
    )


def test_several_errors_are_counted() -> None:
    message = validation_message("CreateQuantumTask", {})
    assert message.startswith("6 validation errors detected")


def test_body_must_be_a_json_object() -> None:
    model = service_model().operation_model("SearchQuantumTasks")
    for body in (b"[1, 2]", b"{bad", b"\xff\xfe"):
        with pytest.raises(BraketError) as exc:
            parse_request(model, {}, "", body)
        assert exc.value.code == "ValidationException"


def test_timestamps_in_and_out() -> None:
    params = request(
        "CreateSpendingLimit",
        {
            "clientToken": "c",
            "deviceArn": "d",
            "spendingLimit": "1.5",
            "timePeriod": {"startAt": 1700000000, "endAt": "2030-01-01T00:00:00Z"},
        },
    )
    assert params["timePeriod"]["startAt"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert params["timePeriod"]["endAt"].year == 2030
    assert parse_timestamp("2024-05-01T10:00:00+02:00") == datetime(2024, 5, 1, 8, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")

    moment = datetime(2021, 10, 28, 1, 17, 42, 898765, tzinfo=UTC)
    search = service_model().operation_model("SearchSpendingLimits")
    document = json.loads(
        serialize_output(
            search,
            {
                "spendingLimits": [
                    {
                        "spendingLimitArn": LIMIT,
                        "deviceArn": "d",
                        "spendingLimit": "1",
                        "queuedSpend": "0",
                        "totalSpend": "0",
                        "timePeriod": {"startAt": moment, "endAt": moment},
                        "createdAt": moment,
                        "updatedAt": moment,
                        "tags": None,
                    }
                ],
                "nextToken": None,
            },
        )
    )
    (limit,) = document["spendingLimits"]
    assert limit["createdAt"] == "2021-10-28T01:17:42.898Z"
    assert limit["timePeriod"]["startAt"] == moment.timestamp()
    assert "tags" not in limit and "nextToken" not in document


def test_json_value_members_are_serialized_as_strings() -> None:
    get_device = service_model().operation_model("GetDevice")
    document = json.loads(serialize_output(get_device, {"deviceArn": SV1, "deviceCapabilities": {"a": 1}}))
    assert json.loads(document["deviceCapabilities"]) == {"a": 1}
