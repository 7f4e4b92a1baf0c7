"""``covalent-braket images``: list the executor's job images in ECR and prune the old ones.

The repository is the executor's (covalent.conf's ``[executors.braket]``, with ``--region`` and
``--profile`` first); the image this environment uses is marked and never pruned.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from covalent_braket_plugin.cli.common import (
    add_executor_account_flags,
    add_json_flag,
    argument_type,
    executor_session,
    guarded,
    parse_duration,
    print_json,
)
from covalent_braket_plugin.inventory import image_listing


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``images`` command group to the ``covalent-braket`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    add_executor_account_flags(common)
    add_json_flag(common)

    group = subparsers.add_parser("images", help="list and prune the job images in ECR")
    commands = group.add_subparsers(dest="images_command", metavar="COMMAND", required=True)
    listing = commands.add_parser(
        "list", parents=[common], help="the job images of the repository, newest first"
    )
    listing.set_defaults(handler=run_list)
    prune = commands.add_parser(
        "prune",
        parents=[common],
        help="delete job images pushed before a time, except the one this environment uses",
    )
    prune.add_argument(
        "--older-than",
        required=True,
        metavar="DURATION",
        type=argument_type(lambda value: parse_duration(value, "--older-than")),
        help="delete images pushed longer ago than this: 30d, 12h, 1d12h, 2w",
    )
    prune.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    prune.set_defaults(handler=run_prune)


def _repository(args: argparse.Namespace) -> tuple[Any, str, frozenset[str]]:
    """The ECR client, the settings' repository and the tags (or digests) of the images in use."""
    settings, aws = executor_session(args)
    in_use = image_listing.images_in_use(settings, str(aws.region))
    return aws.client("ecr"), settings.ecr_repo_name, in_use


def run_list(args: argparse.Namespace) -> int:
    def work() -> int:
        ecr, repository, in_use = _repository(args)
        found = image_listing.list_images(ecr, repository, in_use)
        if args.json:
            print_json([image.to_json() for image in found])
        else:
            print(image_listing.images_table(found, repository))
        return 0

    return guarded("covalent-braket images list", work)


def run_prune(args: argparse.Namespace) -> int:
    def work() -> int:
        cutoff = datetime.now(UTC) - args.older_than
        ecr, repository, in_use = _repository(args)
        found = image_listing.list_images(ecr, repository, in_use)
        report = image_listing.prune(ecr, repository, found, cutoff, dry_run=args.dry_run)
        if args.json:
            print_json(report.to_json())
        else:
            print(report.describe(cutoff))
        return 0 if report.ok else 1

    return guarded("covalent-braket images prune", work)
