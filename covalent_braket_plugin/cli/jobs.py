"""``covalent-braket jobs`` and ``covalent-braket images``: the executor's jobs and job images.

Both groups find the account as the executor does (covalent.conf's ``[executors.braket]``, with
``--region`` and ``--profile`` first). Bad input fails with exit status 2 before any AWS call; an
AWS error with status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from covalent_braket_plugin.aws import make_session
from covalent_braket_plugin.cli.common import load_settings, parse_duration, parse_since
from covalent_braket_plugin.executor import job_spec as jobs
from covalent_braket_plugin.executor.settings import BraketExecutorSettings
from covalent_braket_plugin.inventory import images as job_images
from covalent_braket_plugin.inventory import jobs as plugin_jobs


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a parser raising ValueError, so a bad value is a usage error (status 2)."""

    def convert(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error).split(": ", 1)[-1]) from error

    return convert


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``jobs`` and ``images`` command groups to the ``covalent-braket`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="AWS region (default: covalent.conf's, else the profile's)")
    common.add_argument("--profile", help="AWS profile name (default: covalent.conf's, else boto3's)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of a table")

    group = subparsers.add_parser("jobs", help="list, read and cancel the Braket jobs of the executor")
    commands = group.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    listing = commands.add_parser(
        "list", parents=[common, as_json], help="the jobs the executor created, newest first"
    )
    listing.add_argument(
        "--status",
        nargs="+",
        type=str.upper,
        choices=plugin_jobs.JOB_STATUSES,
        metavar="STATUS",
        help=f"only jobs in these statuses ({', '.join(plugin_jobs.JOB_STATUSES)})",
    )
    listing.add_argument("--dispatch-id", help="only the jobs of this Covalent dispatch")
    listing.add_argument(
        "--since",
        type=_argument_type(lambda value: parse_since(value, datetime.now(UTC))),
        help="only jobs created since then: a duration back from now (7d, 12h) or a date (2026-11-01)",
    )
    listing.set_defaults(handler=run_jobs_list)

    logs = commands.add_parser("logs", parents=[common], help="the CloudWatch log of one job")
    logs.add_argument("job", metavar="JOB", help="the job's name (as `jobs list` shows it) or ARN")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new lines until the job ends"
    )
    logs.set_defaults(handler=run_jobs_logs)

    cancel = commands.add_parser("cancel", parents=[common, as_json], help="cancel one job")
    cancel.add_argument("job", metavar="JOB", help="the job's name (as `jobs list` shows it) or ARN")
    cancel.set_defaults(handler=run_jobs_cancel)

    group = subparsers.add_parser("images", help="list and prune the job images in ECR")
    commands = group.add_subparsers(dest="images_command", metavar="COMMAND", required=True)
    listing = commands.add_parser(
        "list", parents=[common, as_json], help="the job images of the repository, newest first"
    )
    listing.set_defaults(handler=run_images_list)
    prune = commands.add_parser(
        "prune",
        parents=[common, as_json],
        help="delete job images pushed before a time, except the one this environment uses",
    )
    prune.add_argument(
        "--older-than",
        required=True,
        metavar="DURATION",
        type=_argument_type(lambda value: parse_duration(value, "--older-than")),
        help="delete images pushed longer ago than this: 30d, 12h, 1d12h, 2w",
    )
    prune.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    prune.set_defaults(handler=run_images_prune)


def _settings(args: argparse.Namespace) -> BraketExecutorSettings:
    return load_settings(region=args.region, profile=args.profile)


def _braket(settings: BraketExecutorSettings, arn: str | None = None) -> tuple[Any, Any]:
    """Braket and CloudWatch Logs clients in the settings' region, or in the region an ARN names."""
    session = make_session(settings)
    region = (jobs.region_of(arn) if arn else None) or session.region_name
    return (
        session.client("braket", region_name=region, config=jobs.CLIENT_CONFIG),
        session.client("logs", region_name=region, config=jobs.CLIENT_CONFIG),
    )


def _guarded(command: str, work: Callable[[], int]) -> int:
    """Run ``work``; bad input or a missing job is one line and status 2, an AWS refusal status 1."""
    try:
        return work()
    except (ValueError, LookupError, OSError) as error:
        print(f"covalent-braket {command}: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"covalent-braket {command}: AWS refused: {error}", file=sys.stderr)
        return 1


def run_jobs_list(args: argparse.Namespace) -> int:
    def work() -> int:
        job_filter = plugin_jobs.JobFilter(tuple(args.status or ()), args.dispatch_id, args.since)
        braket, _ = _braket(_settings(args))
        found = plugin_jobs.list_jobs(braket, job_filter)
        print(
            json.dumps([job.to_json() for job in found], indent=2)
            if args.json
            else plugin_jobs.jobs_table(found)
        )
        return 0

    return _guarded("jobs list", work)


def run_jobs_logs(args: argparse.Namespace) -> int:
    def work() -> int:
        settings = _settings(args)
        braket, logs = _braket(settings, args.job if args.job.startswith("arn:") else None)
        job = plugin_jobs.resolve_job(braket, args.job)
        try:
            plugin_jobs.follow_logs(
                braket,
                logs,
                settings.log_group_name,
                job,
                lambda line: print(line, flush=True),
                follow=args.follow,
            )
        except KeyboardInterrupt:  # the way to stop --follow early: not an error, no traceback
            return 130
        return 0

    return _guarded("jobs logs", work)


def run_jobs_cancel(args: argparse.Namespace) -> int:
    def work() -> int:
        braket, _ = _braket(_settings(args), args.job if args.job.startswith("arn:") else None)
        outcome = plugin_jobs.cancel(braket, plugin_jobs.resolve_job(braket, args.job))
        if args.json:
            print(
                json.dumps(
                    {
                        "name": outcome.name,
                        "arn": outcome.arn,
                        "status": outcome.status,
                        "cancelled": outcome.cancelled,
                    },
                    indent=2,
                )
            )
        else:
            print(outcome.message())
        return 0

    return _guarded("jobs cancel", work)


def _repository(args: argparse.Namespace) -> tuple[Any, str, frozenset[str]]:
    """The ECR client, the settings' repository and the tags (or digests) of the images in use."""
    settings = _settings(args)
    session = make_session(settings)
    in_use = job_images.images_in_use(settings, session.region_name)
    return session.client("ecr", config=jobs.CLIENT_CONFIG), settings.ecr_repo_name, in_use


def run_images_list(args: argparse.Namespace) -> int:
    def work() -> int:
        ecr, repository, in_use = _repository(args)
        found = job_images.list_images(ecr, repository, in_use)
        if args.json:
            print(json.dumps([image.to_json() for image in found], indent=2))
        else:
            print(job_images.images_table(found, repository))
        return 0

    return _guarded("images list", work)


def run_images_prune(args: argparse.Namespace) -> int:
    def work() -> int:
        cutoff = datetime.now(UTC) - args.older_than
        ecr, repository, in_use = _repository(args)
        found = job_images.list_images(ecr, repository, in_use)
        report = job_images.prune(ecr, repository, found, cutoff, dry_run=args.dry_run)
        print(json.dumps(report.to_json(), indent=2) if args.json else report.describe(cutoff))
        return 0 if report.ok else 1

    return _guarded("images prune", work)
