"""The guard's deployment package and settings, checked without an AWS account."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from covalent_braket_plugin.cli import guard as cli
from covalent_braket_plugin.guard.deploy import (
    EVENT_PATTERN,
    HANDLER,
    GuardSettings,
    build_zip,
    qpu_devices,
)
from covalent_braket_plugin.provisioning.awslambda import code_sha256
from covalent_braket_plugin.provisioning.engine import ProvisioningError

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def test_the_zip_is_the_same_bytes_every_time() -> None:
    assert code_sha256(build_zip()) == code_sha256(build_zip())


def test_the_zip_holds_the_handler_its_imports_and_the_prices_only() -> None:
    names = set(zipfile.ZipFile(io.BytesIO(build_zip())).namelist())
    assert "covalent_braket_plugin/guard/lambda_function.py" in names
    assert "covalent_braket_plugin/tasks/prices.json" in names
    assert {"covalent_braket_plugin/tasks/search.py", "covalent_braket_plugin/tasks/cancel.py"} <= names
    # deployment code and the rest of the plugin stay out of the function
    assert "covalent_braket_plugin/guard/deploy.py" not in names
    assert not any(name.startswith("covalent_braket_plugin/local/") for name in names)


def test_the_zip_runs_on_its_own(tmp_path: Path) -> None:
    """Unpacked alone, the package imports, finds its prices and answers an event."""
    zipfile.ZipFile(io.BytesIO(build_zip())).extractall(tmp_path)
    module, function = HANDLER.rsplit(".", 1)
    script = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        f"import json, {module} as handler\n"
        f"assert handler.__file__.startswith({str(tmp_path)!r}), handler.__file__\n"
        "from covalent_braket_plugin.tasks.pricing import PriceTable\n"
        f"print(json.dumps([handler.{function}({{'source': 'aws.s3'}}, None),"
        f" str(PriceTable.load().task_cost({FORTE!r}, 100))]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env={"MAX_SHOTS": "10"}
    )
    assert result.returncode == 0, result.stderr
    outcome, cost = json.loads(result.stdout)
    assert outcome["action"] == "ignored" and cost == "8.30"


def test_the_rule_matches_only_new_tasks() -> None:
    assert EVENT_PATTERN == {
        "source": ["aws.braket"],
        "detail-type": ["Braket Task State Change"],
        "detail": {"status": ["CREATED"]},
    }


def test_settings_become_the_handlers_environment() -> None:
    settings = GuardSettings(
        name="g", max_shots=100, max_cost_usd=Decimal("2.50"), timezone="Asia/Tokyo", devices=(FORTE, SV1)
    )
    assert settings.environment() == {
        "MAX_SHOTS": "100",
        "MAX_COST_USD": "2.50",
        "DAY_TIMEZONE": "Asia/Tokyo",
        "DEVICE_ARNS": f"{FORTE},{SV1}",
        "LEDGER_TABLE": "g-ledger",
    }
    settings.validate()
    assert "LEDGER_TABLE" not in GuardSettings(max_shots=1, ledger=False).environment()


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        (GuardSettings(), "MAX_SHOTS"),
        (GuardSettings(max_shots=-1), "MAX_SHOTS"),
        (GuardSettings(max_cost_usd=Decimal("NaN")), "MAX_COST_USD"),
        (GuardSettings(max_shots=1, timezone="Mars/Base"), "DAY_TIMEZONE"),
        (GuardSettings(max_shots=1, devices=("Forte-1",)), "DEVICE_ARNS"),
        (GuardSettings(max_shots=1, native_limit_usd=Decimal(5), devices=(SV1,)), "--native-limit"),
        (GuardSettings(max_shots=1, native_limit_usd=Decimal("5.001"), devices=(FORTE,)), "two decimal"),
    ],
)
def test_bad_settings_are_refused_before_any_aws_call(settings: GuardSettings, complaint: str) -> None:
    with pytest.raises(ProvisioningError, match=complaint):
        settings.validate()


def test_only_qpus_take_spending_limits() -> None:
    assert qpu_devices([FORTE, SV1]) == [FORTE]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["guard", *argv])


def test_cli_deploy_options() -> None:
    args = parse(
        "deploy", "--max-cost-usd", "25.50", "--devices", f"{FORTE},{SV1}", "--native-limit", "--no-ledger",
        "--slack-secret-arn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook",
    )
    settings = cli._settings(args)
    assert settings.max_cost_usd == Decimal("25.50") and settings.native_limit_usd == Decimal("25.50")
    assert settings.devices == (FORTE, SV1) and settings.ledger is False
    assert parse("deploy", "--max-shots", "5", "--native-limit", "100").native_limit == Decimal(100)


def test_cli_refuses_two_webhooks_and_bad_amounts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("deploy", "--slack-webhook-url", "https://a", "--slack-secret-arn", "arn:x")
    with pytest.raises(SystemExit):
        parse("deploy", "--max-cost-usd", "ten")
    assert "dollar amount" in capsys.readouterr().err


def test_cli_native_limit_needs_an_amount(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("deploy", "--max-shots", "5", "--devices", FORTE, "--native-limit", "--region", "us-east-1")
    assert cli.run_deploy(args) == 2
    assert "--max-cost-usd" in capsys.readouterr().err
