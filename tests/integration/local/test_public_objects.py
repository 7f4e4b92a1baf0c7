"""The one kind of unsigned request the stack lets in: a plain read of a pulse device's native gate
calibrations, which AWS links as a public URL. Every other unsigned request is refused as before,
even for objects whose ACL lets anyone read them, and a bad signature is refused even there."""

from __future__ import annotations

import uuid

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from braket.aws import AwsDevice
from braket.devices import Devices

from covalent_braket_plugin.local.stack import LocalStack

REFUSED = (403, "MissingAuthenticationTokenException")
"""What the stack answers an unsigned request it does not let in."""


def _refusal(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["__type"]


@pytest.fixture
def calibrations_url(braket_local_env: LocalStack) -> str:
    """The URL Cepheus's capabilities link its native gate calibrations at (published by GetDevice)."""
    return str(AwsDevice(Devices.Rigetti.Cepheus1108Q).properties.pulse.nativeGateCalibrationsRef)


def test_unsigned_reads_of_other_objects_are_refused(
    braket_local_env: LocalStack, calibrations_url: str
) -> None:
    s3 = boto3.client("s3")
    bucket = f"amazon-braket-public-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    calibrations_bucket = calibrations_url.removeprefix(braket_local_env.endpoint_url).split("/")[1]
    # Objects anyone may read by their ACL, beside the calibrations and in a bucket of their own.
    for where, key in ((calibrations_bucket, "other.json"), (bucket, "a.json")):
        s3.put_object(Bucket=where, Key=key, Body=b"{}", ACL="public-read")
        url = f"{braket_local_env.endpoint_url}/{where}/{key}"
        assert _refusal(requests.get(url, timeout=30)) == REFUSED, url
        assert s3.get_object(Bucket=where, Key=key)["Body"].read() == b"{}"  # it is there, signed


def test_only_plain_reads_of_the_calibrations_are_let_in(calibrations_url: str) -> None:
    before = requests.get(calibrations_url, timeout=30)
    assert before.status_code == 200
    assert _refusal(requests.put(calibrations_url, data=b"{}", timeout=30)) == REFUSED
    assert _refusal(requests.delete(calibrations_url, timeout=30)) == REFUSED
    assert _refusal(requests.get(f"{calibrations_url}?acl", timeout=30)) == REFUSED
    assert requests.get(calibrations_url, timeout=30).content == before.content


def test_a_bad_signature_is_refused_even_on_the_calibrations(
    braket_local_env: LocalStack, calibrations_url: str
) -> None:
    request = AWSRequest(method="GET", url=calibrations_url)
    key_id = braket_local_env.client_kwargs()["aws_access_key_id"]
    S3SigV4Auth(Credentials(key_id, "not-the-secret"), "s3", "us-east-1").add_auth(request)
    response = requests.get(calibrations_url, headers=dict(request.headers), timeout=30)
    assert response.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in response.text
