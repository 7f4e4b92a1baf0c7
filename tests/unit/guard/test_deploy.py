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
from typing import Any

import pytest
from moto.events.models import EventPattern

from covalent_braket_plugin.cli import guard as cli
from covalent_braket_plugin.guard.deploy import (
    EVENT_PATTERN,
    HANDLER,
    GuardSettings,
    build_zip,
    failed_event,
    qpu_devices,
    role_policy,
)
from covalent_braket_plugin.guard.events import DETAIL_TYPE, JOB_DETAIL_TYPE, TERMINAL_STATUSES
from covalent_braket_plugin.provisioning.awslambda import code_sha256
from covalent_braket_plugin.provisioning.engine import ProvisioningError
from covalent_braket_plugin.provisioning.sqs import Message

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def test_the_zip_is_the_same_bytes_every_time() -> None:
    assert code_sha256(build_zip()) == code_sha256(build_zip())


def test_the_zip_holds_the_handler_its_imports_and_the_prices_only() -> None:
    names = set(zipfile.ZipFile(io.BytesIO(build_zip())).namelist())
    assert "covalent_braket_plugin/guard/lambda_function.py" in names
    assert "covalent_braket_plugin/billing/prices.json" in names
    assert "covalent_braket_plugin/quantum_tasks.py" in names
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
        "from covalent_braket_plugin.billing.prices import PriceTable\n"
        f"print(json.dumps([handler.{function}({{'source': 'aws.s3'}}, None),"
        f" str(PriceTable.load().task_cost({FORTE!r}, 100))]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env={"MAX_SHOTS": "10"}
    )
    assert result.returncode == 0, result.stderr
    outcome, cost = json.loads(result.stdout)
    assert outcome["action"] == "ignored" and cost == "8.30"


def state_change(detail_type: str, status: str, device: str = FORTE) -> dict[str, Any]:
    detail = {"status": status, "deviceArn": device} if "Task" in detail_type else {"status": status}
    return {"source": "aws.braket", "detail-type": detail_type, "detail": detail}


@pytest.mark.parametrize(
    ("event", "forwarded"),
    [
        (state_change(DETAIL_TYPE, "CREATED"), True),
        (state_change(DETAIL_TYPE, "CREATED", SV1), True),
        (state_change(DETAIL_TYPE, "QUEUED"), False),
        (state_change(DETAIL_TYPE, "CANCELLING", SV1), False),
        *[(state_change(DETAIL_TYPE, status, SV1), True) for status in sorted(TERMINAL_STATUSES)],
        *[(state_change(DETAIL_TYPE, status), False) for status in sorted(TERMINAL_STATUSES)],  # QPU: priced
        *[(state_change(JOB_DETAIL_TYPE, status), True) for status in sorted(TERMINAL_STATUSES)],
        (state_change(JOB_DETAIL_TYPE, "RUNNING"), False),
        ({**state_change(DETAIL_TYPE, "CREATED"), "source": "aws.s3"}, False),
    ],
)
def test_the_rule_forwards_exactly_the_changes_the_handler_counts(
    event: dict[str, Any], forwarded: bool
) -> None:
    """Matched by EventBridge's rules as the local stack (moto) applies them."""
    pattern = EventPattern.load(json.dumps(EVENT_PATTERN))
    assert pattern.matches_event(event) is forwarded


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
        (GuardSettings(max_shots=-1), "--max-shots='-1'"),
        (GuardSettings(max_cost_usd=Decimal("NaN")), "--max-cost-usd='NaN'"),
        (GuardSettings(max_shots=1, timezone="Mars/Base"), "--tz='Mars/Base'"),
        (GuardSettings(max_shots=1, devices=("Forte-1",)), "--devices"),
        (GuardSettings(max_shots=1, native_limit_usd=Decimal(5), devices=(SV1,)), "--native-limit"),
        (GuardSettings(max_shots=1, native_limit_usd=Decimal("5.001"), devices=(FORTE,)), "two decimal"),
    ],
)
def test_bad_settings_are_refused_before_any_aws_call(settings: GuardSettings, complaint: str) -> None:
    with pytest.raises(ProvisioningError, match=complaint):
        settings.validate()


def test_no_limit_is_refused_naming_the_flags_that_set_one() -> None:
    # The handler's variables (MAX_SHOTS, ...) are not what the user of `guard deploy` types.
    with pytest.raises(ProvisioningError) as raised:
        GuardSettings().validate()
    problem = raised.value.problem
    for flag in ("--max-shots", "--max-cost-usd", "--device-limits", "--account-max-shots",
                 "--account-max-cost-usd"):
        assert flag in problem
    assert "MAX_SHOTS" not in problem and "MAX_COST_USD" not in problem


def test_the_limits_are_described_as_deployed() -> None:
    assert GuardSettings(max_shots=1000, max_cost_usd=Decimal("5.50")).limits() == (
        "1000 shots / $5.50 per device, per day (UTC)"
    )
    settings = GuardSettings(
        device_limits=json.dumps({FORTE: {"max_shots": 300}}), account_max_cost_usd=Decimal(50),
        timezone="Europe/Berlin",
    )
    assert settings.limits() == "300 shots on qpu/ionq/Forte-1, $50 per account, per day (Europe/Berlin)"


def test_account_or_device_limits_alone_are_a_valid_guard() -> None:
    limits = json.dumps({FORTE: {"max_shots": 1000, "max_cost_usd": "12.50"}})
    settings = GuardSettings(
        name="g", device_limits=limits, account_max_shots=5000, account_max_cost_usd=Decimal("99.5"),
        cancel_scope="all", price_overrides='{"devices":{}}',
    )
    settings.validate()
    assert settings.environment() == {
        "DAY_TIMEZONE": "UTC", "LEDGER_TABLE": "g-ledger", "DEVICE_LIMITS": limits,
        "ACCOUNT_MAX_SHOTS": "5000", "ACCOUNT_MAX_COST_USD": "99.5", "CANCEL_SCOPE": "all",
        "PRICE_OVERRIDES": '{"devices":{}}',
    }
    GuardSettings(account_max_cost_usd=Decimal(10)).validate()
    GuardSettings(device_limits=json.dumps({SV1: {"max_shots": 10}})).validate()


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        (GuardSettings(max_shots=1, device_limits='{"Forte-1": {"max_shots": 1}}'), "--device-limits"),
        (GuardSettings(max_shots=1, cancel_scope="some"), "--cancel-scope='some'"),
        (GuardSettings(max_shots=1, price_overrides="[1, 2]"), "--price-overrides"),
        (GuardSettings(max_shots=1, max_retry_attempts=3), "--retry-attempts 3: Lambda allows 0 to 2"),
        (GuardSettings(max_shots=1, max_event_age_s=59), "--max-event-age 59 s"),
        (GuardSettings(max_shots=1, max_event_age_s=21601), "--max-event-age 21601 s"),
        (GuardSettings(max_shots=1, price_overrides=json.dumps({"devices": {"x" * 5000: {}}})),
         "Lambda allows 4096: shorten --price-overrides"),
    ],
)
def test_new_settings_are_refused_naming_them(settings: GuardSettings, complaint: str) -> None:
    with pytest.raises(ProvisioningError, match=complaint):
        settings.validate()


def test_the_role_may_read_jobs_and_fill_its_failure_queue_only() -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:g-failures"
    policy = role_policy(GuardSettings(name="g", max_shots=1), "us-east-1", "123456789012", None, queue)
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert by_sid["ReadJobs"]["Action"] == ["braket:GetJob"]
    assert by_sid["ReadJobs"]["Resource"] == "arn:aws:braket:us-east-1:123456789012:job/*"
    assert by_sid["FailedEvents"]["Action"] == ["sqs:SendMessage"]
    assert by_sid["FailedEvents"]["Resource"] == queue


def test_a_failed_event_is_told_from_lambdas_record() -> None:
    record = {
        "version": "1.0", "timestamp": "2026-12-01T10:00:00.000Z",
        "requestContext": {"requestId": "r", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {"detail-type": DETAIL_TYPE, "detail": {"quantumTaskArn": "arn:task/1"}},
        "responsePayload": {"errorMessage": "ThrottlingException: Rate exceeded"},
    }
    shown = failed_event(Message(1_700_000_000_000, record))
    assert (shown.kind, shown.name) == ("failed event", f"{DETAIL_TYPE}: arn:task/1")
    assert shown.action == "RetriesExhausted"
    assert shown.detail == "2026-12-01T10:00:00.000Z, 3 attempt(s): ThrottlingException: Rate exceeded"
    aged = failed_event(Message(0, {"requestContext": {"condition": "EventAgeExceeded"}}))
    assert aged.action == "EventAgeExceeded" and aged.name == "event: ?"
    assert failed_event(Message(0, "not json")).detail == "1970-01-01T00:00:00+00:00, ? attempt(s): not json"


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


def test_cli_options_of_the_new_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{\n  "devices": {}\n}\n')
    limits = json.dumps({FORTE: {"max_shots": 10}})
    settings = cli._settings(parse(
        "deploy", "--device-limits", limits, "--account-max-shots", "100", "--account-max-cost-usd", "7.25",
        "--cancel-scope", "all", "--price-overrides", str(prices), "--retry-attempts", "1",
        "--max-event-age", "1h30m",
    ))
    assert (settings.device_limits, settings.account_max_shots, settings.account_max_cost_usd) == (
        limits, 100, Decimal("7.25"))
    assert (settings.cancel_scope, settings.price_overrides) == ("all", '{"devices":{}}')
    assert (settings.max_retry_attempts, settings.max_event_age_s) == (1, 5400)
    defaults = cli._settings(parse("deploy", "--max-shots", "1"))
    assert (defaults.max_retry_attempts, defaults.max_event_age_s, defaults.cancel_scope) == (2, 21600, None)
    with pytest.raises(SystemExit):
        parse("deploy", "--max-event-age", "soon")
    assert "--max-event-age" in capsys.readouterr().err
    missing = parse("deploy", "--max-shots", "1", "--price-overrides", str(tmp_path / "none.json"),
                    "--region", "us-east-1")
    assert cli.run_deploy(missing) == 2
    assert "--price-overrides" in capsys.readouterr().err


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
