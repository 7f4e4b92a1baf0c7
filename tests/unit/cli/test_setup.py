"""``setup`` and ``iam-policy`` without an AWS account: option checks, defaults and offline policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import toml

from covalent_braket_plugin import braket as entry_point
from covalent_braket_plugin.cli import main
from covalent_braket_plugin.provisioning import policies
from covalent_braket_plugin.provisioning.ecr import lifecycle_policy
from covalent_braket_plugin.provisioning.engine import ProvisioningError
from covalent_braket_plugin.provisioning.setup import SetupOptions

ACCOUNT = "210987654321"


@pytest.fixture(autouse=True)
def unreachable_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An endpoint nothing listens on: a command that calls AWS fails there instead of reaching AWS."""
    hidden = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION")
    for name in hidden:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(tmp_path / "covalent"))


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        ({"bucket": "my-results"}, "--bucket"),
        ({"repository": "Images!"}, "--repository"),
        ({"repository": "covalent-images"}, "--repository"),
        ({"repository": "covalent-images", "role_name": "CustomJobRole"}, "--repository"),
        ({"role_name": "service-role/JobRole"}, "--role-name"),
        ({"region": "moon-1"}, "--region"),
        ({"keep_tagged_images": 0}, "--keep-images"),
        ({"untagged_image_days": 0}, "--untagged-days"),
    ],
)
def test_bad_options_name_their_flag(options: dict, flag: str) -> None:
    with pytest.raises(ProvisioningError) as raised:
        SetupOptions(**{"region": "us-east-1", **options}).validate()
    assert raised.value.step == "options"
    assert flag in raised.value.problem
    assert "nothing was changed" in raised.value.fix


def test_default_options_are_valid() -> None:
    SetupOptions(region="eu-north-1").validate()


def test_lifecycle_policy_expires_untagged_and_keeps_the_newest_tagged() -> None:
    untagged, tagged = lifecycle_policy(keep_tagged=5, untagged_days=3)["rules"]
    assert untagged["selection"] == {
        "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 3,
    }
    assert tagged["selection"]["tagStatus"] == "tagged"
    assert tagged["selection"]["countType"] == "imageCountMoreThan"
    assert tagged["selection"]["countNumber"] == 5
    assert untagged["rulePriority"] < tagged["rulePriority"]
    assert {rule["action"]["type"] for rule in (untagged, tagged)} == {"expire"}


def test_setup_refuses_bad_flags_before_any_aws_call(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--region", "us-east-1", "--bucket", "results"]) == 2
    error = capsys.readouterr().err
    assert "--bucket" in error and "amazon-braket-" in error
    assert "credentials" not in error and "127.0.0.1" not in error


def test_setup_without_a_region_says_how_to_give_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup"]) == 2
    assert "--region" in capsys.readouterr().err


def test_setup_takes_the_environments_region_over_covalent_confs_empty_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # covalent.conf as covalent writes it once imported: every plugin default, region = "".
    conf_file = tmp_path / "covalent" / "covalent.conf"
    conf_file.parent.mkdir()
    conf_file.write_text(toml.dumps({"executors": {"braket": entry_point._EXECUTOR_PLUGIN_DEFAULTS}}))
    assert 'region = ""' in conf_file.read_text()
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # as `covalent-braket local env` exports it
    assert main(["setup", "--json"]) == 1  # past the options, at the first AWS call (none answers here)
    out = json.loads(capsys.readouterr().out)
    assert out["error"]["step"] == "credentials"


def test_setup_with_an_unknown_profile_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--profile", "nobody", "--region", "us-east-1"]) == 2
    assert "--profile 'nobody'" in capsys.readouterr().err


def test_setup_reports_the_failing_step_with_its_fix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--region", "us-east-1", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["results"] == []
    assert out["error"]["step"] == "credentials"
    assert out["error"]["fix"]


def test_iam_policy_offline_prints_all_three(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iam-policy", "--account", ACCOUNT, "--region", "eu-north-1", "--no-conf"]) == 0
    printed = json.loads(capsys.readouterr().out)
    scope = {
        "bucket": "amazon-braket-covalent-job-resources", "repository": "amazon-braket-covalent-job-images",
        "region": "eu-north-1", "account": ACCOUNT,
    }
    role = f"arn:aws:iam::{ACCOUNT}:role/service-role/{policies.JOB_ROLE_DEFAULT_NAME}"
    assert printed == {
        "trust": policies.job_role_trust_policy(account=ACCOUNT),
        "job-role": policies.job_role_policy(**scope),
        "user": policies.user_policy(**scope, role_arn=role),
    }


def test_iam_policy_which_and_conf_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf_file = tmp_path / "covalent.conf"
    conf_file.write_text(
        '[executors.braket]\nregion = "us-west-1"\ns3_bucket_name = "amazon-braket-lab"\n'
    )
    code = main(["iam-policy", "--account", ACCOUNT, "--conf", str(conf_file), "--which", "user",
                 "--role-name", "LabJobs", "--repository", "amazon-braket-lab-images"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == policies.user_policy(
        bucket="amazon-braket-lab", repository="amazon-braket-lab-images", region="us-west-1",
        account=ACCOUNT,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/service-role/LabJobs",
    )


def test_iam_policy_refuses_a_bad_account(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iam-policy", "--account", "12345", "--region", "us-east-1"]) == 2
    assert "--account '12345'" in capsys.readouterr().err


def test_iam_policy_without_sts_asks_for_the_account(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iam-policy", "--region", "us-east-1", "--no-conf"]) == 2
    assert "pass --account" in capsys.readouterr().err
