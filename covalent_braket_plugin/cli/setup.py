"""``covalent-braket setup`` and ``covalent-braket iam-policy``: prepare an AWS account for the plugin."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from covalent_braket_plugin.executor import covalent_conf as conf
from covalent_braket_plugin.provisioning import policies
from covalent_braket_plugin.provisioning.setup import (
    DEFAULT_BUCKET,
    DEFAULT_KEEP_TAGGED,
    DEFAULT_REPOSITORY,
    DEFAULT_UNTAGGED_DAYS,
    AccountSetup,
    ResourceResult,
    SetupError,
    SetupOptions,
)

WHICH = ("user", "job-role", "trust")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``setup`` and ``iam-policy`` commands to the ``covalent-braket`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--region", help="AWS region of the jobs (default: covalent.conf's, else the profile's)"
    )
    common.add_argument("--profile", help="AWS profile name")
    common.add_argument(
        "--bucket", help=f"S3 bucket, amazon-braket-* (default: covalent.conf's, else {DEFAULT_BUCKET})"
    )
    common.add_argument(
        "--repository",
        help=f"ECR repository, amazon-braket* (default: covalent.conf's, else {DEFAULT_REPOSITORY})",
    )
    common.add_argument(
        "--role-name", default=policies.JOB_ROLE_DEFAULT_NAME,
        help=f"job execution role, created under {policies.JOB_ROLE_PATH} "
        f"(default: {policies.JOB_ROLE_DEFAULT_NAME})",
    )
    common.add_argument(
        "--conf", type=Path, metavar="PATH",
        help="covalent.conf to read defaults from and write (default: where Covalent reads it, "
        "$COVALENT_CONFIG_DIR/covalent.conf or ~/.config/covalent/covalent.conf)",
    )
    common.add_argument("--no-conf", action="store_true", help="neither read nor write covalent.conf")

    setup = subparsers.add_parser(
        "setup", parents=[common],
        help="create the S3 bucket, ECR repository and job role Braket jobs need; configure covalent.conf",
        description="Create (or bring up to date) what running electrons on Amazon Braket Hybrid Jobs needs. "
        "Each step reports created, updated or unchanged; running it again changes nothing.",
    )
    setup.add_argument(
        "--keep-images", type=int, default=DEFAULT_KEEP_TAGGED, metavar="N",
        help=f"lifecycle policy: keep the newest N tagged job images (default: {DEFAULT_KEEP_TAGGED})",
    )
    setup.add_argument(
        "--untagged-days", type=int, default=DEFAULT_UNTAGGED_DAYS, metavar="DAYS",
        help=f"lifecycle policy: expire untagged images after DAYS days (default: {DEFAULT_UNTAGGED_DAYS})",
    )
    setup.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    setup.add_argument("--json", action="store_true", help="print JSON instead of lines")
    setup.set_defaults(handler=run_setup)

    iam_policy = subparsers.add_parser(
        "iam-policy", parents=[common],
        help="print the IAM policies of the job role and of a user of the executor, as JSON",
        description="Print the least-privilege IAM policies for an administrator to apply: the job role's "
        "trust and permission policies and a user's policy, scoped to one bucket, repository and role.",
    )
    iam_policy.add_argument(
        "--account", help="12-digit AWS account id (default: the caller's, from STS; give it to work offline)"
    )
    iam_policy.add_argument(
        "--which", choices=WHICH, help="print only this policy (default: all three in one JSON object)"
    )
    iam_policy.set_defaults(handler=run_iam_policy)


class _UsageError(Exception):
    """A flag or the environment is wrong; the message names it and the fix."""


def _options(args: argparse.Namespace, session: boto3.session.Session) -> SetupOptions:
    """The options of ``args``, with bucket, repository and region defaulting to covalent.conf's.

    Taking them from covalent.conf keeps setup (and the policies printed) on the resources the
    executor already uses.
    """
    section: dict[str, Any] = {}
    if not args.no_conf:
        try:
            section = conf.read_executor_section(args.conf) or {}
        except ValueError as error:
            raise _UsageError(f"{error} (or pass --conf PATH / --no-conf)") from None
    region = args.region or section.get("region") or session.region_name
    if not region:
        raise _UsageError(
            "no AWS region: pass --region (or set region in covalent.conf, the profile or AWS_DEFAULT_REGION)"
        )
    options = SetupOptions(
        region=region,
        bucket=args.bucket or section.get("s3_bucket_name") or DEFAULT_BUCKET,
        repository=args.repository or section.get("ecr_repo_name") or DEFAULT_REPOSITORY,
        role_name=args.role_name,
        conf_path=args.conf,
        write_conf=not args.no_conf,
        keep_tagged_images=getattr(args, "keep_images", DEFAULT_KEEP_TAGGED),
        untagged_image_days=getattr(args, "untagged_days", DEFAULT_UNTAGGED_DAYS),
    )
    options.validate()
    return options


def _session(args: argparse.Namespace) -> boto3.session.Session:
    try:
        return boto3.session.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound:
        raise _UsageError(
            f"--profile {args.profile!r}: no such profile in the AWS config or credentials file; name another"
        ) from None


def run_setup(args: argparse.Namespace) -> int:
    log = (lambda result: None) if args.json else print
    results: list[ResourceResult] = []
    error: SetupError | None = None
    try:
        session = _session(args)
        options = _options(args, session)
        results = AccountSetup(session, options).run(dry_run=args.dry_run, log=log)
    except _UsageError as usage:
        print(f"error: {usage}", file=sys.stderr)
        return 2
    except SetupError as failed:
        error, results = failed, failed.results
    if args.json:
        report = {
            "dry_run": args.dry_run,
            "results": [asdict(result) for result in results],
            "error": None if error is None else {
                "step": error.step, "problem": error.problem, "fix": error.fix,
            },
        }
        print(json.dumps(report, indent=2))
    if error is not None:
        print(f"error: {error.step}: {error.problem}\n  fix: {error.fix}", file=sys.stderr)
        return 2 if error.step == "options" else 1
    if args.dry_run and not args.json:
        print("dry run: nothing was changed")
    return 0


def run_iam_policy(args: argparse.Namespace) -> int:
    try:
        if args.account is not None and not re.fullmatch(r"\d{12}", args.account):
            raise _UsageError(f"--account {args.account!r}: give the 12-digit AWS account id")
        session = _session(args)
        options = _options(args, session)
        account = args.account or _caller_account(session, options.region)
    except SetupError as error:
        print(f"error: {error.problem}\n  fix: {error.fix}", file=sys.stderr)
        return 2
    except _UsageError as usage:
        print(f"error: {usage}", file=sys.stderr)
        return 2
    scope = {"bucket": options.bucket, "repository": options.repository, "region": options.region,
             "account": account}
    role_arn = policies.job_role_arn(account=account, region=options.region, name=options.role_name)
    documents = {
        "trust": policies.job_role_trust_policy(account=account),
        "job-role": policies.job_role_policy(**scope),
        "user": policies.user_policy(**scope, role_arn=role_arn),
    }
    print(json.dumps(documents[args.which] if args.which else documents, indent=2))
    return 0


def _caller_account(session: boto3.session.Session, region: str) -> str:
    try:
        return session.client("sts", region_name=region).get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as error:
        raise _UsageError(
            f"cannot ask STS for the account id ({error}); pass --account to work offline"
        ) from None
