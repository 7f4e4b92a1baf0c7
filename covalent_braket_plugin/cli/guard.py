"""``covalent-braket guard``: deploy the cost guard, show it, remove it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal, InvalidOperation

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from covalent_braket_plugin.guard.config import DEFAULT_TIMEZONE
from covalent_braket_plugin.guard.deploy import (
    DEFAULT_NAME,
    DeployError,
    GuardDeployment,
    GuardSettings,
    Logger,
    ResourceResult,
)


def _dollars(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a dollar amount like 12.50") from error


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``guard`` command group to the ``covalent-braket`` parser."""
    guard = subparsers.add_parser("guard", help="cancel queued quantum tasks past a daily limit")
    commands = guard.add_subparsers(dest="guard_command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--name", default=DEFAULT_NAME, help=f"name of its resources ({DEFAULT_NAME})")
    common.add_argument("--region", help="AWS region (default: the profile's or the environment's)")
    common.add_argument("--profile", help="AWS profile name")
    common.add_argument("--json", action="store_true", help="print JSON instead of lines")

    deploy = commands.add_parser(
        "deploy", parents=[common], help="create or update the guard; unchanged resources are left alone"
    )
    deploy.add_argument("--max-shots", type=int, help="daily shot limit per device")
    deploy.add_argument("--max-cost-usd", type=_dollars, help="daily estimated cost limit per device, in USD")
    deploy.add_argument("--tz", default=DEFAULT_TIMEZONE, help="time zone of the day (default: UTC)")
    deploy.add_argument(
        "--devices", nargs="+", default=[], metavar="ARN",
        help="only guard these device ARNs (space- or comma-separated; default: every device)",
    )
    slack = deploy.add_mutually_exclusive_group()
    slack.add_argument("--slack-webhook-url", help="Slack incoming webhook (kept in the function's settings)")
    slack.add_argument("--slack-secret-arn", help="Secrets Manager secret holding the webhook URL")
    deploy.add_argument(
        "--ledger", action=argparse.BooleanOptionalAction, default=True,
        help="count tasks in a DynamoDB ledger table (default); --no-ledger counts through the Braket API",
    )
    deploy.add_argument(
        "--native-limit", type=_dollars, nargs="?", const=True, default=None, metavar="USD",
        help="also set a Braket spending limit on each QPU of --devices (default amount: --max-cost-usd)",
    )
    deploy.set_defaults(handler=run_deploy)

    status = commands.add_parser("status", parents=[common], help="show each resource of the guard")
    status.set_defaults(handler=run_status)
    remove = commands.add_parser("remove", parents=[common], help="delete every resource deploy made")
    remove.set_defaults(handler=run_remove)


def _run(args: argparse.Namespace, work: Callable[[GuardDeployment, Logger], list[ResourceResult]]) -> int:
    """Run ``work`` against the account, print each resource (or JSON), turn errors into exit codes."""
    log: Logger = (lambda result: None) if args.json else print
    try:
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
        results = work(GuardDeployment(session, region=args.region), log)
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS refused: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([asdict(result) for result in results], indent=2))
    return 0


def _settings(args: argparse.Namespace) -> GuardSettings:
    devices = tuple(arn.strip() for value in args.devices for arn in value.split(",") if arn.strip())
    native = args.native_limit
    if native is True:
        if args.max_cost_usd is None:
            raise DeployError("--native-limit without an amount needs --max-cost-usd")
        native = args.max_cost_usd
    return GuardSettings(
        name=args.name,
        max_shots=args.max_shots,
        max_cost_usd=args.max_cost_usd,
        timezone=args.tz,
        devices=devices,
        slack_webhook_url=args.slack_webhook_url,
        slack_secret_arn=args.slack_secret_arn,
        ledger=args.ledger,
        native_limit_usd=native,
    )


def run_deploy(args: argparse.Namespace) -> int:
    return _run(args, lambda deployment, log: deployment.deploy(_settings(args), log=log))


def run_status(args: argparse.Namespace) -> int:
    def status(deployment: GuardDeployment, log: Logger) -> list[ResourceResult]:
        results = deployment.status(args.name)
        for result in results:
            log(result)
        return results

    return _run(args, status)


def run_remove(args: argparse.Namespace) -> int:
    return _run(args, lambda deployment, log: deployment.remove(args.name, log=log))
