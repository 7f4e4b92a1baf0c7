"""What every command shares: one exit status and one message form for each kind of failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from covalent_braket_plugin.cli.common import ServiceError, UsageError, aws_session, exit_status, guarded
from covalent_braket_plugin.provisioning.engine import ProvisioningError
from covalent_braket_plugin.settings import ExecutorConfigError

DENIED = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SearchJobs")


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (UsageError("--since: soon is not a time"), 2, "cmd: --since: soon is not a time"),
        (ExecutorConfigError("region: unknown"), 2, "cmd: region: unknown"),
        (LookupError("no job named x"), 2, "cmd: no job named x"),
        (ProvisioningError("options", "--bucket x", "fix"), 2, "cmd: options: --bucket x\n  fix: fix"),
        (ProvisioningError("iam role", "denied", "ask"), 1, "cmd: iam role: denied\n  fix: ask"),
        (DENIED, 1, "cmd: AWS refused: An error occurred (AccessDenied)"),
        (NoCredentialsError(), 1, "cmd: AWS refused: Unable to locate credentials"),
        (ServiceError("the local stack is not running"), 1, "cmd: the local stack is not running"),
    ],
)
def test_each_failure_has_one_status_and_one_line(
    error: Exception, status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def work() -> int:
        raise error

    assert guarded("cmd", work) == status == exit_status(error)
    assert capsys.readouterr().err.startswith(message)


def test_success_passes_the_commands_own_status() -> None:
    assert guarded("cmd", lambda: 1) == 1


def test_an_unknown_profile_names_the_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(UsageError, match="--profile 'nobody'"):
        aws_session("nobody", "us-east-1")
    assert aws_session(None, "eu-north-1").region == "eu-north-1"


def test_an_empty_region_flag_leaves_the_region_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws_session("", "").region == "us-west-2"
