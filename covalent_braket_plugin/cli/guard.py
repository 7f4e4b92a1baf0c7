"""``covalent-braket guard``: deploy the cost guard, show it, remove it."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path

from covalent_braket_plugin.cli.common import (
    UsageError,
    add_account_flags,
    add_json_flag,
    argument_type,
    aws_session,
    guarded,
    parse_duration,
    print_json,
)
from covalent_braket_plugin.guard.config import CANCEL_ALL, CANCEL_EXCESS, DEFAULT_TIMEZONE
from covalent_braket_plugin.guard.deploy import (
    DEFAULT_NAME,
    FAILED_EVENTS_SHOWN,
    MAX_EVENT_AGE_S,
    MAX_RETRY_ATTEMPTS,
    GuardDeployment,
    GuardSettings,
)
from covalent_braket_plugin.provisioning.engine import Logger
from covalent_braket_plugin.provisioning.resources import ResourceResult

_dollars = argument_type(Decimal, "{value!r} is not a dollar amount like 12.50")
_seconds = argument_type(lambda value: int(parse_duration(value).total_seconds()))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``guard`` command group to the ``covalent-braket`` parser."""
    guard = subparsers.add_parser("guard", help="cancel queued quantum tasks past a daily limit")
    commands = guard.add_subparsers(dest="guard_command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--name", default=DEFAULT_NAME, help=f"name of its resources ({DEFAULT_NAME})")
    add_account_flags(common)
    add_json_flag(common, "lines")
    dry_run = argparse.ArgumentParser(add_help=False)
    dry_run.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")

    deploy = commands.add_parser(
        "deploy", parents=[common, dry_run],
        help="create or update the guard; unchanged resources are left alone",
    )
    deploy.add_argument("--max-shots", type=int, help="daily shot limit per device")
    deploy.add_argument("--max-cost-usd", type=_dollars, help="daily estimated cost limit per device, in USD")
    deploy.add_argument(
        "--device-limits", metavar="JSON",
        help='limits of single devices, in place of --max-shots/--max-cost-usd for them: '
        '\'{"<device ARN>": {"max_shots": 1000, "max_cost_usd": "12.50"}}\'',
    )
    deploy.add_argument("--account-max-shots", type=int, help="daily shot limit of all devices together")
    deploy.add_argument(
        "--account-max-cost-usd", type=_dollars,
        help="daily estimated cost limit of all devices and hybrid job instance time together, in USD",
    )
    deploy.add_argument(
        "--cancel-scope", choices=(CANCEL_EXCESS, CANCEL_ALL),
        help=f"on a breach cancel the newest queued work until the day is within its limit "
        f"({CANCEL_EXCESS}, the default) or every queued task of the day ({CANCEL_ALL})",
    )
    deploy.add_argument(
        "--price-overrides", type=Path, metavar="FILE",
        help="JSON price file whose entries replace the packaged prices (as COVALENT_BRAKET_PRICES); "
        "kept in the function's settings, which Lambda limits to 4 KB",
    )
    deploy.add_argument(
        "--retry-attempts", type=int, default=MAX_RETRY_ATTEMPTS, metavar="N",
        help=f"times Lambda retries an event that failed (0-{MAX_RETRY_ATTEMPTS}, default "
        f"{MAX_RETRY_ATTEMPTS}); then it goes to the failure queue",
    )
    deploy.add_argument(
        "--max-event-age", type=_seconds, default=MAX_EVENT_AGE_S, metavar="DURATION",
        help="how long Lambda keeps retrying an event (1m to 6h, default 6h); then it goes to the "
        "failure queue",
    )
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

    status = commands.add_parser(
        "status", parents=[common],
        help=f"show each resource of the guard, and the {FAILED_EVENTS_SHOWN} newest events in its failure "
        "queue (they stay there)",
    )
    status.set_defaults(handler=run_status)
    remove = commands.add_parser(
        "remove", parents=[common, dry_run], help="delete every resource deploy made"
    )
    remove.set_defaults(handler=run_remove)


def _run(args: argparse.Namespace, work: Callable[[GuardDeployment, Logger], list[ResourceResult]]) -> int:
    """Run ``work`` against the account; print each resource as it is done, or JSON at the end."""

    def run() -> int:
        log: Logger = (lambda result: None) if args.json else print
        results = work(GuardDeployment(aws_session(args.profile, args.region)), log)
        if args.json:
            print_json([asdict(result) for result in results])
        elif getattr(args, "dry_run", False):
            print("dry run: nothing was changed")
        return 0

    return guarded("error", run)


def _price_overrides(path: Path | None) -> str | None:
    """The override file's document as compact JSON text, for the function's settings."""
    if path is None:
        return None
    try:
        return json.dumps(json.loads(path.read_text()), separators=(",", ":"))
    except (OSError, ValueError) as error:
        raise UsageError(f"--price-overrides {path}: {error}; give a JSON price file") from None


def _settings(args: argparse.Namespace) -> GuardSettings:
    devices = tuple(arn.strip() for value in args.devices for arn in value.split(",") if arn.strip())
    native = args.native_limit
    if native is True:
        if args.max_cost_usd is None:
            raise UsageError("--native-limit without an amount needs --max-cost-usd")
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
        device_limits=args.device_limits,
        account_max_shots=args.account_max_shots,
        account_max_cost_usd=args.account_max_cost_usd,
        cancel_scope=args.cancel_scope,
        price_overrides=_price_overrides(args.price_overrides),
        max_retry_attempts=args.retry_attempts,
        max_event_age_s=args.max_event_age,
    )


def run_deploy(args: argparse.Namespace) -> int:
    return _run(
        args, lambda deployment, log: deployment.deploy(_settings(args), log=log, dry_run=args.dry_run)
    )


def run_status(args: argparse.Namespace) -> int:
    def status(deployment: GuardDeployment, log: Logger) -> list[ResourceResult]:
        results = deployment.status(args.name)
        for result in results:
            log(result)
        return results

    return _run(args, status)


def run_remove(args: argparse.Namespace) -> int:
    return _run(args, lambda deployment, log: deployment.remove(args.name, log=log, dry_run=args.dry_run))
