"""``covalent-braket doctor``: check, without changing anything, that BraketExecutor can run here."""

from __future__ import annotations

import argparse
from pathlib import Path

from covalent_braket_plugin.cli.common import UsageError, add_json_flag, guarded
from covalent_braket_plugin.doctor.checks import Context, run_checks
from covalent_braket_plugin.doctor.report import failed, to_json, to_table
from covalent_braket_plugin.settings import BraketExecutorSettings, ExecutorConfigError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``doctor`` command to the ``covalent-braket`` parser."""
    doctor = subparsers.add_parser(
        "doctor",
        help="check that this machine and AWS account are ready for BraketExecutor",
        description="Check covalent.conf, credentials, region, the S3 bucket, the ECR repository, the job "
        "role, the Docker engine and the job image's Python and covalent, without changing anything. "
        "Exits 1 when a check fails, 2 on bad arguments.",
    )
    doctor.add_argument("--region", help="check as if the jobs ran in this region (default: as the executor "
                        "resolves it)")
    doctor.add_argument("--profile", help="AWS profile to check with (default: the settings' profile)")
    doctor.add_argument("--conf", type=Path, metavar="PATH", help=(
                        "covalent.conf to read (default: the one Covalent reads; see COVALENT_CONFIG_DIR)"))
    add_json_flag(doctor)
    doctor.set_defaults(handler=run_doctor)


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse wrong flags themselves, before any check runs (and any AWS call).

    Raises:
        UsageError: naming the flag and the fix.
    """
    if args.conf is not None and not args.conf.is_file():
        raise UsageError(f"--conf: no file at {args.conf}; give the path of a covalent.conf, or leave --conf "
                         "out to read the one Covalent reads")
    if args.region:
        try:
            BraketExecutorSettings.from_options(region=args.region)
        except ExecutorConfigError as error:
            # "Invalid BraketExecutor settings:\n  - region: <why>" -> "--region: <why>"
            raise UsageError("--" + str(error).splitlines()[-1].strip().removeprefix("- ")) from None


def run_doctor(args: argparse.Namespace) -> int:
    def work() -> int:
        _check_flags(args)
        context = Context(conf_path=args.conf, region_override=args.region, profile_override=args.profile)
        results = run_checks(context)
        print(to_json(results, context.path) if args.json else to_table(results, context.path))
        return 1 if failed(results) else 0

    return guarded("error", work)
