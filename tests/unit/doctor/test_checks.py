"""``covalent-braket doctor``: each check on stubbed AWS answers, the catalog, the report and the page."""

from __future__ import annotations

import inspect
import json
import re
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import docker.errors
import pytest
import requests
from botocore.config import Config
from botocore.stub import Stubber

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.cli import main
from covalent_braket_plugin.doctor import checks
from covalent_braket_plugin.doctor.catalog import (
    CHECKS,
    PROBLEMS,
    PROBLEMS_BY_ID,
    Status,
    render,
    troubleshooting_markdown,
)
from covalent_braket_plugin.doctor.checks import Check, Context, Outcome, passed, run_checks
from covalent_braket_plugin.doctor.report import to_json, to_table
from covalent_braket_plugin.images import (
    BRAKET_SDK_LABEL,
    COVALENT_LABEL,
    PYTHON_LABEL,
    TOOLKIT_LABEL,
    ImageRef,
    MissingPrerequisiteError,
    client_python_minor,
    make_recipe,
)
from covalent_braket_plugin.provisioning.policies import job_role_policy, required_job_role_actions
from covalent_braket_plugin.settings import BraketExecutorSettings

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonBraketJobsExecutionRole"
DOCS = Path(__file__).parents[3] / "docs"


# --- helpers -------------------------------------------------------------------------------------------

def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")


@pytest.fixture
def stubs() -> Iterator[dict[str, Stubber]]:
    """A stubbed client per service; every stubbed answer must have been asked for by the end."""
    made: dict[str, Stubber] = {}
    yield made
    for stubber in made.values():
        stubber.assert_no_pending_responses()


def context(stubs: dict[str, Stubber], **settings: Any) -> Context:
    """A context as the checks before the one under test would leave it, with stubbed clients."""
    ctx = Context(settings=BraketExecutorSettings(**settings), account=ACCOUNT,
                  identity="arn:aws:iam::x:user/u", region=REGION, section={})
    for service in ("s3", "ecr", "iam", "sts"):
        ctx.clients[service] = client(service)
        stubs[service] = Stubber(ctx.clients[service])
        stubs[service].activate()
    return ctx


def write_conf(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "covalent.conf"
    path.write_text(body)
    return path


# --- the catalog and the troubleshooting page ----------------------------------------------------------

def test_the_troubleshooting_page_is_generated_from_the_catalog() -> None:
    assert (DOCS / "troubleshooting.md").read_text() == troubleshooting_markdown(), (
        "docs/troubleshooting.md is stale: regenerate it with python -c 'from "
        "covalent_braket_plugin.doctor.catalog import troubleshooting_markdown as m; print(m(), end=\"\")' "
        "> docs/troubleshooting.md"
    )


def test_the_page_lists_every_problem_with_its_fix() -> None:
    page = troubleshooting_markdown()
    for problem in PROBLEMS:
        assert f"### `{problem.id}` ({problem.status.value})" in page
    assert page.count("**Fix:**") == len(PROBLEMS)
    assert not re.search(r"\{\w+(![rs])?\}", page)  # every placeholder reads as <name>


def test_checks_and_catalog_agree() -> None:
    assert [check.id for check in checks.CHECKS] == [info.id for info in CHECKS]
    assert {problem.check for problem in PROBLEMS} <= {info.id for info in CHECKS}
    # Every problem a check can report is in the catalog, and every catalog entry is reported somewhere.
    source = inspect.getsource(checks)
    assert set(re.findall(r'problem\(\s*"([a-z0-9-]+)"', source)) <= set(PROBLEMS_BY_ID)
    assert set(PROBLEMS_BY_ID) <= set(re.findall(r'"([a-z0-9]+(?:-[a-z0-9]+)+)"', source))
    assert all(problem.status in (Status.WARN, Status.FAIL) and problem.fix for problem in PROBLEMS)


def test_render_fills_message_and_fix() -> None:
    message, fix = render("s3-missing", bucket="amazon-braket-b", region="eu-north-1")
    assert message == "bucket amazon-braket-b does not exist (HeadBucket: 404)"
    assert "--bucket amazon-braket-b --region eu-north-1" in fix
    assert PROBLEMS_BY_ID["s3-missing"].fields() == {"bucket", "region"}


# --- ordering and skipping -----------------------------------------------------------------------------

def test_a_check_after_a_failure_is_skipped_naming_the_root_cause() -> None:
    ran: list[str] = []

    def fails(ctx: Context) -> Outcome:
        ran.append("s3.name")
        return Outcome(Status.FAIL, "bad")

    def ok(ctx: Context) -> Outcome:
        ran.append("ok")
        return passed("fine")

    results = run_checks(Context(), [
        Check("s3.name", (), fails),
        Check("s3.bucket", ("s3.name",), ok),
        Check("s3.region", ("s3.bucket",), ok),
        Check("docker.engine", (), ok),
    ])
    assert ran == ["s3.name", "ok"]
    assert [result.status for result in results] == [Status.FAIL, Status.SKIP, Status.SKIP, Status.PASS]
    assert results[1].message == results[2].message == "not checked: bucket name failed"


# --- covalent.conf -------------------------------------------------------------------------------------

def conf_results(path: Path) -> dict[str, Any]:
    ctx = Context(conf_path=path)
    results = run_checks(ctx, [c for c in checks.CHECKS if c.id.startswith("conf.") or c.id == "s3.name"])
    return {result.check: result for result in results}


def test_no_file_and_no_section_warn_and_the_defaults_are_checked(tmp_path: Path) -> None:
    results = conf_results(tmp_path / "covalent.conf")
    assert results["conf.section"].status is Status.WARN
    assert results["conf.section"].problem == "conf-no-file"
    assert results["conf.settings"].status is Status.PASS
    results = conf_results(write_conf(tmp_path, '[sdk]\nlog_level = "info"\n'))
    assert results["conf.section"].problem == "conf-no-section"
    assert results["s3.name"].status is Status.PASS


def test_a_file_that_is_not_toml_fails_and_stops_the_conf_checks(tmp_path: Path) -> None:
    results = conf_results(write_conf(tmp_path, "[executors.braket\n"))
    assert results["conf.section"].problem == "conf-unreadable"
    assert results["conf.settings"].message == "not checked: covalent.conf section failed"


def test_invalid_values_fail_with_the_settings_own_message(tmp_path: Path) -> None:
    results = conf_results(write_conf(tmp_path, '[executors.braket]\nstorage = 0\ns3_bucket_name = "mine"\n'))
    settings = results["conf.settings"]
    assert settings.status is Status.FAIL
    assert "storage: 0 GB is out of range; give a whole number of GB from 1 to 16384" in settings.message
    assert "s3_bucket_name: 'mine' is not allowed" in settings.message
    assert results["s3.name"].problem == "s3-bad-name"
    assert "set s3_bucket_name to it" in results["s3.name"].fix


def test_unknown_keys_are_named_with_the_closest_known_key(tmp_path: Path) -> None:
    results = conf_results(write_conf(tmp_path, '[executors.braket]\nregoin = "us-east-1"\ncolour = 1\n'))
    keys = results["conf.keys"]
    assert keys.status is Status.FAIL
    assert keys.message.endswith("does not know: colour, regoin")
    assert "regoin: did you mean 'region'?" in keys.fix
    assert "colour: remove it; the settings are:" in keys.fix
    # The known keys are still validated.
    assert results["conf.settings"].status is Status.PASS


def test_a_settings_warning_is_a_warning(tmp_path: Path) -> None:
    path = write_conf(tmp_path, '[executors.braket]\necr_repo_name = "my-images"\n'
                                'braket_job_execution_role_name = "my-own-role"\n')
    settings = conf_results(path)["conf.settings"]
    assert settings.status is Status.WARN
    assert "does not start with 'amazon-braket'" in settings.message


# --- credentials and region ----------------------------------------------------------------------------

def test_credentials_name_the_identity(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs)
    ctx.account = ctx.identity = None
    identity = {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ada", "UserId": "A"}
    stubs["sts"].add_response("get_caller_identity", identity)
    outcome = checks.check_credentials(ctx)
    assert outcome.status is Status.PASS, outcome
    assert ctx.account == ACCOUNT and "user/ada" in outcome.message


def test_refused_credentials_fail_with_the_fix(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs)
    stubs["sts"].add_client_error("get_caller_identity", "ExpiredToken", "The security token has expired",
                                  http_status_code=403)
    outcome = checks.check_credentials(ctx)
    assert outcome.problem == "aws-credentials-refused"
    assert "ExpiredToken" in outcome.message and "aws sso login" in outcome.fix


def test_missing_credentials_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    ctx = Context(settings=BraketExecutorSettings(region=REGION))
    outcome = checks.check_credentials(ctx)
    assert outcome.problem == "aws-no-credentials"
    assert "the default credential chain" in outcome.message


def test_the_doctor_retries_as_the_executor_does(stubs: dict[str, Stubber]) -> None:
    """A fault the executor rides out (10 attempts, standard mode) is not one the doctor reports."""
    ctx = context(stubs)
    stubs["sts"].add_response("get_caller_identity", {"Account": ACCOUNT, "Arn": "arn:aws:iam::x:user/u"})
    assert checks.check_credentials(ctx).status is Status.PASS
    assert ctx.session is not None
    executors = AwsSession(region=REGION).client("iam").meta.config.retries
    assert ctx.session.client("iam", REGION).meta.config.retries == executors
    # botocore reads max_attempts=10 as ten retries after the first attempt.
    assert executors == {"mode": "standard", "total_max_attempts": 11}


def test_an_endpoint_that_does_not_answer_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # Connection refused is retried with back-off; one attempt keeps the test quick.
    one_attempt = Config(retries={"mode": "standard", "max_attempts": 1})
    monkeypatch.setattr(checks, "CHECK_CLIENT_CONFIG", one_attempt)
    with socket.socket() as closed:  # a port nothing listens on once the socket is closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    outcome = checks.check_credentials(Context(settings=BraketExecutorSettings(region=REGION)))
    assert outcome.problem == "aws-unreachable"
    assert f"127.0.0.1:{port}" in outcome.message
    assert "AWS_ENDPOINT_URL" in outcome.fix


def test_an_unknown_profile_fails_before_any_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    outcome = checks.check_credentials(Context(settings=BraketExecutorSettings(profile="lab")))
    assert outcome.problem == "aws-profile"
    assert "profile: no profile 'lab'" in outcome.message


@pytest.mark.parametrize(
    ("settings", "override", "problem", "text"),
    [
        ({"quantum_device": "forte-1"}, None, None, "us-east-1 (the region of quantum_device)"),
        ({"region": "eu-north-1"}, None, None, "eu-north-1 (the region setting)"),
        ({"quantum_device": "garnet"}, "us-east-1", "region-device-mismatch", "Set `region` to eu-north-1"),
        ({}, "mars-central-1", "region-no-braket", "Set `region` to one of:"),
    ],
)
def test_region(settings: dict[str, str], override: str | None, problem: str | None, text: str) -> None:
    ctx = Context(settings=BraketExecutorSettings(**settings), region_override=override)
    outcome = checks.check_region(ctx)
    assert outcome.problem == problem
    assert text in outcome.message + outcome.fix
    assert (ctx.region is None) == (problem is not None)


def test_a_profile_region_without_braket_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    outcome = checks.check_region(Context(settings=BraketExecutorSettings()))
    assert outcome.message == "Amazon Braket is not offered in eu-central-1"
    assert "us-east-1" in outcome.fix


def test_no_region_anywhere_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    outcome = checks.check_region(Context(settings=BraketExecutorSettings()))
    assert outcome.problem == "region-none"
    assert "No AWS region for the Braket jobs" in outcome.message


# --- S3 --------------------------------------------------------------------------------------------------

BUCKET = "amazon-braket-team"


@pytest.mark.parametrize(("status", "problem"), [(404, "s3-missing"), (403, "s3-forbidden")])
def test_head_bucket_404_and_403_are_told_apart(stubs: dict[str, Stubber], status: int, problem: str) -> None:
    ctx = context(stubs, s3_bucket_name=BUCKET)
    stubs["s3"].add_client_error("head_bucket", str(status), http_status_code=status,
                                 expected_params={"Bucket": BUCKET})
    outcome = checks.check_bucket(ctx)
    assert outcome.problem == problem
    assert BUCKET in outcome.message


def test_a_bucket_of_another_account_fails(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs, s3_bucket_name=BUCKET)
    stubs["s3"].add_response("head_bucket", {}, {"Bucket": BUCKET})
    stubs["s3"].add_client_error("head_bucket", "403", http_status_code=403,
                                 expected_params={"Bucket": BUCKET, "ExpectedBucketOwner": ACCOUNT})
    outcome = checks.check_bucket(ctx)
    assert outcome.problem == "s3-not-owned"
    assert f"not owned by account {ACCOUNT}" in outcome.message


@pytest.mark.parametrize(("bucket_region", "problem"), [(REGION, None), ("eu-west-2", "s3-wrong-region"),
                                                        (None, "s3-region-unknown")])
def test_bucket_region(stubs: dict[str, Stubber], bucket_region: str | None, problem: str | None) -> None:
    ctx = context(stubs, s3_bucket_name=BUCKET)
    stubs["s3"].add_response("head_bucket", {}, {"Bucket": BUCKET})
    answer = {"BucketRegion": bucket_region} if bucket_region else {}
    stubs["s3"].add_response("head_bucket", answer, {"Bucket": BUCKET, "ExpectedBucketOwner": ACCOUNT})
    assert checks.check_bucket(ctx).status is Status.PASS
    outcome = checks.check_bucket_region(ctx)
    assert outcome.problem == problem
    if problem == "s3-wrong-region":
        assert "is in eu-west-2, but the jobs run in us-east-1" in outcome.message


# --- ECR -------------------------------------------------------------------------------------------------

IMAGE_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/amazon-braket-ready:v1"


def test_a_missing_repository_fails_with_the_command_that_creates_it(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs)
    stubs["ecr"].add_client_error("describe_repositories", "RepositoryNotFoundException", "not found",
                                  expected_params={"repositoryNames": ["amazon-braket-covalent-job-images"]})
    outcome = checks.check_repository(ctx)
    assert outcome.problem == "ecr-repo-missing"
    assert "aws ecr create-repository --repository-name amazon-braket-covalent-job-images" in outcome.fix


def test_ecr_image_uri_must_be_in_ecr(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs, ecr_image_uri=IMAGE_URI)
    params = {"registryId": ACCOUNT, "repositoryName": "amazon-braket-ready",
              "imageIds": [{"imageTag": "v1"}]}
    stubs["ecr"].add_client_error("describe_images", "ImageNotFoundException", "no such tag",
                                  expected_params=params)
    stubs["ecr"].add_response("describe_images", {"imageDetails": [{"imageTags": ["v1"]}]}, params)
    outcome = checks.check_repository(ctx)
    assert outcome.problem == "ecr-image-missing" and "no such tag" in outcome.message
    assert checks.check_repository(ctx).message == f"ecr_image_uri {IMAGE_URI} is in ECR"


NO_REGISTRY = ("this local stack runs without an image registry (its jobs run as processes, and it found "
               "no registry program when it started); install one with `apt-get install docker-registry`")


@pytest.mark.parametrize("ready_image", ["", IMAGE_URI])
def test_an_ecr_answer_no_permission_changes_offers_no_policy(
    stubs: dict[str, Stubber], ready_image: str
) -> None:
    """The local stack without a registry answers ECR's image calls with a ServerException (501): its
    cause is the fix, and no IAM policy would change it."""
    ctx = context(stubs, ecr_image_uri=ready_image)
    operation = "describe_images" if ready_image else "describe_repositories"
    stubs["ecr"].add_client_error(operation, "ServerException", NO_REGISTRY, http_status_code=501)
    outcome = checks.check_repository(ctx)
    assert (outcome.problem, outcome.status) == ("ecr-undecided", Status.WARN)
    assert NO_REGISTRY in outcome.message
    assert "apt-get install docker-registry" in outcome.fix
    assert "iam-policy" not in outcome.fix and "Allow" not in outcome.fix


def test_an_ecr_refusal_for_want_of_a_permission_names_the_policy(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs)
    stubs["ecr"].add_client_error("describe_repositories", "AccessDeniedException",
                                  "User: u is not authorized to perform: ecr:DescribeRepositories")
    outcome = checks.check_repository(ctx)
    assert outcome.problem == "ecr-forbidden"
    assert "not authorized to perform: ecr:DescribeRepositories" in outcome.message
    assert "Allow ecr:DescribeRepositories" in outcome.fix and "iam-policy --which user" in outcome.fix


def test_image_references_by_tag_and_by_digest() -> None:
    digest = "sha256:" + "a" * 64
    image = ImageRef.parse(f"{ACCOUNT}.dkr.ecr.eu-north-1.amazonaws.com/team/amazon-braket-x@{digest}")
    assert image == ImageRef(ACCOUNT, "eu-north-1", "team/amazon-braket-x", digest)
    assert image.uri.endswith(f"/team/amazon-braket-x@{digest}")
    assert ImageRef.parse(IMAGE_URI).reference == "v1"


@pytest.mark.parametrize(
    ("role", "status"),
    [("service-role/AmazonBraketJobsExecutionRole", Status.FAIL), ("my-role", Status.WARN)],
)
def test_a_repository_not_named_amazon_braket(role: str, status: Status) -> None:
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team-images:v1"
    ctx = Context(settings=BraketExecutorSettings(ecr_image_uri=uri, braket_job_execution_role_name=role))
    outcome = checks.check_repository_name(ctx)
    assert outcome.status is status
    assert "team-images is not named amazon-braket*" in outcome.message


# --- IAM job role ----------------------------------------------------------------------------------------

def role(trust: dict[str, Any], arn: str = ROLE_ARN) -> dict[str, Any]:
    return {"RoleName": arn.rsplit("/", 1)[-1], "Arn": arn, "Path": "/service-role/",
            "RoleId": "AROAEXAMPLEEXAMPLE1", "CreateDate": datetime(2026, 1, 1),
            "AssumeRolePolicyDocument": json.dumps(trust)}


BRAKET_TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "braket.amazonaws.com"},
                               "Action": "sts:AssumeRole"}]}
EC2_TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]},
                            "Action": ["sts:AssumeRole"]}]}


def test_missing_role_and_role_under_another_path(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs)
    stubs["iam"].add_client_error("get_role", "NoSuchEntity", "no role", http_status_code=404,
                                  expected_params={"RoleName": "AmazonBraketJobsExecutionRole"})
    assert checks.check_role(ctx).problem == "role-missing"
    elsewhere = f"arn:aws:iam::{ACCOUNT}:role/AmazonBraketJobsExecutionRole"
    stubs["iam"].add_response("get_role", {"Role": role(BRAKET_TRUST, elsewhere)})
    outcome = checks.check_role(ctx)
    assert outcome.problem == "role-wrong-path"
    assert outcome.fix == "Set braket_job_execution_role_name to AmazonBraketJobsExecutionRole."


def test_trust_policy(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs)
    ctx.role = role(BRAKET_TRUST)
    ctx.role["AssumeRolePolicyDocument"] = BRAKET_TRUST  # as boto3 returns it: decoded
    assert checks.check_role_trust(ctx).status is Status.PASS
    ctx.role = role(EC2_TRUST)
    outcome = checks.check_role_trust(ctx)
    assert outcome.problem == "role-untrusted"
    assert "(its trust policy allows: ec2.amazonaws.com)" in outcome.message
    assert "aws iam update-assume-role-policy --role-name AmazonBraketJobsExecutionRole" in outcome.fix
    assert '"Service":"braket.amazonaws.com"' in outcome.fix and ACCOUNT in outcome.fix
    # Braket acts for the job's account: a trust limited to another account does not count.
    for accounts, status in (("999999999999", Status.FAIL), (ACCOUNT, Status.PASS), ("1234*", Status.PASS)):
        condition = {"StringLike": {"aws:SourceAccount": accounts}}
        ctx.role = role({"Statement": [{**BRAKET_TRUST["Statement"][0], "Condition": condition}]})
        outcome = checks.check_role_trust(ctx)
        assert outcome.status is status
        if status is Status.FAIL:
            assert "allows: braket.amazonaws.com for account 999999999999)" in outcome.message


def all_actions() -> list[str]:
    return [action for actions in required_job_role_actions().values() for action in actions]


def test_permissions_by_the_simulator(stubs: dict[str, Stubber]) -> None:
    ctx = context(stubs, s3_bucket_name=BUCKET)
    ctx.role = role(BRAKET_TRUST)
    needed = checks.required_permissions(ctx)
    assert set(needed) == set(all_actions())
    assert needed["s3:GetObject"] == [f"arn:aws:s3:::{BUCKET}/covalent-braket-doctor"]
    for action in needed:
        decision = "implicitDeny" if action == "s3:PutObject" else "allowed"
        stubs["iam"].add_response("simulate_principal_policy", {
            "EvaluationResults": [{"EvalActionName": action, "EvalDecision": decision}]})
    outcome = checks.check_role_permissions(ctx)
    assert outcome.problem == "role-lacks-actions"
    assert "may not s3:PutObject; checked with the IAM policy simulator" in outcome.message


@pytest.mark.parametrize("complete", [True, False])
def test_permissions_from_the_policies_when_the_simulator_is_unavailable(
    stubs: dict[str, Stubber], complete: bool
) -> None:
    ctx = context(stubs, s3_bucket_name=BUCKET)
    ctx.role = role(BRAKET_TRUST)
    policy = job_role_policy(bucket=BUCKET, repository="amazon-braket-covalent-job-images", region=REGION,
                             account=ACCOUNT)
    if not complete:
        policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "JobLogs"]
    iam = stubs["iam"]
    iam.add_client_error("simulate_principal_policy", "NotImplemented", "not here", http_status_code=501)
    managed = "arn:aws:iam::aws:policy/ReadOnly"
    attached = [{"PolicyName": "ReadOnly", "PolicyArn": managed}]
    iam.add_response("list_attached_role_policies", {"AttachedPolicies": attached, "IsTruncated": False})
    iam.add_response("get_policy", {"Policy": {"DefaultVersionId": "v2"}}, {"PolicyArn": managed})
    iam.add_response("get_policy_version", {"PolicyVersion": {"Document": json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]})}},
        {"PolicyArn": managed, "VersionId": "v2"})
    iam.add_response("list_role_policies", {"PolicyNames": ["jobs"], "IsTruncated": False})
    iam.add_response("get_role_policy", {"RoleName": "AmazonBraketJobsExecutionRole", "PolicyName": "jobs",
                                         "PolicyDocument": json.dumps(policy)})
    outcome = checks.check_role_permissions(ctx)
    assert ("checked with its 2 attached and inline policies, conditions not evaluated (the IAM policy "
            "simulator is not available: not here)") in outcome.message
    if complete:
        assert outcome.status is Status.PASS, outcome
    else:
        assert outcome.problem == "role-lacks-actions"
        assert "may not logs:CreateLogGroup, logs:CreateLogStream" in outcome.message


def test_a_deny_statement_wins() -> None:
    statements = [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                  {"Effect": "Deny", "Action": "s3:Put*", "Resource": "arn:aws:s3:::amazon-braket-*"}]
    assert checks._grants(statements, "s3:GetObject", "arn:aws:s3:::amazon-braket-x/o")
    assert not checks._grants(statements, "s3:PutObject", "arn:aws:s3:::amazon-braket-x/o")


# --- Docker ----------------------------------------------------------------------------------------------

class FakeEngine:
    """The two calls the doctor makes of a Docker engine."""

    def __init__(self, images: dict[str, str] | None = None) -> None:
        self.images = self
        self._images = images or {}

    def version(self) -> dict[str, str]:
        return {"Version": "27.0"}

    def get(self, name: str) -> str:
        if name not in self._images:
            raise docker.errors.ImageNotFound(name)
        return name


def no_engine() -> Any:
    """What ``images.docker_client`` raises where no engine answers: its advice around the engine's
    own error."""
    refused = docker.errors.DockerException("Error while fetching server API version: connection refused")
    advice = f"no Docker engine answers ({refused}); start one, e.g. `dockerd &`"
    raise MissingPrerequisiteError(advice) from refused


@pytest.mark.parametrize(("uri", "status"), [("", Status.FAIL), (IMAGE_URI, Status.WARN)])
def test_no_docker_engine_fails_unless_a_ready_image_is_given(
    uri: str, status: Status, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    ctx = Context(settings=BraketExecutorSettings(ecr_image_uri=uri), docker_factory=no_engine)
    outcome = checks.check_docker(ctx)
    assert outcome.status is status
    assert outcome.message.startswith(
        "no Docker engine answers at unix:///var/run/docker.sock (Error while fetching server API version: "
        "connection refused)")


@pytest.mark.parametrize("uri", ["", IMAGE_URI])
def test_the_docker_fix_says_what_a_user_does(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's error is shown without the image builder's advice, which names a developer's
    command line; the fix names the service to start and the setting that points elsewhere."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://build-host:2375")
    ctx = Context(settings=BraketExecutorSettings(ecr_image_uri=uri), docker_factory=no_engine)
    outcome = checks.check_docker(ctx)
    assert "at tcp://build-host:2375" in outcome.message
    assert "dockerd" not in outcome.message + outcome.fix
    assert "`sudo systemctl start docker`" in outcome.fix and "DOCKER_HOST" in outcome.fix


def test_docker_engine_answers() -> None:
    ctx = Context(settings=BraketExecutorSettings(), docker_factory=FakeEngine)
    assert checks.check_docker(ctx).message == "Docker engine 27.0 answers"


# --- versions --------------------------------------------------------------------------------------------

class FakeResponse:
    def __init__(self, body: dict[str, Any], content_type: str = "application/json") -> None:
        self._body = body
        self.headers = {"Content-Type": content_type}

    def json(self) -> dict[str, Any]:
        return self._body

    def raise_for_status(self) -> None:
        pass


class FakeRegistry:
    """A registry's HTTP API v2 for one multi-platform image with the given labels, environment and
    layer commands."""

    def __init__(self, labels: dict[str, str], env: list[str], history: list[str]) -> None:
        self.labels = labels
        self.env = env
        self.history = history
        self.requests: list[tuple[str, dict[str, str]]] = []

    def get(self, url: str, headers: dict[str, str], timeout: float) -> FakeResponse:
        self.requests.append((url, headers))
        path = url.split("/v2/amazon-braket-ready/", 1)[1]
        index = "application/vnd.oci.image.index.v1+json"
        documents = {
            "manifests/v1": FakeResponse({"manifests": [
                {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}},
                {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
            ]}, index),
            "manifests/sha256:amd": FakeResponse({"config": {"digest": "sha256:cfg"}}),
            "blobs/sha256:cfg": FakeResponse({
                "config": {"Labels": self.labels, "Env": self.env},
                "history": [{"created_by": command} for command in self.history],
            }),
        }
        return documents[path]


STARTABLE_ENV = ["PATH=/usr/bin", "SAGEMAKER_PROGRAM=braket_container.py"]


def labelled(
    stubs: dict[str, Stubber], labels: dict[str, str], env: list[str] = STARTABLE_ENV,
    history: tuple[str, ...] = ("/bin/sh -c pip install sagemaker-training",),
) -> tuple[Context, FakeRegistry]:
    ctx = context(stubs, ecr_image_uri=IMAGE_URI)
    ctx.http = registry = FakeRegistry(labels, env, list(history))  # type: ignore[assignment]
    stubs["ecr"].add_response("get_authorization_token", {"authorizationData": [
        {"authorizationToken": "QVdTOnRva2Vu", "proxyEndpoint": "https://registry.example"}]},
        {"registryIds": [ACCOUNT]})
    return ctx, registry


def test_labels_are_read_from_the_registry_for_amd64(stubs: dict[str, Stubber]) -> None:
    from importlib.metadata import version

    ctx, registry = labelled(stubs, {PYTHON_LABEL: client_python_minor(),
                                     COVALENT_LABEL: version("covalent"),
                                     BRAKET_SDK_LABEL: version("amazon-braket-sdk")})
    outcome = checks.check_versions(ctx)
    assert outcome.status is Status.PASS, outcome
    assert outcome.message.count(f"amazon-braket-sdk {version('amazon-braket-sdk')}") == 2  # image, client
    assert [url.rsplit("/v2/", 1)[1] for url, _ in registry.requests] == [
        "amazon-braket-ready/manifests/v1", "amazon-braket-ready/manifests/sha256:amd",
        "amazon-braket-ready/blobs/sha256:cfg"]
    assert all(headers["Authorization"] == "Basic QVdTOnRva2Vu" for _, headers in registry.requests)


def test_a_python_mismatch_names_both_versions(stubs: dict[str, Stubber]) -> None:
    ctx, _ = labelled(stubs, {PYTHON_LABEL: "3.7", COVALENT_LABEL: "0.1"})
    outcome = checks.check_versions(ctx)
    assert outcome.problem == "image-python-mismatch"
    assert f"runs Python 3.7, but this client runs Python {client_python_minor()}" in outcome.message
    assert "Run Covalent under Python 3.7" in outcome.fix


def test_a_covalent_mismatch_and_a_missing_label(stubs: dict[str, Stubber]) -> None:
    ctx, _ = labelled(stubs, {PYTHON_LABEL: client_python_minor(), COVALENT_LABEL: "0.1"})
    outcome = checks.check_versions(ctx)
    assert outcome.problem == "image-covalent-mismatch"
    assert "Install covalent==0.1 here" in outcome.fix
    ctx, _ = labelled(stubs, {})
    assert checks.check_versions(ctx).problem == "image-unlabelled"


def test_an_image_braket_could_not_start_is_told_before_any_job(stubs: dict[str, Stubber]) -> None:
    from importlib.metadata import version

    labels = {PYTHON_LABEL: client_python_minor(), COVALENT_LABEL: version("covalent")}
    ctx, _ = labelled(stubs, labels, env=["PATH=/usr/bin"])
    outcome = checks.check_versions(ctx)
    assert (outcome.problem, outcome.status) == ("image-no-program", Status.FAIL)
    assert "does not set SAGEMAKER_PROGRAM" in outcome.message
    ctx, _ = labelled(stubs, labels, history=("/bin/sh -c pip install numpy",))
    outcome = checks.check_versions(ctx)
    assert outcome.problem == "image-no-toolkit"
    assert "docker run IMAGE train" in outcome.message
    assert "pip install sagemaker-training" in outcome.fix
    ctx, _ = labelled(stubs, {**labels, TOOLKIT_LABEL: "5.1.4"}, history=())
    assert checks.check_versions(ctx).status is Status.PASS  # built by this plugin, which checks it


def test_the_images_braket_sdk_is_reported_beside_the_clients(stubs: dict[str, Stubber]) -> None:
    from importlib.metadata import version

    ctx, _ = labelled(stubs, {PYTHON_LABEL: client_python_minor(), COVALENT_LABEL: version("covalent"),
                              BRAKET_SDK_LABEL: "1.0.0"})
    outcome = checks.check_versions(ctx)
    assert outcome.problem == "image-braket-sdk-mismatch"
    assert outcome.status is Status.WARN
    assert f"amazon-braket-sdk 1.0.0, but this client has amazon-braket-sdk {version('amazon-braket-sdk')}" \
        in outcome.message
    assert "Install amazon-braket-sdk==1.0.0 here" in outcome.fix
    ctx, _ = labelled(stubs, {PYTHON_LABEL: client_python_minor(), COVALENT_LABEL: version("covalent")})
    assert "amazon-braket-sdk ? (unlabelled)" in checks.check_versions(ctx).message


def test_the_versions_are_those_of_the_configured_image(stubs: dict[str, Stubber]) -> None:
    """With ecr_image_uri set, the image every job runs is the one asked, also when ECR could not
    confirm it before; the executor's computed tag is not asked at all (the stubs would refuse it)."""
    ctx = context(stubs, ecr_image_uri=IMAGE_URI)
    stubs["ecr"].add_client_error("get_authorization_token", "ServerException", NO_REGISTRY,
                                  http_status_code=501, expected_params={"registryIds": [ACCOUNT]})
    outcome = checks.check_versions(ctx)
    assert (outcome.problem, outcome.status) == ("image-undecided", Status.WARN)
    assert outcome.message.startswith(f"the versions in {IMAGE_URI} could not be read")
    assert NO_REGISTRY in outcome.message
    assert "ecr:" not in outcome.fix


def test_a_registry_refusing_the_identity_names_the_policy(stubs: dict[str, Stubber]) -> None:
    class Refusing:
        def get(self, url: str, headers: dict[str, str], timeout: float) -> requests.Response:
            response = requests.Response()
            response.status_code, response.url = 403, url
            response.raise_for_status()
            return response

    ctx, _ = labelled(stubs, {})
    ctx.http = Refusing()  # type: ignore[assignment]
    outcome = checks.check_versions(ctx)
    assert outcome.problem == "image-forbidden"
    assert "403" in outcome.message and "ecr:BatchGetImage" in outcome.fix


def test_before_the_first_build_the_base_image_is_asked(
    stubs: dict[str, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = "covalent-braket/base:test"
    ctx = context(stubs, base_image=base)
    tag = make_recipe(base, []).tag
    for _ in range(3):
        stubs["ecr"].add_client_error("describe_images", "ImageNotFoundException", "no", expected_params={
            "repositoryName": "amazon-braket-covalent-job-images", "imageIds": [{"imageTag": tag}]})
    ctx.docker_factory = FakeEngine
    outcome = checks.check_versions(ctx)
    assert outcome.problem == "base-image-unavailable"
    assert "the local Docker engine does not hold it" in outcome.message
    ctx.docker = FakeEngine({base: "present"})  # type: ignore[assignment]
    monkeypatch.setattr(checks, "image_python_version", lambda image, engine: "3.7")
    outcome = checks.check_versions(ctx)
    assert outcome.problem == "base-python-mismatch"
    assert f"Set base_image to an image whose python3 is {client_python_minor()}" in outcome.fix
    monkeypatch.setattr(checks, "image_python_version", lambda image, engine: client_python_minor())
    assert checks.check_versions(ctx).status is Status.PASS


# --- report and command line -----------------------------------------------------------------------------

def test_table_and_json() -> None:
    results = run_checks(Context(), [
        Check("s3.name", (), lambda ctx: checks.problem("s3-bad-name", bucket="mine")),
        Check("s3.bucket", ("s3.name",), lambda ctx: passed("never")),
    ])
    table = to_table(results, Path("/x/covalent.conf"))
    assert "FAIL  bucket name    s3_bucket_name 'mine' is not named amazon-braket-*" in table
    assert "fix: Create a bucket named amazon-braket-<something>" in table
    assert "skip  bucket exists  not checked: bucket name failed" in table
    assert table.endswith("1 failed, 1 not checked")
    document = json.loads(to_json(results, Path("/x/covalent.conf")))
    assert document["ok"] is False
    assert document["checks"][0] == {
        "check": "s3.name", "title": "bucket name", "status": "fail", "problem": "s3-bad-name",
        "message": results[0].message, "fix": results[0].fix,
    }


def test_a_missing_conf_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--conf", str(tmp_path / "nope.conf")]) == 2
    assert "--conf: no file at" in capsys.readouterr().err


def test_a_bad_region_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = write_conf(tmp_path, "[executors.braket]\n")
    assert main(["doctor", "--conf", str(conf), "--region", "nowhere"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --region: 'nowhere' is not an AWS region name; use one like 'us-east-1'")
    assert main(["doctor", "--conf", str(conf), "--region", "eu-central-1"]) == 2
    assert "--region: Amazon Braket is not offered in eu-central-1; use one of" in capsys.readouterr().err
