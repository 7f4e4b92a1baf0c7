"""``covalent-braket iam-policy``: print the least-privilege IAM policies for an administrator to apply."""

from __future__ import annotations

import argparse
import re

from botocore.exceptions import BotoCoreError, ClientError

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.cli.common import UsageError, guarded, print_json
from covalent_braket_plugin.cli.setup import add_resource_flags, setup_options
from covalent_braket_plugin.provisioning import policies

WHICH = ("user", "job-role", "trust")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``iam-policy`` command to the ``covalent-braket`` parser."""
    iam_policy = subparsers.add_parser(
        "iam-policy",
        help="print the IAM policies of the job role and of a user of the executor, as JSON",
        description="Print the least-privilege IAM policies for an administrator to apply: the job role's "
        "trust and permission policies and a user's policy, scoped to one bucket, repository and role.",
    )
    add_resource_flags(iam_policy)
    iam_policy.add_argument(
        "--account", help="12-digit AWS account id (default: the caller's, from STS; give it to work offline)"
    )
    iam_policy.add_argument(
        "--which", choices=WHICH, help="print only this policy (default: all three in one JSON object)"
    )
    iam_policy.set_defaults(handler=run_iam_policy)


def run_iam_policy(args: argparse.Namespace) -> int:
    def work() -> int:
        if args.account is not None and not re.fullmatch(r"\d{12}", args.account):
            raise UsageError(f"--account {args.account!r}: give the 12-digit AWS account id")
        aws, options = setup_options(args)
        account = args.account or _caller_account(aws)
        scope = {"bucket": options.bucket, "repository": options.repository, "region": options.region,
                 "account": account}
        role_arn = policies.job_role_arn(account=account, region=options.region, name=options.role_name)
        documents = {
            "trust": policies.job_role_trust_policy(account=account),
            "job-role": policies.job_role_policy(**scope),
            "user": policies.user_policy(**scope, role_arn=role_arn),
        }
        print_json(documents[args.which] if args.which else documents)
        return 0

    return guarded("error", work)


def _caller_account(aws: AwsSession) -> str:
    """The caller's account from STS; without an answer the fix is to give it (``--account``)."""
    try:
        return aws.account_id
    except (ClientError, BotoCoreError) as error:
        raise UsageError(
            f"cannot ask STS for the account id ({error}); pass --account to work offline"
        ) from None
