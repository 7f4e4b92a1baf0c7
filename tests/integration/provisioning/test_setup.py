"""``covalent-braket setup`` against the local stack's S3, ECR, IAM and STS (moto behind HTTP).

The resources are read back through the real APIs, and the calls setup makes are recorded from
botocore's own events, so "a second run changes nothing" means it made no write call at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import toml

from covalent_braket_plugin.cli import main
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.provisioning import policies
from covalent_braket_plugin.provisioning.ecr import lifecycle_policy
from covalent_braket_plugin.provisioning.engine import ProvisioningError
from covalent_braket_plugin.provisioning.s3 import EXPIRY_RULE_ID, PUBLIC_ACCESS_BLOCK, expiry_rule
from covalent_braket_plugin.provisioning.setup import (
    DEFAULT_EXPIRE_DAYS,
    DEFAULT_KEEP_TAGGED,
    DEFAULT_UNTAGGED_DAYS,
    AccountSetup,
    SetupOptions,
)
from covalent_braket_plugin.testing.pytest_plugin import point_at

READ_PREFIXES = ("Get", "Describe", "List", "Head")
# S3 operations whose IAM action has another name.
S3_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets",
    "HeadBucket": "ListBucket",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
}


@pytest.fixture
def aws(stack: LocalStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """boto3 (in this process and in setup) pointed at the stack; covalent.conf in a fresh directory."""
    point_at(stack, monkeypatch)
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(tmp_path / "covalent"))
    return lambda service, region=stack.region: boto3.client(service, **{**stack.client_kwargs(),
                                                                         "region_name": region})


class Recorder:
    """A boto3 session that records the name of every API operation its clients call."""

    def __init__(self) -> None:
        self.session = boto3.session.Session()
        self.calls: list[str] = []
        self.services: list[str] = []
        self.session.events.register("before-call", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
        self.services.append(model.service_model.service_name)

    def iam_actions(self) -> set[str]:
        """The IAM action of each call (S3 names several differently from its operations)."""
        return {f"{service}:{S3_ACTIONS.get(call, call) if service == 's3' else call}"
                for service, call in zip(self.services, self.calls, strict=True)}

    def writes(self) -> list[str]:
        return [call for call in self.calls if not call.startswith(READ_PREFIXES)]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["setup", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def actions(report: dict[str, Any]) -> dict[str, str]:
    return {result["kind"]: result["action"] for result in report["results"]}


def resource_state(aws: Any, bucket: str, repository: str, role: str, region: str = "us-east-1") -> dict:
    """Everything setup manages, read back from the APIs."""
    s3, ecr, iam = aws("s3", region), aws("ecr", region), aws("iam")
    return {
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"],
        "public_access": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "location": s3.get_bucket_location(Bucket=bucket).get("LocationConstraint"),
        "bucket_lifecycle": s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
        "repository": ecr.describe_repositories(repositoryNames=[repository])["repositories"][0],
        "lifecycle": json.loads(ecr.get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"]),
        "role": iam.get_role(RoleName=role)["Role"],
        "policies": {
            name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        },
    }


def test_setup_on_an_empty_account_then_again(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf_file = tmp_path / "covalent" / "covalent.conf"
    conf_file.parent.mkdir()
    conf_file.write_text('[sdk]\nlog_level = "info"\n\n[executors.braket]\npoll_freq = 5\n')
    account = aws("sts").get_caller_identity()["Account"]

    code, report = run_cli(capsys)
    assert code == 0 and report["error"] is None
    assert actions(report) == {
        "s3 bucket": "created", "s3 lifecycle rule": "created", "ecr repository": "created",
        "iam role": "created", "covalent.conf": "updated",
    }

    bucket, repository = "amazon-braket-covalent-job-resources", "amazon-braket-covalent-job-images"
    role = policies.JOB_ROLE_DEFAULT_NAME
    state = resource_state(aws, bucket, repository, role)
    assert state["encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert state["public_access"] == PUBLIC_ACCESS_BLOCK
    assert state["location"] in (None, "us-east-1")
    assert state["bucket_lifecycle"] == [expiry_rule(DEFAULT_EXPIRE_DAYS)]
    assert state["repository"]["imageScanningConfiguration"] == {"scanOnPush": False}
    assert state["lifecycle"] == lifecycle_policy(DEFAULT_KEEP_TAGGED, DEFAULT_UNTAGGED_DAYS)
    assert state["role"]["Path"] == "/service-role/"
    assert state["role"]["AssumeRolePolicyDocument"] == policies.job_role_trust_policy(account=account)
    assert state["policies"] == {
        policies.JOB_ROLE_POLICY_NAME: policies.job_role_policy(
            bucket=bucket, repository=repository, region="us-east-1", account=account
        )
    }
    written = toml.loads(conf_file.read_text())
    assert written["sdk"] == {"log_level": "info"}
    assert written["executors"]["braket"] == {
        "poll_freq": 5,
        "s3_bucket_name": bucket,
        "ecr_repo_name": repository,
        "braket_job_execution_role_name": f"service-role/{role}",
        "region": "us-east-1",
    }

    conf_bytes, conf_mtime = conf_file.read_bytes(), conf_file.stat().st_mtime_ns
    recorder = Recorder()
    again = AccountSetup(recorder.session, SetupOptions(region="us-east-1")).run(log=lambda result: None)
    assert {result.action for result in again} == {"unchanged"}
    assert recorder.calls and recorder.writes() == []
    assert resource_state(aws, bucket, repository, role) == state
    assert conf_file.read_bytes() == conf_bytes and conf_file.stat().st_mtime_ns == conf_mtime


def test_dry_run_reads_only_and_changes_nothing(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = SetupOptions(
        region="us-east-1", bucket="amazon-braket-dry-run", repository="amazon-braket-dry-run",
        role_name="DryRunJobs",
    )
    recorder = Recorder()
    planned = AccountSetup(recorder.session, options).run(dry_run=True, log=lambda result: None)
    assert [(r.kind, r.action) for r in planned] == [
        ("s3 bucket", "would create"), ("s3 lifecycle rule", "would create"),
        ("ecr repository", "would create"), ("iam role", "would create"), ("covalent.conf", "would create"),
    ]
    assert recorder.calls and recorder.writes() == []
    assert "amazon-braket-dry-run" not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    ecr = aws("ecr")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=["amazon-braket-dry-run"])
    iam = aws("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="DryRunJobs")
    assert not (tmp_path / "covalent" / "covalent.conf").exists()

    code, report = run_cli(capsys, "--dry-run", "--bucket", "amazon-braket-dry-run", "--repository",
                           "amazon-braket-dry-run", "--role-name", "DryRunJobs")
    assert code == 0 and report["dry_run"] is True
    assert set(actions(report).values()) == {"would create"}


def test_drifted_resources_are_updated_and_said_so(aws: Any, tmp_path: Path) -> None:
    bucket, repository, role = "amazon-braket-drifted", "amazon-braket-drifted", "DriftedJobs"
    account = aws("sts").get_caller_identity()["Account"]
    aws("s3").create_bucket(Bucket=bucket)
    aws("ecr").create_repository(repositoryName=repository, imageScanningConfiguration={"scanOnPush": True})
    iam = aws("iam")
    iam.create_role(
        RoleName=role, Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps(policies.job_role_trust_policy()),  # no account condition
    )
    iam.put_role_policy(RoleName=role, PolicyName=policies.JOB_ROLE_POLICY_NAME, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    ))
    conf_file = tmp_path / "covalent.conf"
    conf_file.write_text('[executors.braket]\ns3_bucket_name = "amazon-braket-old"\nregoin = "x"\n')

    options = SetupOptions(region="us-east-1", bucket=bucket, repository=repository, role_name=role,
                           conf_path=conf_file)
    results = {r.kind: r for r in AccountSetup(boto3.session.Session(), options).run(log=lambda r: None)}

    assert results["s3 bucket"].action == "updated"
    assert "public access block" in results["s3 bucket"].detail and "SSE-S3" in results["s3 bucket"].detail
    assert results["ecr repository"].action == "updated"
    assert "scan on push is on: left as it is" in results["ecr repository"].detail
    assert results["iam role"].action == "updated"
    assert "trust policy" in results["iam role"].detail and "inline policy" in results["iam role"].detail
    assert results["covalent.conf"].action == "updated"
    assert "regoin" in results["covalent.conf"].detail

    state = resource_state(aws, bucket, repository, role)
    assert state["public_access"] == PUBLIC_ACCESS_BLOCK
    assert state["lifecycle"] == lifecycle_policy(DEFAULT_KEEP_TAGGED, DEFAULT_UNTAGGED_DAYS)
    assert state["repository"]["imageScanningConfiguration"] == {"scanOnPush": True}
    assert state["role"]["AssumeRolePolicyDocument"] == policies.job_role_trust_policy(account=account)
    assert state["policies"][policies.JOB_ROLE_POLICY_NAME] == policies.job_role_policy(
        bucket=bucket, repository=repository, region="us-east-1", account=account
    )
    section = toml.loads(conf_file.read_text())["executors"]["braket"]
    assert section["s3_bucket_name"] == bucket and section["regoin"] == "x"


def test_a_region_other_than_us_east_1_gets_its_location_constraint(aws: Any, tmp_path: Path) -> None:
    options = SetupOptions(region="eu-north-1", bucket="amazon-braket-stockholm",
                           repository="amazon-braket-stockholm", role_name="StockholmJobs",
                           conf_path=tmp_path / "covalent.conf", keep_tagged_images=3, untagged_image_days=7)
    AccountSetup(boto3.session.Session(), options).run(log=lambda r: None)
    state = resource_state(aws, "amazon-braket-stockholm", "amazon-braket-stockholm", "StockholmJobs",
                           region="eu-north-1")
    assert state["location"] == "eu-north-1"
    assert state["lifecycle"] == lifecycle_policy(keep_tagged=3, untagged_days=7)
    assert "eu-north-1" in json.dumps(state["policies"])

    # The same names asked for in another region: the bucket is where it is, and setup says so.
    elsewhere = SetupOptions(region="us-west-2", bucket="amazon-braket-stockholm",
                             repository="amazon-braket-stockholm", role_name="StockholmJobs",
                             write_conf=False)
    with pytest.raises(ProvisioningError) as raised:
        AccountSetup(boto3.session.Session(), elsewhere).run(log=lambda r: None)
    assert raised.value.step == "s3 bucket" and "--region eu-north-1" in raised.value.fix


def test_another_accounts_bucket_stops_setup_with_the_fix(
    aws: Any, stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = aws("sts").assume_role(RoleArn="arn:aws:iam::111122223333:role/owner", RoleSessionName="owner")
    credentials = other["Credentials"]
    boto3.client(
        "s3", endpoint_url=stack.endpoint_url, region_name=stack.region,
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).create_bucket(Bucket="amazon-braket-taken")

    code, report = run_cli(capsys, "--bucket", "amazon-braket-taken", "--repository", "amazon-braket-taken",
                           "--role-name", "TakenJobs")
    assert code == 1
    assert report["error"]["step"] == "s3 bucket"
    assert "another AWS account" in report["error"]["problem"] and "--bucket" in report["error"]["fix"]
    # Later steps did not run.
    ecr = aws("ecr")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=["amazon-braket-taken"])


def test_a_failing_step_keeps_what_earlier_steps_did(aws: Any, tmp_path: Path) -> None:
    broken = tmp_path / "covalent.conf"
    broken.write_text("[executors.braket\n")
    options = SetupOptions(region="us-east-1", bucket="amazon-braket-kept", repository="amazon-braket-kept",
                           role_name="KeptJobs", conf_path=broken)
    with pytest.raises(ProvisioningError) as raised:
        AccountSetup(boto3.session.Session(), options).run(log=lambda r: None)
    assert raised.value.step == "covalent.conf" and "--conf" in raised.value.fix
    assert [r.action for r in raised.value.results] == ["created", "created", "created", "created"]
    assert resource_state(aws, "amazon-braket-kept", "amazon-braket-kept", "KeptJobs")["role"]
    assert broken.read_text() == "[executors.braket\n"


def test_iam_policy_takes_the_account_from_sts(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    account = aws("sts").get_caller_identity()["Account"]
    assert main(["iam-policy", "--which", "trust", "--no-conf"]) == 0
    assert json.loads(capsys.readouterr().out) == policies.job_role_trust_policy(account=account)


def test_setup_needs_exactly_the_documented_actions(aws: Any, tmp_path: Path) -> None:
    name = "amazon-braket-permissions"
    options = SetupOptions(region="us-east-1", bucket=name, repository=name, role_name="PermissionJobs",
                           conf_path=tmp_path / "covalent.conf")
    recorder = Recorder()
    AccountSetup(recorder.session, options).run(log=lambda r: None)
    s3, ecr, iam = aws("s3"), aws("ecr"), aws("iam")
    s3.delete_public_access_block(Bucket=name)
    s3.delete_bucket_encryption(Bucket=name)
    s3.delete_bucket_lifecycle(Bucket=name)
    ecr.delete_lifecycle_policy(repositoryName=name)
    iam.update_assume_role_policy(RoleName="PermissionJobs",
                                  PolicyDocument=json.dumps(policies.job_role_trust_policy()))
    iam.delete_role_policy(RoleName="PermissionJobs", PolicyName=policies.JOB_ROLE_POLICY_NAME)
    updated = AccountSetup(recorder.session, options).run(log=lambda r: None)
    assert [r.action for r in updated] == ["updated", "created", "updated", "updated", "unchanged"]
    assert recorder.iam_actions() == set(policies.SETUP_ACTIONS)


def test_the_expiry_rule_joins_the_buckets_other_lifecycle_rules(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = "amazon-braket-lifecycle"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    theirs = [
        {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 7}},
        {"ID": "archive", "Filter": {"Prefix": "archive/"}, "Status": "Enabled",
         "Transitions": [{"Days": 60, "StorageClass": "GLACIER"}]},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": theirs})
    flags = ("--bucket", bucket, "--repository", bucket, "--role-name", "LifecycleJobs", "--no-conf")

    code, report = run_cli(capsys, "--dry-run", "--expire-days", "12", *flags)
    assert code == 0 and actions(report)["s3 lifecycle rule"] == "would create"
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == theirs

    code, report = run_cli(capsys, "--expire-days", "12", *flags)
    assert code == 0 and actions(report)["s3 lifecycle rule"] == "created"
    assert "2 other rule(s) kept" in report["results"][1]["detail"]
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [*theirs, expiry_rule(12)]

    code, report = run_cli(capsys, "--expire-days", "12", *flags)
    assert actions(report)["s3 lifecycle rule"] == "unchanged"
    code, report = run_cli(capsys, *flags)  # the default days: the rule is updated in place
    assert actions(report)["s3 lifecycle rule"] == "updated"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules == [*theirs, expiry_rule(DEFAULT_EXPIRE_DAYS)]
    assert [rule["ID"] for rule in rules].count(EXPIRY_RULE_ID) == 1

    code = main(["setup", "--expire-days", "0", *flags])
    assert code == 2 and "--expire-days 0" in capsys.readouterr().err
