"""``covalent-braket setup``: create what a first Braket job needs, and name it in covalent.conf.

The flags naming the account's resources are shared with ``iam-policy`` (:func:`add_resource_flags`,
:func:`setup_options`), so the policies it prints are those of the resources setup makes.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from covalent_braket_plugin import covalent_conf
from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.cli.common import (
    UsageError,
    add_account_flags,
    add_json_flag,
    aws_session,
    guarded,
    print_json,
)
from covalent_braket_plugin.provisioning import policies
from covalent_braket_plugin.provisioning.engine import ProvisioningError
from covalent_braket_plugin.provisioning.resources import ResourceResult
from covalent_braket_plugin.provisioning.setup import (
    DEFAULT_BUCKET,
    DEFAULT_EXPIRE_DAYS,
    DEFAULT_KEEP_TAGGED,
    DEFAULT_REPOSITORY,
    DEFAULT_UNTAGGED_DAYS,
    AccountSetup,
    SetupOptions,
)


def add_resource_flags(parser: argparse.ArgumentParser) -> None:
    """The account, region and resources of ``setup`` and ``iam-policy``."""
    add_account_flags(
        parser, region_help="AWS region of the jobs (default: covalent.conf's, else the profile's)"
    )
    parser.add_argument(
        "--bucket", help=f"S3 bucket, amazon-braket-* (default: covalent.conf's, else {DEFAULT_BUCKET})"
    )
    parser.add_argument(
        "--repository",
        help=f"ECR repository, amazon-braket* (default: covalent.conf's, else {DEFAULT_REPOSITORY})",
    )
    parser.add_argument(
        "--role-name", default=policies.JOB_ROLE_DEFAULT_NAME,
        help=f"job execution role, created under {policies.JOB_ROLE_PATH} "
        f"(default: {policies.JOB_ROLE_DEFAULT_NAME})",
    )
    parser.add_argument(
        "--conf", type=Path, metavar="PATH",
        help="covalent.conf to read defaults from and write (default: where Covalent reads it, "
        "$COVALENT_CONFIG_DIR/covalent.conf or ~/.config/covalent/covalent.conf)",
    )
    parser.add_argument("--no-conf", action="store_true", help="neither read nor write covalent.conf")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``setup`` command to the ``covalent-braket`` parser."""
    setup = subparsers.add_parser(
        "setup",
        help="create the S3 bucket, ECR repository and job role Braket jobs need; configure covalent.conf",
        description="Create (or bring up to date) what running electrons on Amazon Braket Hybrid Jobs needs. "
        "Each step reports created, updated or unchanged; running it again changes nothing.",
    )
    add_resource_flags(setup)
    setup.add_argument(
        "--keep-images", type=int, default=DEFAULT_KEEP_TAGGED, metavar="N",
        help=f"lifecycle policy: keep the newest N tagged job images (default: {DEFAULT_KEEP_TAGGED})",
    )
    setup.add_argument(
        "--untagged-days", type=int, default=DEFAULT_UNTAGGED_DAYS, metavar="DAYS",
        help=f"lifecycle policy: expire untagged images after DAYS days (default: {DEFAULT_UNTAGGED_DAYS})",
    )
    setup.add_argument(
        "--expire-days", type=int, default=DEFAULT_EXPIRE_DAYS, metavar="DAYS",
        help="S3 lifecycle rule: expire objects under covalent-braket/ (what a crashed client leaves) "
        f"DAYS days after they were written (default: {DEFAULT_EXPIRE_DAYS})",
    )
    setup.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    add_json_flag(setup, "lines")
    setup.set_defaults(handler=run_setup)


def setup_options(args: argparse.Namespace) -> tuple[AwsSession, SetupOptions]:
    """The session and options of ``args``; region, bucket and repository default to covalent.conf's.

    Taking them from covalent.conf keeps setup (and the policies printed) on the resources the
    executor already uses.

    Raises:
        UsageError: covalent.conf is unreadable, the profile unknown or no region given anywhere.
        ProvisioningError: (step ``options``) a flag the executor would refuse.
    """
    section: dict[str, Any] = {}
    if not args.no_conf:
        try:
            section = covalent_conf.configured_settings(args.conf)
        except ValueError as error:
            raise UsageError(f"{error} (or pass --conf PATH / --no-conf)") from None
    aws = aws_session(args.profile, args.region or section.get("region"))
    if not aws.region:
        raise UsageError(
            "no AWS region: pass --region (or set region in covalent.conf, the profile or AWS_DEFAULT_REGION)"
        )
    options = SetupOptions(
        region=aws.region,
        bucket=args.bucket or section.get("s3_bucket_name") or DEFAULT_BUCKET,
        repository=args.repository or section.get("ecr_repo_name") or DEFAULT_REPOSITORY,
        role_name=args.role_name,
        conf_path=args.conf,
        write_conf=not args.no_conf,
        keep_tagged_images=getattr(args, "keep_images", DEFAULT_KEEP_TAGGED),
        untagged_image_days=getattr(args, "untagged_days", DEFAULT_UNTAGGED_DAYS),
        expire_days=getattr(args, "expire_days", DEFAULT_EXPIRE_DAYS),
    )
    options.validate()
    return aws, options


def run_setup(args: argparse.Namespace) -> int:
    def work() -> int:
        results: list[ResourceResult] = []
        error: ProvisioningError | None = None
        try:
            aws, options = setup_options(args)
            log = (lambda result: None) if args.json else print
            results = AccountSetup(aws, options).run(dry_run=args.dry_run, log=log)
        except ProvisioningError as failed:
            error, results = failed, failed.results
        if args.json:
            print_json({
                "dry_run": args.dry_run,
                "results": [asdict(result) for result in results],
                "error": None if error is None else {
                    "step": error.step, "problem": error.problem, "fix": error.fix,
                },
            })
        if error is not None:
            raise error
        if args.dry_run and not args.json:
            print("dry run: nothing was changed")
        return 0

    return guarded("error", work)
