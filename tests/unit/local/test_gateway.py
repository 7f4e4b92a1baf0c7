"""The stack's one endpoint: who gets in (Host, SigV4 signature), then routing by the signing service."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials
from werkzeug.test import Client, TestResponse

from covalent_braket_plugin.local.auth import Verifier
from covalent_braket_plugin.local.credentials import StackCredentials
from covalent_braket_plugin.local.gateway import Gateway, signing_region, signing_service
from covalent_braket_plugin.local.hosts import AllowedHosts
from covalent_braket_plugin.local.price_list import PRICE_LIST_PATH, PriceList
from covalent_braket_plugin.tasks import PriceTable

ENDPOINT = "http://127.0.0.1:9"
KEY = StackCredentials("AKIAEXAMPLEEXAMPLE00", "secret")
SIGNER_KEY = Credentials(KEY.aws_access_key_id, KEY.aws_secret_access_key)


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
        endpoint_url=ENDPOINT,
        aws_access_key_id=KEY.aws_access_key_id,
        aws_secret_access_key=KEY.aws_secret_access_key,
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
        hosts=AllowedHosts("127.0.0.1", 9),
        verifier=Verifier(KEY),
    )
    return Client(gateway)


def _send(client: Client, service: str, method: str, path: str) -> TestResponse:
    """``method path`` signed with the stack's key for ``service``, as a SigV4 client signs it."""
    request = AWSRequest(method=method, url=f"{ENDPOINT}{path}")
    SigV4Auth(SIGNER_KEY, service, "us-east-1").add_auth(request)
    return client.open(path, method=method, base_url=ENDPOINT, headers=dict(request.headers))


@pytest.mark.parametrize(
    ("service", "expected"), [("braket", "braket"), ("ecr", "ecr"), ("s3", "moto"), ("logs", "moto")]
)
def test_gateway_routes_by_signing_service(client: Client, service: str, expected: str) -> None:
    request = _signed_request(service)
    response = client.open(
        request.url.removeprefix(ENDPOINT),
        method=request.method,
        base_url=ENDPOINT,
        headers={k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()},
        data=request.body,
    )
    assert response.get_data(as_text=True) == expected


def test_paths_shared_by_services_still_reach_the_signed_service(client: Client) -> None:
    # Braket's /job/... and an S3 bucket named "job" share a path; only the signature tells them apart.
    assert _send(client, "braket", "GET", "/job/x").text == "braket"
    assert _send(client, "s3", "GET", "/job/x").text == "moto"


def test_admin_prefix_wins_over_any_signing_service(client: Client) -> None:
    assert _send(client, "braket", "GET", "/_local/health").text == "admin"
    assert _send(client, "local", "GET", "/_local/faults").text == "admin"


def test_unsigned_requests_are_refused_as_aws_refuses_them(client: Client) -> None:
    for path in ("/", "/_local/status"):
        response = client.get(path, base_url=ENDPOINT)
        assert response.status_code == 403
        assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_a_host_other_than_the_stacks_is_misdirected(client: Client) -> None:
    # Signed correctly for the Host it names, but that host is not the stack (DNS rebinding).
    request = AWSRequest(method="GET", url="http://attacker.example:9/_local/status")
    SigV4Auth(SIGNER_KEY, "local", "us-east-1").add_auth(request)
    headers = dict(request.headers)
    response = client.get("/_local/status", base_url="http://attacker.example:9", headers=headers)
    assert response.status_code == 421
    assert "attacker.example" in response.json["message"]


def test_a_request_signed_long_ago_is_refused(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    import botocore.auth

    long_ago = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: long_ago)
    response = _send(client, "braket", "GET", "/devices")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert response.json["message"].startswith("Signature expired")


def test_a_request_changed_after_signing_is_refused(client: Client) -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/job/mine")
    SigV4Auth(SIGNER_KEY, "braket", "us-east-1").add_auth(request)
    response = client.get("/job/someone-elses", base_url=ENDPOINT, headers=dict(request.headers))
    assert (response.status_code, response.headers["x-amzn-ErrorType"]) == (403, "InvalidSignatureException")


def test_the_price_list_is_read_unsigned_and_nothing_else_is() -> None:
    """The Braket SDK's Tracker reads the price list with a plain GET, as it reads AWS's; any other
    method, a query, or a path beside it stays refused, and a signed request is its service's."""
    gateway = Gateway(routes={}, admin=_named_app("admin"), fallback=_named_app("moto"),
                      hosts=AllowedHosts("127.0.0.1", 9), verifier=Verifier(KEY),
                      price_list=PriceList(PriceTable.load()))
    client = Client(gateway)
    served = client.get(PRICE_LIST_PATH, base_url=ENDPOINT)
    assert (served.status_code, served.mimetype) == (200, "text/csv")
    assert served.text.startswith('"FormatVersion","v1.0"\n')
    assert client.head(PRICE_LIST_PATH, base_url=ENDPOINT).status_code == 200
    refused = [
        client.get(f"{PRICE_LIST_PATH}?acl", base_url=ENDPOINT),
        client.put(PRICE_LIST_PATH, base_url=ENDPOINT, data=b"0"),
        client.delete(PRICE_LIST_PATH, base_url=ENDPOINT),
        client.get(PRICE_LIST_PATH.replace("index.csv", "index.json"), base_url=ENDPOINT),
        client.get("/_local/status", base_url=ENDPOINT),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert _send(client, "s3", "GET", PRICE_LIST_PATH).text == "moto"  # S3's bucket "offers"
