"""How setup turns what AWS refuses into a step, a problem and a fix (AWS stubbed with botocore's Stubber).

The local stack does not enforce IAM, so an AccessDenied can only be shown here; everything setup
creates is tested against the local stack in tests/integration/provisioning/test_setup.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.provisioning import s3 as s3_kind
from covalent_braket_plugin.provisioning.engine import Provisioner, ProvisioningError
from covalent_braket_plugin.provisioning.s3 import (
    EXPIRY_PREFIX,
    PUBLIC_ACCESS_BLOCK,
    SSE_S3,
    expiring_rule,
    expiry_rule,
)
from covalent_braket_plugin.provisioning.setup import DEFAULT_EXPIRE_DAYS, AccountSetup, SetupOptions

ACCOUNT = "210987654321"
BUCKET = "amazon-braket-covalent-job-resources"


class StubbedSetup(AccountSetup):
    """Setup whose clients (made once by its session, then reused) answer from stubs instead of AWS."""

    def __init__(self, options: SetupOptions) -> None:
        session = AwsSession(boto3.session.Session(
            aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
        ))
        super().__init__(session, options)
        self.stubs = {service: Stubber(session.client(service)) for service in ("sts", "s3", "ecr", "iam")}


@pytest.fixture
def setup() -> Iterator[StubbedSetup]:
    stubbed = StubbedSetup(SetupOptions(region="us-east-1", write_conf=False))
    for stub in stubbed.stubs.values():
        stub.activate()
    stubbed.stubs["sts"].add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/u", "UserId": "U"}
    )
    yield stubbed
    for stub in stubbed.stubs.values():
        stub.deactivate()


def existing_bucket(s3: Stubber) -> None:
    s3.add_response("list_buckets", {"Buckets": [{"Name": BUCKET}]}, {"Prefix": BUCKET})
    s3.add_response("get_bucket_location", {"LocationConstraint": ""}, {"Bucket": BUCKET})
    s3.add_response(
        "get_public_access_block", {"PublicAccessBlockConfiguration": PUBLIC_ACCESS_BLOCK}, {"Bucket": BUCKET}
    )
    s3.add_response(
        "get_bucket_encryption", {"ServerSideEncryptionConfiguration": SSE_S3}, {"Bucket": BUCKET}
    )
    s3.add_response(
        "get_bucket_lifecycle_configuration", {"Rules": [expiry_rule(DEFAULT_EXPIRE_DAYS)]},
        {"Bucket": BUCKET},
    )


def test_access_denied_names_the_step_and_keeps_the_earlier_ones(setup: StubbedSetup) -> None:
    existing_bucket(setup.stubs["s3"])
    setup.stubs["ecr"].add_client_error(
        "describe_repositories", service_error_code="AccessDeniedException",
        service_message="User: u is not authorized to perform: ecr:DescribeRepositories",
        http_status_code=400,
    )
    logged: list[Any] = []
    with pytest.raises(ProvisioningError) as raised:
        setup.run(log=logged.append)
    error = raised.value
    assert error.step == "ecr repository"
    assert "access denied to DescribeRepositories" in error.problem
    assert "administrator" in error.fix and "run setup again" in error.fix
    assert [(r.kind, r.action) for r in error.results] == [
        ("s3 bucket", "unchanged"), ("s3 lifecycle rule", "unchanged"),
    ]
    assert logged == error.results
    setup.stubs["iam"].assert_no_pending_responses()  # the role step never ran


def test_another_refusal_is_reported_with_its_code(setup: StubbedSetup) -> None:
    setup.stubs["s3"].add_client_error(
        "list_buckets", service_error_code="InvalidToken", service_message="The token is malformed",
        http_status_code=400,
    )
    with pytest.raises(ProvisioningError) as raised:
        setup.run(log=lambda result: None)
    assert raised.value.step == "s3 bucket"
    assert "InvalidToken" in raised.value.problem and "run setup again" in raised.value.fix


def test_a_kms_encrypted_bucket_is_left_encrypted_with_kms(setup: StubbedSetup) -> None:
    s3 = setup.stubs["s3"]
    s3.add_response("list_buckets", {"Buckets": [{"Name": BUCKET}]}, {"Prefix": BUCKET})
    s3.add_response("get_bucket_location", {"LocationConstraint": ""}, {"Bucket": BUCKET})
    s3.add_response(
        "get_public_access_block", {"PublicAccessBlockConfiguration": PUBLIC_ACCESS_BLOCK}, {"Bucket": BUCKET}
    )
    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}
    s3.add_response("get_bucket_encryption", {"ServerSideEncryptionConfiguration": kms}, {"Bucket": BUCKET})
    run = Provisioner(setup.session, "us-east-1", command="setup", permissions_doc="docs/aws-setup.md")
    result = s3_kind.ensure_bucket(run, BUCKET)
    assert result.action == "unchanged"
    s3.assert_no_pending_responses()  # and no PutBucketEncryption was made


@pytest.mark.parametrize(
    ("rule", "covers"),
    [
        (expiry_rule(30), True),
        ({"ID": "all", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 90}}, True),
        ({"ID": "legacy", "Prefix": "", "Status": "Enabled", "Expiration": {"Days": 90}}, True),
        ({"ID": "c", "Filter": {"Prefix": "cov"}, "Status": "Enabled", "Expiration": {"Days": 9}}, True),
        ({**expiry_rule(30), "Status": "Disabled"}, False),
        ({"ID": "runner", "Filter": {"Prefix": f"{EXPIRY_PREFIX}runner/"}, "Status": "Enabled",
          "Expiration": {"Days": 9}}, False),
        ({"ID": "tagged", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, "Status": "Enabled",
          "Expiration": {"Days": 9}}, False),
        ({"ID": "abort-only", "Filter": {"Prefix": ""}, "Status": "Enabled",
          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}, False),
    ],
)
def test_only_an_enabled_expiration_of_the_whole_prefix_counts_as_expiry(rule: dict, covers: bool) -> None:
    assert (expiring_rule([rule]) == rule) is covers
