"""Who gets into the local stack: only holders of its key, only through its own address, as on AWS.

Every request is SigV4-verified (boto3, the unmodified Braket SDK, presigned S3 URLs, the admin
API); wrong keys get AWS's errors; the state dir and the key are its owner's alone, so another OS
user can neither read the key nor create a job.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from braket.aws import AwsDevice, AwsSession

from covalent_braket_plugin.local.credentials import CREDENTIALS_FILE
from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
UNRECOGNIZED, BAD_SIGNATURE = "UnrecognizedClientException", "InvalidSignatureException"
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def _client(stack: LocalStack, service: str, key_id: str | None = None, secret: str | None = None) -> Any:
    kwargs = stack.client_kwargs()
    kwargs["aws_access_key_id"] = key_id or kwargs["aws_access_key_id"]
    kwargs["aws_secret_access_key"] = secret or kwargs["aws_secret_access_key"]
    return boto3.client(service, **kwargs, config=NO_RETRIES)


def _error(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_state_dir_and_credentials_are_the_owners_alone(braket_local_stack: LocalStack) -> None:
    assert stat.S_IMODE(braket_local_stack.state_dir.stat().st_mode) == 0o700
    key_file = braket_local_stack.state_dir / CREDENTIALS_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert braket_local_stack.environment()["AWS_ACCESS_KEY_ID"] == json.loads(key_file.read_text())[
        "aws_access_key_id"
    ]
    assert braket_local_stack.environment()["AWS_ACCESS_KEY_ID"] != "testing"


@pytest.mark.parametrize(
    ("service", "call", "unknown_key", "wrong_secret"),
    [
        ("braket", lambda c: c.get_device(deviceArn=SV1), UNRECOGNIZED, BAD_SIGNATURE),
        ("s3", lambda c: c.list_buckets(), "InvalidAccessKeyId", "SignatureDoesNotMatch"),
        ("ecr", lambda c: c.describe_repositories(), UNRECOGNIZED, BAD_SIGNATURE),
        ("logs", lambda c: c.describe_log_groups(), UNRECOGNIZED, BAD_SIGNATURE),
        ("iam", lambda c: c.list_roles(), "InvalidClientTokenId", "SignatureDoesNotMatch"),
    ],
)
def test_wrong_credentials_get_aws_errors(
    braket_local_stack: LocalStack, service: str, call: Any, unknown_key: str, wrong_secret: str
) -> None:
    stack = braket_local_stack
    assert _error(lambda: call(_client(stack, service, key_id="AKIAIOSFODNN7EXAMPLE"))) == (unknown_key, 403)
    assert _error(lambda: call(_client(stack, service, secret="not-the-secret"))) == (wrong_secret, 403)
    call(_client(stack, service))  # the stack's own key gets in


def test_the_unmodified_braket_sdk_is_refused_with_a_wrong_secret(braket_local_env: LocalStack) -> None:
    good = braket_local_env.client_kwargs()
    session = boto3.Session(
        aws_access_key_id=good["aws_access_key_id"], aws_secret_access_key="wrong", region_name="us-east-1"
    )
    with pytest.raises(ClientError) as caught:
        AwsDevice(SV1, aws_session=AwsSession(boto_session=session))
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert AwsDevice(SV1).status == "ONLINE"  # the stack's key, from the environment


@pytest.mark.parametrize("signature_version", [None, "s3v4"])  # boto3's default for S3 is SigV2
def test_presigned_urls_work_and_tampered_or_expired_ones_do_not(
    braket_local_stack: LocalStack, signature_version: str | None
) -> None:
    config = Config(signature_version=signature_version)
    s3 = boto3.client("s3", **braket_local_stack.client_kwargs(), config=config)
    bucket = f"amazon-braket-presign-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.txt"}, ExpiresIn=60)
    assert requests.get(url, timeout=30).content == b"hello"
    tampered = requests.get(url.replace("a.txt", "b.txt"), timeout=30)
    assert tampered.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in tampered.text
    short = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a.txt"}, ExpiresIn=1)
    time.sleep(2)
    expired = requests.get(short, timeout=30)
    assert (expired.status_code, "Request has expired" in expired.text) == (403, True)


def test_the_admin_api_needs_the_stacks_key(braket_local_stack: LocalStack) -> None:
    url = f"{braket_local_stack.endpoint_url}/_local/faults"
    assert requests.put(url, json={"throttle_rate": 1.0}, timeout=30).status_code == 403
    forged = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("AKIAIOSFODNN7EXAMPLE", "x"), "local", "us-east-1").add_auth(forged)
    refused = requests.get(url, headers=dict(forged.headers), timeout=30)
    assert (refused.status_code, refused.json()["__type"]) == (403, "UnrecognizedClientException")
    assert braket_local_stack.faults()["throttle_rate"] == 0.0  # the unsigned PUT changed nothing


def test_requests_for_another_host_are_misdirected(braket_local_stack: LocalStack) -> None:
    # What a web page's request looks like after DNS rebinding: the stack's address, a foreign Host.
    response = requests.get(
        f"{braket_local_stack.endpoint_url}/_local/health", headers={"Host": "rebound.example:80"}, timeout=30
    )
    assert response.status_code == 421
    assert "rebound.example" in response.json()["message"]


def test_a_non_loopback_host_needs_allow_remote(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--allow-remote"):
        LocalStack(host="0.0.0.0", state_dir=tmp_path)


def test_keys_issued_by_the_stacks_sts_are_accepted(braket_local_stack: LocalStack) -> None:
    issued = _client(braket_local_stack, "sts").assume_role(
        RoleArn="arn:aws:iam::123456789012:role/any", RoleSessionName="session"
    )["Credentials"]
    braket = boto3.client(
        "braket", endpoint_url=braket_local_stack.endpoint_url, region_name="us-east-1",
        aws_access_key_id=issued["AccessKeyId"], aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"], config=NO_RETRIES,
    )
    assert braket.get_device(deviceArn=SV1)["deviceStatus"] == "ONLINE"


# ------------------------------------------------------------------ another OS user
OUTSIDER_SCRIPT = textwrap.dedent(
    """
    import datetime, hashlib, hmac, json, os, sys, urllib.error, urllib.request

    state_dir, endpoint = sys.argv[1], sys.argv[2]
    found = {}
    try:
        open(os.path.join(state_dir, "credentials.json")).read()
        found["read_credentials"] = "yes"
    except OSError as exc:
        found["read_credentials"] = type(exc).__name__
    try:
        os.listdir(state_dir)
        found["list_state_dir"] = "yes"
    except OSError as exc:
        found["list_state_dir"] = type(exc).__name__

    def call(method, path, body, key_id, secret):
        host = endpoint.split("//", 1)[1]
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload = hashlib.sha256(body).hexdigest()
        headers = [f"host:{host}", f"x-amz-date:{stamp}", ""]
        canonical = "\\n".join([method, path, "", *headers, "host;x-amz-date", payload])
        scope = f"{day}/us-east-1/braket/aws4_request"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = "\\n".join(["AWS4-HMAC-SHA256", stamp, scope, digest])
        key = ("AWS4" + secret).encode()
        for part in (day, "us-east-1", "braket", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers = {
            "x-amz-date": stamp, "Content-Type": "application/json",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
                             f"SignedHeaders=host;x-amz-date, Signature={signature}",
        }
        request = urllib.request.Request(endpoint + path, data=body or None, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    role = "arn:aws:iam::123456789012:role/r"
    job = json.dumps({"jobName": "intruder", "clientToken": "t", "roleArn": role})
    found["create_job"] = call("POST", "/job", job.encode(), "testing", "testing")
    found["admin_status"] = call("GET", "/_local/status", b"", "testing", "testing")
    print(json.dumps(found))
    """
)


@pytest.fixture
def outsider() -> Iterator[str]:
    """A fresh unprivileged OS user, removed afterwards."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("creating another OS user needs root and useradd")
    name = f"braketout{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


def test_another_os_user_is_kept_out(outsider: str) -> None:
    # The state dir sits in a directory anyone may enter, so only its own mode keeps the outsider out.
    parent = Path(tempfile.mkdtemp(prefix="braket-security-"))
    parent.chmod(0o755)
    try:
        with LocalStack(runner="process", state_dir=parent / "state") as stack:
            user = pwd.getpwnam(outsider)
            result = subprocess.run(
                ["/usr/bin/python3", "-I", "-c", OUTSIDER_SCRIPT, str(stack.state_dir), stack.endpoint_url],
                user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, timeout=120, check=True,
            )
            found = json.loads(result.stdout)
            assert found["read_credentials"] == "PermissionError"
            assert found["list_state_dir"] == "PermissionError"
            status, body = found["create_job"]
            assert (status, json.loads(body)["__type"]) == (403, "UnrecognizedClientException")
            assert found["admin_status"][0] == 403
            assert stack.status()["jobs"]["total"] == 0
    finally:
        shutil.rmtree(parent, ignore_errors=True)
