"""``covalent-braket guard deploy / status / remove`` against the local stack's IAM, Lambda,
EventBridge, DynamoDB and Braket spending limits, over HTTP."""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal
from typing import Any

import boto3
import pytest

from covalent_braket_plugin.cli import guard as cli
from covalent_braket_plugin.guard.deploy import (
    EVENT_PATTERN,
    HANDLER,
    RUNTIME,
    GuardDeployment,
    GuardSettings,
    build_zip,
)
from covalent_braket_plugin.guard.ledger import KEY, TTL_ATTRIBUTE
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.provisioning.awslambda import code_sha256

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
ENTERPRISE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
READS = ("Get", "Describe", "List", "Search")


@pytest.fixture
def aws(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    return lambda service: boto3.client(service, **stack.client_kwargs())


def actions(results: list[Any]) -> dict[tuple[str, str], str]:
    return {(r.kind, r.name): r.action for r in results}


def test_deploy_redeploy_change_and_remove(aws: Any) -> None:
    deployment = GuardDeployment(boto3.session.Session())
    secret_arn = aws("secretsmanager").create_secret(
        Name="guard-hook", SecretString="https://hooks.example/x"
    )["ARN"]
    settings = GuardSettings(
        name="guard-a",
        max_shots=5000,
        max_cost_usd=Decimal("25.50"),
        timezone="Europe/Berlin",
        devices=(FORTE, SV1),
        slack_secret_arn=secret_arn,
    )
    first = deployment.deploy(settings, log=lambda result: None)
    assert set(actions(first).values()) == {"created"}  # the concurrency too, with its new function
    assert actions(first)[("lambda function", "guard-a")] == "created"

    # What was made is what the handler needs, and no more.
    role = aws("iam").get_role(RoleName="guard-a-role")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
    policy = aws("iam").get_role_policy(RoleName="guard-a-role", PolicyName="guard-a-policy")[
        "PolicyDocument"
    ]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["FindTasks"]["Action"] == ["braket:SearchQuantumTasks"]
    assert set(by_sid["ReadAndCancelTasks"]["Action"]) == {
        "braket:GetQuantumTask",
        "braket:CancelQuantumTask",
    }
    assert by_sid["Ledger"]["Resource"].endswith(":table/guard-a-ledger")
    assert by_sid["SlackWebhook"] == {
        "Sid": "SlackWebhook",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": secret_arn,
    }
    assert all(s["Resource"] != "*" for sid, s in by_sid.items() if sid != "FindTasks")

    table = aws("dynamodb").describe_table(TableName="guard-a-ledger")["Table"]
    assert table["KeySchema"] == [{"AttributeName": KEY, "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = aws("dynamodb").describe_time_to_live(TableName="guard-a-ledger")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TTL_ATTRIBUTE

    function = aws("lambda").get_function_configuration(FunctionName="guard-a")
    assert (function["Runtime"], function["Handler"], function["Role"]) == (RUNTIME, HANDLER, role["Arn"])
    assert function["CodeSha256"] == code_sha256(build_zip())
    assert function["Environment"]["Variables"] == {
        "MAX_SHOTS": "5000",
        "MAX_COST_USD": "25.50",
        "DAY_TIMEZONE": "Europe/Berlin",
        "DEVICE_ARNS": f"{FORTE},{SV1}",
        "SLACK_WEBHOOK_SECRET_ARN": secret_arn,
        "LEDGER_TABLE": "guard-a-ledger",
    }
    rule = aws("events").describe_rule(Name="guard-a")
    assert json.loads(rule["EventPattern"]) == EVENT_PATTERN and rule["State"] == "ENABLED"
    assert aws("events").list_targets_by_rule(Rule="guard-a")["Targets"][0]["Arn"] == function["FunctionArn"]
    statement = json.loads(aws("lambda").get_policy(FunctionName="guard-a")["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]

    # Re-running changes nothing.
    again = deployment.deploy(settings, log=lambda result: None)
    assert set(actions(again).values()) == {"unchanged"}
    assert actions(again).keys() == actions(first).keys()

    # A new limit touches the function's settings only.
    changed = deployment.deploy(
        GuardSettings(**{**settings.__dict__, "max_shots": 100}), log=lambda result: None
    )
    assert [k for k, v in actions(changed).items() if v != "unchanged"] == [("lambda function", "guard-a")]

    # Without the ledger: the policy loses the table and invocations run one at a time.
    no_ledger = deployment.deploy(
        GuardSettings(**{**settings.__dict__, "ledger": False}), log=lambda result: None
    )
    assert actions(no_ledger)[("iam policy", "guard-a-policy")] == "updated"
    assert actions(no_ledger)[("lambda concurrency", "guard-a reserved concurrency")] == "updated"
    assert aws("lambda").get_function_concurrency(FunctionName="guard-a")["ReservedConcurrentExecutions"] == 1
    policy = aws("iam").get_role_policy(RoleName="guard-a-role", PolicyName="guard-a-policy")[
        "PolicyDocument"
    ]
    assert "Ledger" not in {s["Sid"] for s in policy["Statement"]}

    status = actions(deployment.status("guard-a"))
    assert set(status) == {
        ("iam role", "guard-a-role"),
        ("iam policy", "guard-a-policy"),
        ("dynamodb table", "guard-a-ledger"),
        ("lambda function", "guard-a"),
        ("lambda concurrency", "guard-a reserved concurrency"),
        ("lambda permission", "guard-a-events"),
        ("lambda async config", "guard-a async invocation"),
        ("eventbridge rule", "guard-a"),
        ("sqs queue", "guard-a-failures"),
    }
    assert set(status.values()) == {"present"}

    removed = deployment.remove("guard-a", log=lambda result: None)
    assert set(actions(removed).values()) == {"deleted"}
    assert set(actions(deployment.status("guard-a")).values()) == {"missing"}
    assert set(actions(deployment.remove("guard-a", log=lambda result: None)).values()) == {"missing"}


def test_native_spending_limits_on_qpus(aws: Any) -> None:
    deployment = GuardDeployment(boto3.session.Session())
    braket = aws("braket")
    foreign = braket.create_spending_limit(
        deviceArn=ENTERPRISE, spendingLimit="1000.00", clientToken="someone-else"
    )
    settings = GuardSettings(
        name="guard-b",
        max_cost_usd=Decimal(40),
        devices=(FORTE, ENTERPRISE, SV1),
        native_limit_usd=Decimal(40),
    )
    results = deployment.deploy(settings, log=lambda result: None)
    assert actions(results)[("spending limit", FORTE)] == "created"
    assert actions(results)[("spending limit", ENTERPRISE)] == "skipped"  # not ours: left alone
    assert ("spending limit", SV1) not in actions(results)  # simulators have none
    limits = braket.search_spending_limits(
        filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [FORTE]}]
    )
    assert [(x["spendingLimit"], x["tags"]) for x in limits["spendingLimits"]] == [
        ("40.00", {"covalent-braket-guard": "guard-b"})
    ]

    assert (
        actions(deployment.deploy(settings, log=lambda result: None))[("spending limit", FORTE)]
        == "unchanged"
    )
    raised = GuardSettings(**{**settings.__dict__, "native_limit_usd": Decimal("55.5")})
    assert actions(deployment.deploy(raised, log=lambda result: None))[("spending limit", FORTE)] == "updated"
    limits = braket.search_spending_limits(
        filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [FORTE]}]
    )
    assert limits["spendingLimits"][0]["spendingLimit"] == "55.50"

    status = deployment.status("guard-b")
    assert [r.name for r in status if r.kind == "spending limit"] == [FORTE]

    removed = actions(deployment.remove("guard-b", log=lambda result: None))
    assert removed[("spending limit", FORTE)] == "deleted"
    remaining = braket.search_spending_limits(filters=[])["spendingLimits"]
    assert [x["spendingLimitArn"] for x in remaining] == [foreign["spendingLimitArn"]]


def test_the_command_line(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["guard", *argv])
        return args.handler(args)

    assert (
        run(
            "deploy",
            "--name",
            "guard-c",
            "--max-shots",
            "1000",
            "--slack-webhook-url",
            "https://hooks.example/y",
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "lambda function" in printed and "created" in printed
    assert "(limits: 1000 shots per device, per day (UTC))" in printed
    assert (
        run(
            "deploy",
            "--name",
            "guard-c",
            "--max-shots",
            "1000",
            "--slack-webhook-url",
            "https://hooks.example/y",
            "--json",
        )
        == 0
    )
    assert {r["action"] for r in json.loads(capsys.readouterr().out)} == {"unchanged"}
    assert run("status", "--name", "guard-c") == 0
    assert "present" in capsys.readouterr().out
    assert run("deploy", "--name", "guard-c", "--max-cost-usd", "NaN") == 2
    assert "--max-cost-usd='NaN' is not an amount" in capsys.readouterr().err
    assert run("remove", "--name", "guard-c", "--json") == 0
    assert {r["action"] for r in json.loads(capsys.readouterr().out)} == {"deleted"}


def test_a_dry_run_reads_only_and_says_what_would_change(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    session = boto3.session.Session()
    calls: list[str] = []
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    deployment = GuardDeployment(session)
    settings = GuardSettings(
        name="guard-d", max_cost_usd=Decimal(30), devices=(FORTE,), native_limit_usd=Decimal(30)
    )

    plan = deployment.deploy(settings, log=lambda result: None, dry_run=True)
    planned = actions(plan)
    assert calls and [call for call in calls if not call.startswith(READS)] == []
    assert set(planned.values()) == {"would create"}  # the concurrency too: its function is new
    (function_line,) = [result for result in plan if result.kind == "lambda function"]
    assert function_line.detail == "limits: $30 per device, per day (UTC)"
    assert planned[("spending limit", FORTE)] == "would create"
    assert set(actions(deployment.status("guard-d")).values()) == {"missing"}

    deployed = actions(deployment.deploy(settings, log=lambda result: None))
    assert deployed.keys() == planned.keys()
    changed = GuardSettings(**{**settings.__dict__, "max_cost_usd": Decimal(40)})
    calls.clear()
    replanned = actions(deployment.deploy(changed, log=lambda result: None, dry_run=True))
    assert [call for call in calls if not call.startswith(READS)] == []
    assert {k: v for k, v in replanned.items() if v != "unchanged"} == {
        ("lambda function", "guard-d"): "would update"
    }
    function = aws("lambda").get_function_configuration(FunctionName="guard-d")
    assert function["Environment"]["Variables"]["MAX_COST_USD"] == "30"

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["guard", "remove", "--name", "guard-d", "--dry-run"])
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "would delete" in printed and printed.rstrip().endswith("dry run: nothing was changed")
    assert set(actions(deployment.status("guard-d")).values()) == {"present"}
    deployment.remove("guard-d", log=lambda result: None)


def lambda_failure_record(task_arn: str, when: str, error: str) -> str:
    """The record Lambda puts in an on-failure destination when an event's retries ran out."""
    return json.dumps({
        "version": "1.0", "timestamp": when,
        "requestContext": {
            "requestId": "req", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:g",
            "condition": "RetriesExhausted", "approximateInvokeCount": 3,
        },
        "requestPayload": {"source": "aws.braket", "detail-type": "Braket Task State Change",
                           "detail": {"quantumTaskArn": task_arn, "status": "CREATED"}},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": error, "errorType": "ClientError"},
    })


def test_failed_events_go_to_a_queue_deploy_makes_and_status_shows_without_consuming(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    session = boto3.session.Session()
    calls: list[str] = []
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    deployment = GuardDeployment(session)
    limits = json.dumps({FORTE: {"max_shots": 300}})
    settings = GuardSettings(  # account and device limits only: a guard of its own
        name="guard-e", device_limits=limits, account_max_cost_usd=Decimal("50"), cancel_scope="all",
        max_retry_attempts=1, max_event_age_s=3600,
    )

    planned = actions(deployment.deploy(settings, log=lambda result: None, dry_run=True))
    assert [call for call in calls if not call.startswith(READS)] == []
    assert planned[("sqs queue", "guard-e-failures")] == "would create"
    assert planned[("lambda async config", "guard-e async invocation")] == "would create"

    deployed = actions(deployment.deploy(settings, log=lambda result: None))
    assert deployed.keys() == planned.keys() and deployed[("sqs queue", "guard-e-failures")] == "created"
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="guard-e-failures")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert queue["MessageRetentionPeriod"] == "1209600" and queue["SqsManagedSseEnabled"] == "true"
    invoke = aws("lambda").get_function_event_invoke_config(FunctionName="guard-e")
    assert (invoke["MaximumRetryAttempts"], invoke["MaximumEventAgeInSeconds"]) == (1, 3600)
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == queue["QueueArn"]
    variables = aws("lambda").get_function_configuration(FunctionName="guard-e")["Environment"]["Variables"]
    assert variables == {
        "DAY_TIMEZONE": "UTC", "LEDGER_TABLE": "guard-e-ledger", "DEVICE_LIMITS": limits,
        "ACCOUNT_MAX_COST_USD": "50", "CANCEL_SCOPE": "all",
    }
    policy = aws("iam").get_role_policy(RoleName="guard-e-role", PolicyName="guard-e-policy")
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert by_sid["ReadJobs"]["Action"] == ["braket:GetJob"]
    assert by_sid["FailedEvents"] == {"Sid": "FailedEvents", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                                      "Resource": queue["QueueArn"]}
    again = actions(deployment.deploy(settings, log=lambda result: None))
    assert set(again.values()) == {"unchanged"}

    # Nothing failed yet: the queue is there, empty.
    status = {(r.kind, r.name): r for r in deployment.status("guard-e")}
    assert status[("sqs queue", "guard-e-failures")].detail == "0 message(s)"
    invocation = status[("lambda async config", "guard-e async invocation")].detail
    assert invocation == f"1 retries, events up to 3600 s old, failures to {queue['QueueArn']}"
    assert not any(kind == "failed event" for kind, _ in status)

    # Lambda gives up on five events (here its records are put as Lambda puts them).
    for number in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=lambda_failure_record(
            f"arn:aws:braket:us-east-1:123456789012:quantum-task/t{number}", f"2026-12-01T10:0{number}:00Z",
            f"ThrottlingException {number}",
        ))
        time.sleep(0.01)  # distinct SentTimestamps, so "newest" is well defined
    for _ in range(2):  # looking twice shows the same: nothing is consumed
        args = argparse.ArgumentParser()
        cli.register(args.add_subparsers(dest="command", required=True))
        parsed = args.parse_args(["guard", "status", "--name", "guard-e", "--json"])
        assert parsed.handler(parsed) == 0
        shown = json.loads(capsys.readouterr().out)
        queue_line = next(r for r in shown if r["kind"] == "sqs queue")
        assert queue_line["detail"] == "5 message(s)"
        failed = [r for r in shown if r["kind"] == "failed event"]
        assert [r["name"].rsplit("/", 1)[-1] for r in failed] == ["t4", "t3", "t2"]
        assert {r["action"] for r in failed} == {"RetriesExhausted"}
        assert failed[0]["detail"] == "2026-12-01T10:04:00Z, 3 attempt(s): ThrottlingException 4"
    count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert count["Attributes"]["ApproximateNumberOfMessages"] == "5"

    calls.clear()
    dry = actions(deployment.remove("guard-e", log=lambda result: None, dry_run=True))
    assert dry[("sqs queue", "guard-e-failures")] == "would delete"
    assert [call for call in calls if not call.startswith(READS)] == []
    removed = actions(deployment.remove("guard-e", log=lambda result: None))
    assert removed[("sqs queue", "guard-e-failures")] == "deleted"
    assert set(actions(deployment.status("guard-e")).values()) == {"missing"}
