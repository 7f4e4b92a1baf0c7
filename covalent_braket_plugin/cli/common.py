"""What every ``covalent-braket`` command shares: the session from its flags, the exit statuses, JSON.

Exit statuses, the same for every command (docs/troubleshooting.md): 0 done, 2 the input was
refused (a flag, covalent.conf, a name that matches nothing) before any AWS call, 1 AWS refused a
request (or another service the command needs, such as the local stack, failed or is not there).
Each message is one line (two with a fix) on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.covalent_conf import configured_settings
from covalent_braket_plugin.errors import ExecutorConfigError
from covalent_braket_plugin.provisioning.engine import ProvisioningError
from covalent_braket_plugin.settings import BraketExecutorSettings, given

REFUSED_INPUT = 2
AWS_REFUSED = 1

_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class UsageError(ValueError):
    """A flag or the environment is wrong; the message names it and the fix."""


class ServiceError(RuntimeError):
    """A service the command needs, other than AWS (the local stack), failed or is not running."""


def exit_status(error: Exception) -> int:
    """The exit status of a command that failed with ``error``."""
    if isinstance(error, ProvisioningError):
        return REFUSED_INPUT if error.refused_input else AWS_REFUSED
    if isinstance(error, (ClientError, BotoCoreError, ServiceError)):
        return AWS_REFUSED
    return REFUSED_INPUT


def fail(prefix: str, error: Exception) -> int:
    """Print ``error`` as ``prefix: message`` on stderr and return its exit status."""
    if isinstance(error, ProvisioningError):
        message = f"{error.step}: {error.problem}\n  fix: {error.fix}"
    elif isinstance(error, (ClientError, BotoCoreError)):
        message = f"AWS refused: {error}"
    else:
        message = str(error)
    print(f"{prefix}: {message}", file=sys.stderr)
    return exit_status(error)


def guarded(prefix: str, work: Callable[[], int]) -> int:
    """Run a command's ``work``; what it refuses or AWS refuses becomes a message and an exit status."""
    try:
        return work()
    except (
        ProvisioningError, ClientError, BotoCoreError, ServiceError, ValueError, LookupError, OSError
    ) as error:
        return fail(prefix, error)


def print_json(document: Any) -> None:
    """``document`` as indented JSON; values JSON has no type for (times, decimals) as their text."""
    print(json.dumps(document, indent=2, default=str))


def add_json_flag(parser: argparse.ArgumentParser, instead_of: str = "a table") -> None:
    parser.add_argument("--json", action="store_true", help=f"print JSON instead of {instead_of}")


def add_executor_account_flags(parser: argparse.ArgumentParser) -> None:
    """``--region`` and ``--profile`` of commands whose defaults come from covalent.conf
    (:func:`executor_session`)."""
    add_account_flags(
        parser,
        "AWS region (default: covalent.conf's, else the profile's)",
        "AWS profile name (default: covalent.conf's, else boto3's)",
    )


def add_account_flags(
    parser: argparse.ArgumentParser,
    region_help: str = "AWS region (default: the profile's or the environment's)",
    profile_help: str = "AWS profile name",
) -> None:
    """``--region`` and ``--profile``, which :func:`aws_session` turns into a session."""
    parser.add_argument("--region", help=region_help)
    parser.add_argument("--profile", help=profile_help)


def aws_session(profile: str | None, region: str | None) -> AwsSession:
    """The session of the ``--profile`` and ``--region`` flags (boto3's defaults where not given,
    :func:`given`: boto3 would take an empty region as one, over the profile's and AWS_DEFAULT_REGION).

    Raises:
        UsageError: the profile is in neither the AWS config nor the credentials file.
    """
    try:
        return AwsSession(**given({"profile": profile, "region": region}))
    except ExecutorConfigError:
        raise UsageError(
            f"--profile {profile!r}: no such profile in the AWS config or credentials file; name another"
        ) from None


def load_settings(
    region: str | None = None, profile: str | None = None, conf_path: Path | None = None
) -> BraketExecutorSettings:
    """The executor's settings from covalent.conf's ``[executors.braket]``, with ``region`` and
    ``profile`` (the command's flags) in place of the file's when given, so a command acts on the
    account the executor uses.

    Raises:
        ExecutorConfigError: a setting of the file (or a flag) is invalid; the message names it.
        ValueError: covalent.conf is not TOML.
    """
    flags = given({"region": region, "profile": profile})
    return BraketExecutorSettings.from_options(**{**configured_settings(conf_path), **flags})


def executor_session(args: argparse.Namespace) -> tuple[BraketExecutorSettings, AwsSession]:
    """The executor's settings (covalent.conf, then the flags) and its session, in the jobs' region."""
    settings = load_settings(region=args.region, profile=args.profile)
    return settings, settings.aws_session()


def parse_duration(text: str, flag: str = "duration") -> timedelta:
    """``30d``, ``12h``, ``1d12h``, ``90m``, ``2w``, ``45s`` as a timedelta.

    Raises:
        ValueError: naming ``flag`` and the accepted form.
    """
    value = text.strip().lower()
    parts = _DURATION_PART.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        raise ValueError(
            f"{flag}: {text!r} is not a duration; write a number and a unit (w, d, h, m, s), "
            "e.g. 30d, 12h or 1d12h"
        )
    return sum((timedelta(**{_DURATION_UNITS[unit]: int(number)}) for number, unit in parts), timedelta())


def parse_since(text: str, now: datetime, flag: str = "--since") -> datetime:
    """A point in time: a duration before ``now`` (``7d``) or an ISO date or date-time (UTC if no zone).

    Raises:
        ValueError: naming ``flag`` and the accepted forms.
    """
    try:
        return now - parse_duration(text, flag)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{flag}: {text!r} is neither a duration (7d, 12h) nor a date or date-time "
            "(2026-11-01, 2026-11-01T08:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def argument_type(parse: Callable[[str], Any], problem: str | None = None) -> Callable[[str], Any]:
    """An argparse type from a parser, so a bad value is a usage error (status 2) naming its flag.

    The message is ``problem`` (``{value!r}`` stands for the value given), else the parser's own
    without the name it gives the value (argparse names the flag).
    """

    def convert(value: str) -> Any:
        try:
            return parse(value)
        except (ValueError, ArithmeticError, LookupError) as error:
            message = problem.format(value=value) if problem else str(error).split(": ", 1)[-1]
            raise argparse.ArgumentTypeError(message) from error

    return convert
