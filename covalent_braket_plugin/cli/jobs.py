"""``covalent-braket jobs``: list, read and cancel the Braket jobs the executor created, fetch a result,
print the metrics a job logged and its quantum tasks.

The account is found as the executor finds it (covalent.conf's ``[executors.braket]``, with
``--region`` and ``--profile`` first); a job given by ARN is looked up in the region it names.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from covalent_braket_plugin.aws import region_of_arn
from covalent_braket_plugin.cli.common import (
    AWS_REFUSED,
    add_executor_account_flags,
    add_json_flag,
    argument_type,
    executor_session,
    guarded,
    parse_since,
    print_json,
)
from covalent_braket_plugin.executor import job_tasks
from covalent_braket_plugin.inventory import jobs
from covalent_braket_plugin.inventory.formatting import table
from covalent_braket_plugin.settings import BraketExecutorSettings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``jobs`` command group to the ``covalent-braket`` parser."""
    account = argparse.ArgumentParser(add_help=False)
    add_executor_account_flags(account)
    as_json = argparse.ArgumentParser(add_help=False)
    add_json_flag(as_json)

    group = subparsers.add_parser("jobs", help="list, read and cancel the Braket jobs of the executor")
    commands = group.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    listing = commands.add_parser(
        "list", parents=[account, as_json], help="the jobs the executor created, newest first"
    )
    listing.add_argument(
        "--status",
        nargs="+",
        type=str.upper,
        choices=jobs.JOB_STATUSES,
        metavar="STATUS",
        help=f"only jobs in these statuses ({', '.join(jobs.JOB_STATUSES)})",
    )
    listing.add_argument("--dispatch-id", help="only the jobs of this Covalent dispatch")
    listing.add_argument(
        "--since",
        type=argument_type(lambda value: parse_since(value, datetime.now(UTC))),
        help="only jobs created since then: a duration back from now (7d, 12h) or a date (2026-11-01)",
    )
    listing.set_defaults(handler=run_list)

    logs = commands.add_parser("logs", parents=[account], help="the CloudWatch log of one job")
    logs.add_argument("job", metavar="JOB", help="the job's name (as `jobs list` shows it) or ARN")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new lines until the job ends"
    )
    logs.set_defaults(handler=run_logs)

    cancel = commands.add_parser(
        "cancel", parents=[account, as_json], help="cancel one job and its quantum tasks still waiting"
    )
    cancel.add_argument("job", metavar="JOB", help="the job's name (as `jobs list` shows it) or ARN")
    cancel.set_defaults(handler=run_cancel)

    result = commands.add_parser(
        "result", parents=[account], help="download a job's pickled result (one the executor kept) to a file"
    )
    result.add_argument("job", metavar="JOB", help="the job's name (as `jobs list` shows it) or ARN")
    result.add_argument("--output", "-o", required=True, type=Path, metavar="FILE", help="where to write it")
    result.set_defaults(handler=run_result)

    metrics = commands.add_parser(
        "metrics", parents=[account, as_json],
        help="the metrics a job logged with log_metric: one row per logged line, then a summary per metric",
    )
    metrics.add_argument("job", metavar="JOB", help="the job's name (as `jobs list` shows it) or ARN")
    metrics.set_defaults(handler=run_metrics)

    tasks = commands.add_parser(
        "tasks", parents=[account, as_json], help="a job's quantum tasks per device: count, shots, statuses"
    )
    tasks.add_argument("job", metavar="JOB", help="the job's name (as `jobs list` shows it) or ARN")
    tasks.set_defaults(handler=run_tasks)


def _clients(args: argparse.Namespace) -> tuple[BraketExecutorSettings, Any, Any]:
    """The settings, and Braket and CloudWatch Logs clients in the region of the job's ARN, if given one,
    else in the executor's."""
    settings, aws = executor_session(args)
    job = getattr(args, "job", "")
    region = region_of_arn(job) if job.startswith("arn:") else None
    return settings, aws.client("braket", region), aws.client("logs", region)


def run_list(args: argparse.Namespace) -> int:
    def work() -> int:
        job_filter = jobs.JobFilter(tuple(args.status or ()), args.dispatch_id, args.since)
        _, braket, _ = _clients(args)
        found = jobs.list_jobs(braket, job_filter)
        if args.json:
            print_json([job.to_json() for job in found])
        else:
            print(jobs.jobs_table(found))
        return 0

    return guarded("covalent-braket jobs list", work)


def run_logs(args: argparse.Namespace) -> int:
    def work() -> int:
        settings, braket, logs = _clients(args)
        job = jobs.resolve_job(braket, args.job)
        try:
            jobs.follow_logs(
                braket, logs, settings.log_group_name, job, lambda line: print(line, flush=True),
                follow=args.follow,
            )
        except KeyboardInterrupt:  # the way to stop --follow early: not an error, no traceback
            return 130
        return 0

    return guarded("covalent-braket jobs logs", work)


def run_cancel(args: argparse.Namespace) -> int:
    def work() -> int:
        _, braket, _ = _clients(args)
        outcome = jobs.cancel(braket, jobs.resolve_job(braket, args.job))
        if args.json:
            print_json(outcome.to_json())
        else:
            print(outcome.message())
        return 0 if outcome.waiting_tasks.ok else AWS_REFUSED

    return guarded("covalent-braket jobs cancel", work)


def run_result(args: argparse.Namespace) -> int:
    def work() -> int:
        _, braket, _ = _clients(args)
        _, aws = executor_session(args)
        uri = jobs.fetch_result(aws.client("s3"), jobs.resolve_job(braket, args.job), args.output)
        print(f"wrote {args.output} ({args.output.stat().st_size} bytes) from {uri}")
        return 0

    return guarded("covalent-braket jobs result", work)


def run_metrics(args: argparse.Namespace) -> int:
    def work() -> int:
        # Imported here: the module loads the Braket SDK, which the other commands do without.
        from covalent_braket_plugin.executor import metrics

        settings, braket, logs = _clients(args)
        job = jobs.resolve_job(braket, args.job)
        read = metrics.read_metrics(logs, settings.log_group_name, job["jobName"])
        summaries = metrics.summarize(read)
        if args.json:
            print_json({"job": job["jobArn"], "metrics": read,
                        "summary": [summary.to_json() for summary in summaries]})
        elif not summaries:
            print(f"{job['jobName']} logged no metrics (braket.jobs.metrics.log_metric)")
        else:
            names = [*metrics.COLUMNS, *(summary.name for summary in summaries)]
            rows = [["" if read[name][i] is None else f"{read[name][i]:g}" for name in names]
                    for i in range(len(read["timestamp"]))]
            print(table([name.upper() for name in names], rows))
            print()
            print("\n".join(summary.line() for summary in summaries))
        return 0

    return guarded("covalent-braket jobs metrics", work)


def run_tasks(args: argparse.Namespace) -> int:
    def work() -> int:
        _, braket, _ = _clients(args)
        job = jobs.resolve_job(braket, args.job)
        devices = job_tasks.job_tasks(braket, job["jobArn"])
        if args.json:
            print_json({"job": job["jobArn"], "devices": [device.to_json() for device in devices]})
        elif not devices:
            print(f"{job['jobName']} created no quantum tasks")
        else:
            rows = [[device.device_arn, str(device.tasks), str(device.shots), device.status_text()]
                    for device in devices]
            print(table(["DEVICE", "TASKS", "SHOTS", "STATUSES"], rows))
        return 0

    return guarded("covalent-braket jobs tasks", work)
