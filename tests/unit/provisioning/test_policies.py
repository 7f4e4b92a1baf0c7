"""The IAM policies: well-formed, real action names, and scoped to the one bucket, repository and role."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from covalent_braket_plugin import s3_layout
from covalent_braket_plugin.executor import transfer
from covalent_braket_plugin.provisioning import policies

BUCKET = "amazon-braket-team-results"
REPOSITORY = "amazon-braket-team-images"
REGION = "eu-north-1"
ACCOUNT = "210987654321"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/{policies.JOB_ROLE_DEFAULT_NAME}"
SCOPE = {"bucket": BUCKET, "repository": REPOSITORY, "region": REGION, "account": ACCOUNT}

# IAM can scope these to nothing narrower than "*" (no resource-level permissions).
UNSCOPED_ACTIONS = {
    "ecr:GetAuthorizationToken", "braket:GetDevice", "braket:SearchDevices", "braket:SearchJobs",
    "braket:SearchQuantumTasks", "cloudwatch:PutMetricData", "sts:GetCallerIdentity",
}
# IAM actions whose name is not an API operation of the service's botocore model.
PERMISSION_ONLY_ACTIONS = {
    "s3:ListBucket", "s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock", "iam:PassRole",
    "s3:DeleteObjectVersion",
}


def job_role() -> dict[str, Any]:
    return policies.job_role_policy(**SCOPE)


def user() -> dict[str, Any]:
    return policies.user_policy(**SCOPE, role_arn=ROLE_ARN)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["Statement"]


def allows(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [statement for statement in statements(document) if statement["Effect"] == "Allow"]


def resources(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return [resource] if isinstance(resource, str) else resource


@cache
def operations(service: str) -> frozenset[str]:
    return frozenset(botocore.session.get_session().get_service_model(service).operation_names)


def trust() -> dict[str, Any]:
    return policies.job_role_trust_policy(account=ACCOUNT)


DOCUMENTS = {"job role": job_role, "user": user, "trust": trust}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_documents_are_iam_policy_json(name: str) -> None:
    document = json.loads(json.dumps(DOCUMENTS[name]()))
    assert document["Version"] == "2012-10-17"
    assert statements(document)
    sids = [s["Sid"] for s in statements(document) if "Sid" in s]
    assert len(sids) == len(set(sids))
    for statement in statements(document):
        assert statement["Effect"] in ("Allow", "Deny")
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action) for action in actions), actions
        assert len(actions) == len(set(actions))


@pytest.mark.parametrize("name", ["job role", "user"])
def test_every_action_is_a_real_iam_action(name: str) -> None:
    for statement in statements(DOCUMENTS[name]()):
        for action in statement["Action"]:
            if action in PERMISSION_ONLY_ACTIONS:
                continue
            service, operation = action.split(":")
            assert operation in operations(service), f"{action} is not an operation of {service}"


@pytest.mark.parametrize("name", ["job role", "user"])
def test_star_resources_only_where_iam_cannot_scope(name: str) -> None:
    for statement in statements(DOCUMENTS[name]()):
        if "*" in resources(statement):
            assert set(statement["Action"]) <= UNSCOPED_ACTIONS, statement
        for resource in resources(statement):
            assert resource == "*" or ACCOUNT in resource or f":s3:::{BUCKET}" in resource or (
                resource.endswith(f":repository/{policies.BASE_IMAGE_REPOSITORY}")
                or resource == "arn:aws:iam::aws:policy/*"
            ), resource


@pytest.mark.parametrize("name", ["job role", "user"])
def test_services_are_scoped_to_the_one_bucket_repository_and_log_group(name: str) -> None:
    for statement in statements(DOCUMENTS[name]()):
        services = {action.split(":")[0] for action in statement["Action"]}
        if services == {"s3"}:
            assert all(r == f"arn:aws:s3:::{BUCKET}" or r.startswith(f"arn:aws:s3:::{BUCKET}/")
                       for r in resources(statement))
        if "ecr" in services and statement["Resource"] != "*":
            assert resources(statement) in (
                [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}"],
                [f"arn:aws:ecr:{REGION}:292282985366:repository/amazon-braket-base-jobs"],
            )
        if services == {"logs"}:
            group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/braket/jobs"
            assert resources(statement) == [group, f"{group}:*"]
        if "braket" in services and statement["Resource"] != "*":
            assert all(
                re.fullmatch(rf"arn:aws:braket:{REGION}:{ACCOUNT}:(job|quantum-task)/\*", r)
                for r in resources(statement)
            )


def test_metrics_are_limited_to_the_braket_namespace() -> None:
    (metrics,) = [s for s in statements(job_role()) if "cloudwatch:PutMetricData" in s["Action"]]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/braket"}}


def test_the_user_passes_exactly_the_job_role_and_only_to_braket() -> None:
    on_iam = [s for s in statements(user()) if any(a.startswith("iam:") for a in s["Action"])]
    for statement in on_iam:
        if statement["Resource"] == "arn:aws:iam::aws:policy/*":  # AWS managed policies, for the doctor
            assert statement["Action"] == ["iam:GetPolicy", "iam:GetPolicyVersion"]
        else:
            assert statement["Resource"] == ROLE_ARN
            assert {"iam:PassRole", "iam:GetRole", "iam:GetRolePolicy"} & set(statement["Action"])
    granted = {a for s in on_iam for a in s["Action"]}
    assert not {a for a in granted if a.startswith(("iam:Create", "iam:Put", "iam:Update", "iam:Attach"))}
    (pass_role,) = [s for s in on_iam if s["Action"] == ["iam:PassRole"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "braket.amazonaws.com"}}


def test_the_user_can_do_what_the_executor_does() -> None:
    granted = {action for s in statements(user()) for action in s["Action"]}
    assert {
        "braket:CreateJob", "braket:GetJob", "braket:CancelJob", "braket:SearchJobs", "s3:PutObject",
        "s3:GetObject", "s3:DeleteObject", "s3:ListBucket", "ecr:PutImage", "ecr:InitiateLayerUpload",
        "ecr:DescribeImages", "ecr:BatchDeleteImage", "logs:GetLogEvents", "sts:GetCallerIdentity",
    } <= granted
    # Setting up the account is not part of daily use.
    assert not granted & {"iam:CreateRole", "iam:PutRolePolicy", "s3:CreateBucket", "ecr:DeleteRepository"}


def test_the_job_role_cannot_delete_or_pass_roles() -> None:
    granted = {action for s in allows(job_role()) for action in s["Action"]}
    assert not {a for a in granted if a.startswith("iam:")}
    assert "s3:DeleteObject" not in granted
    assert not {a for a in granted if a.startswith("ecr:") and ("Put" in a or "Upload" in a or "Delete" in a)}


def test_required_job_role_actions_are_exactly_the_policys() -> None:
    required = policies.required_job_role_actions()
    in_policy = sorted(action for s in allows(job_role()) for action in s["Action"])
    assert sorted(action for actions in required.values() for action in actions) == in_policy
    required["s3_write"].append("s3:DeleteBucket")
    assert "s3:DeleteBucket" not in policies.required_job_role_actions()["s3_write"]


def iam_decision(document: dict[str, Any], action: str, key: str) -> str:
    """What IAM decides for ``action`` on object ``key`` of the bucket: an explicit Deny wins, then
    an Allow; resource patterns match as IAM's do (``*`` any run of characters, ``/`` included)."""
    arn = f"arn:aws:s3:::{BUCKET}/{key}"

    def matches(statement: dict[str, Any]) -> bool:
        patterns = [re.escape(r).replace(r"\*", ".*").replace(r"\?", ".") for r in resources(statement)]
        return action in statement["Action"] and any(re.fullmatch(p, arn) for p in patterns)

    effects = {statement["Effect"] for statement in statements(document) if matches(statement)}
    return "denied" if "Deny" in effects else "allowed" if "Allow" in effects else "not allowed"


LOCATION = s3_layout.ElectronLocation.for_electron(
    BUCKET, "0f8e-dispatch", 3, "covalent-0f8e-n3-a1-0123456789"
)
# The managed AmazonBraketJobsExecutionPolicy's S3 grant, which a role may carry besides ours.
MANAGED_S3 = {
    "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::amazon-braket-*",
}


def test_a_job_may_write_where_jobs_put_outputs() -> None:
    writable = [
        *(key for key in transfer.electron_keys(LOCATION) if key != LOCATION.call_key),  # runner, Braket
        f"jobs/{LOCATION.prefix.split('/')[3]}/tasks/7d1c/results.json",  # the SDK's quantum tasks
    ]
    for key in writable:
        assert iam_decision(job_role(), "s3:PutObject", key) == "allowed", key


def test_a_job_may_not_write_the_runner_a_task_or_inputs_even_with_the_managed_policy() -> None:
    with_managed = {**job_role(), "Statement": [*statements(job_role()), MANAGED_S3]}
    protected = [transfer.runner_archive_key(), "covalent-braket/runner/0123/x.tar.gz", LOCATION.call_key,
                 f"{s3_layout.INPUT_PREFIX}/ab12/data.csv"]
    for key in protected:
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
            assert iam_decision(job_role(), action, key) == "denied", (action, key)
            assert iam_decision(with_managed, action, key) == "denied", (action, key)
        assert iam_decision(job_role(), "s3:GetObject", key) == "allowed"  # what a job runs, it reads


def test_a_job_may_write_nothing_else_in_the_bucket() -> None:
    others = ["covalent-braket/elsewhere", "elsewhere.txt", f"{LOCATION.prefix}other", "jobs/x/y"]
    for key in others:
        assert iam_decision(job_role(), "s3:PutObject", key) == "not allowed", key


def test_trust_lets_braket_assume_the_role_for_this_account_only() -> None:
    (statement,) = statements(policies.job_role_trust_policy(account=ACCOUNT))
    assert statement["Principal"] == {"Service": "braket.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert "Condition" not in statements(policies.job_role_trust_policy())[0]


def test_arns_follow_the_regions_partition() -> None:
    china = policies.job_role_policy(**{**SCOPE, "region": "cn-north-1"})
    scoped = [r for s in statements(china) for r in resources(s) if r != "*"]
    assert scoped and all(r.startswith("arn:aws-cn:") for r in scoped)
    assert policies.job_role_arn(account=ACCOUNT, region="us-gov-west-1").startswith("arn:aws-us-gov:iam::")


def test_role_arn_puts_a_plain_name_under_the_service_role_path() -> None:
    assert policies.job_role_arn(account=ACCOUNT, region=REGION) == ROLE_ARN
    assert policies.job_role_arn(account=ACCOUNT, region=REGION, name="team/Runner") == (
        f"arn:aws:iam::{ACCOUNT}:role/team/Runner"
    )
    assert policies.job_role_arn(account=ACCOUNT, region=REGION, name="Runner", path="/") == (
        f"arn:aws:iam::{ACCOUNT}:role/Runner"
    )


def test_docs_aws_setup_holds_the_current_generated_policies() -> None:
    page = (Path(__file__).parents[3] / "docs" / "aws-setup.md").read_text()
    generated = policies.policies_reference_markdown()
    start = page.find(generated.splitlines()[0])
    end = page.find(policies.GENERATED_END)
    assert page.count(generated.splitlines()[0]) == 1 and end > start >= 0
    assert page[start:end + len(policies.GENERATED_END) + 1] == generated, (
        "docs/aws-setup.md is stale: replace its generated section with the output of "
        "python -c 'from covalent_braket_plugin.provisioning.policies "
        "import policies_reference_markdown as m; "
        "print(m(), end=\"\")'"
    )
