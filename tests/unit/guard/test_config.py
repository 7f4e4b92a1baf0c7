"""Every setting of the cost guard is parsed strictly, and every bad one is named."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from covalent_braket_plugin.guard.config import GuardConfig, GuardConfigError, Limits
from covalent_braket_plugin.guard.lambda_function import handle_event

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-hook-AbCdEf"


def problems_of(environ: dict[str, str]) -> list[str]:
    with pytest.raises(GuardConfigError) as caught:
        GuardConfig.from_environ(environ)
    return caught.value.problems


def test_full_settings_are_parsed() -> None:
    config = GuardConfig.from_environ(
        {
            "MAX_SHOTS": "5000",
            "MAX_COST_USD": "12.50",
            "DAY_TIMEZONE": "Europe/Berlin",
            "DEVICE_ARNS": f"{FORTE}, {SV1}",
            "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x",
            "LEDGER_TABLE": "guard-ledger",
        }
    )
    assert config.max_shots == 5000
    assert config.max_cost_usd == Decimal("12.50")
    assert config.timezone.key == "Europe/Berlin"
    assert config.device_arns == frozenset({FORTE, SV1})
    assert config.watches(FORTE) and not config.watches(
        "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
    )
    assert config.ledger_table == "guard-ledger"


def test_defaults_watch_every_device_in_utc() -> None:
    config = GuardConfig.from_environ({"MAX_COST_USD": "3"})
    assert config.max_shots is None
    assert config.timezone.key == "UTC"
    assert config.device_arns is None and config.watches(FORTE)
    assert config.slack_webhook_url is None and config.ledger_table is None


def test_cost_limit_is_exact_decimal_dollars() -> None:
    # int() would have refused this (the earlier tool's fault) and float would round it.
    assert GuardConfig.from_environ({"MAX_COST_USD": "0.10"}).max_cost_usd == Decimal("0.10")


def test_legacy_slack_post_url_is_honoured() -> None:
    config = GuardConfig.from_environ({"MAX_SHOTS": "1", "SLACK_POST_URL": "https://hooks.slack.com/x"})
    assert config.slack_webhook_url == "https://hooks.slack.com/x"


def test_no_limit_is_an_error() -> None:
    assert any("MAX_SHOTS" in p and "MAX_COST_USD" in p for p in problems_of({}))


@pytest.mark.parametrize("value", ["-1", "1.5", "ten", "1e3", "10 shots"])
def test_bad_shot_limit(value: str) -> None:
    assert any(p.startswith("MAX_SHOTS=") for p in problems_of({"MAX_SHOTS": value}))


@pytest.mark.parametrize("value", ["-1", "NaN", "Infinity", "1e3", "$5", "5 USD", "12,50", "abc"])
def test_bad_cost_limit(value: str) -> None:
    assert any(p.startswith("MAX_COST_USD=") for p in problems_of({"MAX_COST_USD": value}))


def test_bad_timezone() -> None:
    assert any("DAY_TIMEZONE" in p for p in problems_of({"MAX_SHOTS": "1", "DAY_TIMEZONE": "Mars/Olympus"}))


@pytest.mark.parametrize("value", ["Forte-1", f"{FORTE},", "arn:aws:s3:::bucket", f"{FORTE},,{SV1}"])
def test_bad_device_list(value: str) -> None:
    assert any("DEVICE_ARNS" in p for p in problems_of({"MAX_SHOTS": "1", "DEVICE_ARNS": value}))


@pytest.mark.parametrize("value", ["hooks.slack.com/x", "ftp://hooks.slack.com/x", "https://"])
def test_bad_webhook_url(value: str) -> None:
    problems = problems_of({"MAX_SHOTS": "1", "SLACK_WEBHOOK_URL": value})
    assert any("SLACK_WEBHOOK_URL" in p for p in problems)
    assert all(value not in p for p in problems)  # a webhook URL is a secret: never echoed


def test_two_different_webhooks_are_ambiguous() -> None:
    problems = problems_of(
        {
            "MAX_SHOTS": "1",
            "SLACK_WEBHOOK_URL": "https://a.example/x",
            "SLACK_POST_URL": "https://b.example/y",
        }
    )
    assert any("SLACK_POST_URL" in p for p in problems)


def test_bad_secret_arn_and_secret_with_url() -> None:
    assert any(
        "SLACK_WEBHOOK_SECRET_ARN" in p
        for p in problems_of({"MAX_SHOTS": "1", "SLACK_WEBHOOK_SECRET_ARN": "hook"})
    )
    both = {"MAX_SHOTS": "1", "SLACK_WEBHOOK_SECRET_ARN": SECRET, "SLACK_WEBHOOK_URL": "https://a.example/x"}
    assert any("not both" in p for p in problems_of(both))


def test_bad_ledger_table() -> None:
    assert any("LEDGER_TABLE" in p for p in problems_of({"MAX_SHOTS": "1", "LEDGER_TABLE": "no spaces"}))


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(
        {"MAX_SHOTS": "x", "MAX_COST_USD": "y", "DAY_TIMEZONE": "Nowhere", "LEDGER_TABLE": "a"}
    )
    assert len(problems) == 4


def test_handler_reports_bad_settings_and_touches_nothing(caplog: pytest.LogCaptureFixture) -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"the handler called AWS ({name}) with bad settings")

    from covalent_braket_plugin.guard.lambda_function import Clients

    outcome = handle_event(
        {"anything": 1}, {"MAX_COST_USD": "ten dollars"}, clients=Clients(braket=Untouchable())
    )
    assert outcome["action"] == "config_error"
    assert any("MAX_COST_USD" in p for p in outcome["problems"])
    assert "MAX_COST_USD" in caplog.text and "nothing was cancelled" in caplog.text


def test_limits_per_device_account_wide_scope_and_price_overrides_are_parsed() -> None:
    config = GuardConfig.from_environ(
        {
            "MAX_SHOTS": "1000",
            "DEVICE_LIMITS": json.dumps(
                {"arn:aws:braket:::device/qpu/ionq/Forte-1": {"max_shots": 50, "max_cost_usd": "4.50"}}
            ),
            "ACCOUNT_MAX_COST_USD": "100",
            "CANCEL_SCOPE": "ALL",
            "PRICE_OVERRIDES": json.dumps({"instances": {"ml.m5.large": {"per_hour": "0.12"}}}),
        }
    )
    # A device limit matches whichever region spelling the task's device ARN uses.
    assert config.limits_for(FORTE) == Limits(50, Decimal("4.50"))
    assert config.limits_for(SV1) == Limits(1000, None)
    assert config.account_limits == Limits(None, Decimal(100))
    assert config.cancel_scope == "all"
    assert config.price_overrides == {"instances": {"ml.m5.large": {"per_hour": "0.12"}}}
    assert GuardConfig.from_environ({"MAX_SHOTS": "1"}).cancel_scope == "excess"  # the default


def test_an_account_limit_alone_is_a_limit() -> None:
    config = GuardConfig.from_environ({"ACCOUNT_MAX_SHOTS": "10"})
    assert not config.limits_for(FORTE) and config.account_limits == Limits(10, None)


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"MAX_SHOTS": "²"}, "MAX_SHOTS='²'"),
        ({"ACCOUNT_MAX_SHOTS": "1e3"}, "ACCOUNT_MAX_SHOTS"),
        ({"ACCOUNT_MAX_COST_USD": "NaN"}, "ACCOUNT_MAX_COST_USD"),
        ({"MAX_SHOTS": "1", "CANCEL_SCOPE": "some"}, "CANCEL_SCOPE='some'"),
        ({"DEVICE_LIMITS": "{not json"}, "DEVICE_LIMITS is not JSON"),
        ({"DEVICE_LIMITS": json.dumps({"Forte-1": {"max_shots": 1}})}, "needs a device ARN"),
        ({"DEVICE_LIMITS": json.dumps({FORTE: {"max_shots": -1}})}, "max_shots"),
        ({"DEVICE_LIMITS": json.dumps({FORTE: {"max_cost_usd": "lots"}})}, "max_cost_usd"),
        ({"MAX_SHOTS": "1", "PRICE_OVERRIDES": "[1]"}, "PRICE_OVERRIDES"),
        ({"MAX_SHOTS": "1", "PRICE_OVERRIDES": json.dumps({"devices": {FORTE: {"per_shot": "x"}}})}, FORTE),
        ({"MAX_SHOTS": "1", "PRICE_OVERRIDES": json.dumps({"instances": {"ml.m5.large": {"per_hour": -1}}})},
         "ml.m5.large"),
    ],
)
def test_new_settings_are_refused_naming_the_setting(environ: dict[str, str], complaint: str) -> None:
    assert any(complaint in problem for problem in problems_of(environ))
