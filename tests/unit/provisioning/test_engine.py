"""The provisioning engine without AWS: dry-run wording, ARNs, and how refusals become steps and fixes."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.provisioning.engine import Provisioner, ProvisioningError, unless_missing
from covalent_braket_plugin.provisioning.resources import ResourceResult

ACCOUNT = "210987654321"


def provisioner(region: str = "us-east-1", **options: object) -> Provisioner:
    session = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name=region)
    return Provisioner(
        AwsSession(session), region, command="guard deploy", permissions_doc="docs/guard.md", **options
    )


def refusal(code: str, status: int = 400) -> ClientError:
    answer = {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(answer, "CreateRole")  # type: ignore[arg-type]


def test_a_dry_run_says_what_it_would_do_and_keeps_the_rest() -> None:
    run = provisioner(dry_run=True)
    assert [run.did(a) for a in ("created", "updated", "deleted", "unchanged", "skipped", "missing")] == [
        "would create", "would update", "would delete", "unchanged", "skipped", "missing",
    ]
    assert provisioner().did("created") == "created"


def test_results_are_kept_and_logged_as_they_come() -> None:
    logged: list[ResourceResult] = []
    run = provisioner(log=logged.append)
    first, second = ResourceResult("a", "1", "created"), ResourceResult("b", "2", "unchanged")
    run.record(first, second)
    assert run.results == logged == [first, second]


def test_arns_are_in_the_regions_partition_with_the_account_asked_once() -> None:
    run = provisioner("cn-north-1")
    with Stubber(run.client("sts")) as sts:
        caller = {"Account": ACCOUNT, "Arn": f"arn:aws-cn:iam::{ACCOUNT}:user/u", "UserId": "u"}
        sts.add_response("get_caller_identity", caller)
        assert run.arn("lambda", "function:g") == f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:g"
        assert run.arn("iam", "role/r", regional=False) == f"arn:aws-cn:iam::{ACCOUNT}:role/r"


def test_a_missing_region_is_refused_before_any_call(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ProvisioningError) as raised:
        Provisioner(None, command="setup", permissions_doc="docs/aws-setup.md")
    assert raised.value.refused_input and "--region" in raised.value.fix


@pytest.mark.parametrize(
    ("error", "problem", "fix"),
    [
        (refusal("AccessDeniedException"), "access denied to CreateRole", "docs/guard.md"),
        (refusal("Whatever", status=403), "access denied to CreateRole", "administrator run guard deploy"),
        (refusal("LimitExceeded"), "AWS refused CreateRole: LimitExceeded: no", "run guard deploy again"),
        (NoCredentialsError(), "no AWS credentials", "--profile"),
        (EndpointConnectionError(endpoint_url="http://x"), "http://x", "network"),
    ],
)
def test_refusals_name_the_step_the_problem_and_the_fix(error: Exception, problem: str, fix: str) -> None:
    run = provisioner()
    run.record(ResourceResult("dynamodb table", "t", "created"))

    def fail() -> None:
        raise error

    with pytest.raises(ProvisioningError) as raised:
        run.step("iam role", fail)
    assert raised.value.step == "iam role" and not raised.value.refused_input
    assert problem in raised.value.problem and fix in raised.value.fix
    assert [result.name for result in raised.value.results] == ["t"]


def test_a_kinds_own_error_is_reported_under_the_step() -> None:
    def fail() -> None:
        raise ProvisioningError("table", "exists with another key", "pick another --name")

    with pytest.raises(ProvisioningError) as raised:
        provisioner().step("dynamodb table", fail)
    assert (raised.value.step, raised.value.fix) == ("dynamodb table", "pick another --name")


def test_file_errors_are_reported_only_where_the_step_touches_files() -> None:
    def fail() -> None:
        raise OSError("read-only file system")

    with pytest.raises(ProvisioningError, match="read-only") as raised:
        provisioner().step("covalent.conf", fail, file_fix="pass --conf PATH")
    assert raised.value.fix == "pass --conf PATH"
    with pytest.raises(OSError):  # anywhere else it is a bug, shown as it is
        provisioner().step("iam role", fail)


def test_unless_missing_turns_only_not_found_into_none() -> None:
    def missing() -> None:
        raise refusal("NoSuchEntity", 404)

    assert unless_missing(missing) is None
    with pytest.raises(ClientError):
        unless_missing(lambda: (_ for _ in ()).throw(refusal("Throttling")))
