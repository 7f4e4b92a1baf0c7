"""Routing of the stack's one endpoint by the SigV4 signing service."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest
from werkzeug.test import Client

from covalent_braket_plugin.local.gateway import Gateway, signing_region, signing_service


def _named_app(name: str) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [name.encode()]

    return app


def _signed_request(service: str, region: str = "eu-north-1") -> AWSPreparedRequest:
    """The request boto3 really sends for a simple call of ``service``, captured before it leaves."""
    captured: list[AWSPreparedRequest] = []
    client = boto3.client(
        service,
        region_name=region,
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        captured.append(request)
        raise RuntimeError("captured")

    client.meta.events.register("before-send", capture)
    calls = {
        "braket": lambda: client.search_devices(filters=[]),
        "ecr": lambda: client.describe_repositories(),
        "s3": lambda: client.list_buckets(),
        "logs": lambda: client.describe_log_groups(),
    }
    with pytest.raises(RuntimeError, match="captured"):
        calls[service]()
    return captured[0]


@pytest.mark.parametrize("service", ["braket", "ecr", "s3", "logs"])
def test_signing_service_and_region_come_from_the_credential_scope(service: str) -> None:
    request = _signed_request(service)
    authorization = request.headers["Authorization"]
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    environ = {"HTTP_AUTHORIZATION": authorization}
    assert signing_service(environ) == service
    assert signing_region(environ) == "eu-north-1"


def test_unsigned_requests_have_no_signing_service() -> None:
    assert signing_service({}) is None
    assert signing_region({"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}) is None


@pytest.fixture
def client() -> Client:
    gateway = Gateway(
        routes={"braket": _named_app("braket"), "ecr": _named_app("ecr")},
        admin=_named_app("admin"),
        fallback=_named_app("moto"),
    )
    return Client(gateway)


@pytest.mark.parametrize(
    ("service", "expected"), [("braket", "braket"), ("ecr", "ecr"), ("s3", "moto"), ("logs", "moto")]
)
def test_gateway_routes_by_signing_service(client: Client, service: str, expected: str) -> None:
    request = _signed_request(service)
    response = client.open(
        request.url.replace("http://127.0.0.1:9", ""),
        method=request.method,
        headers=dict(request.headers),
        data=request.body,
    )
    assert response.get_data(as_text=True) == expected


def test_paths_shared_by_services_still_reach_the_signed_service(client: Client) -> None:
    # Braket's /job/... and an S3 bucket named "job" share a path; only the signature tells them apart.
    scope = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, Signature=x"
    assert client.get("/job/x", headers={"Authorization": scope.format("braket")}).text == "braket"
    assert client.get("/job/x", headers={"Authorization": scope.format("s3")}).text == "moto"


def test_admin_prefix_wins_over_any_signature(client: Client) -> None:
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=t/20260101/us-east-1/braket/aws4_request"}
    assert client.get("/_local/health", headers=signed).text == "admin"
    assert client.get("/_local/faults").text == "admin"


def test_unsigned_requests_go_to_moto(client: Client) -> None:
    assert client.get("/").text == "moto"
