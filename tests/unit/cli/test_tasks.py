"""``covalent-braket tasks``: arguments, output formats and exit statuses, on a stubbed client."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import boto3
import pytest
from botocore.stub import Stubber

from covalent_braket_plugin.billing.prices import PRICES_ENV
from covalent_braket_plugin.cli import tasks as cli
from covalent_braket_plugin.quantum_tasks import day_bounds, task_filters
from covalent_braket_plugin.tasks import AmazonBraketlib

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
TASK = "arn:aws:braket:us-east-1:123456789012:quantum-task/{}"
Capsys = pytest.CaptureFixture[str]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="covalent-braket")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def task(name: str, status: str, shots: int) -> dict:
    return {
        "quantumTaskArn": TASK.format(name),
        "status": status,
        "deviceArn": FORTE,
        "shots": shots,
        "outputS3Bucket": "amazon-braket-x",
        "outputS3Directory": f"tasks/{name}",
        "createdAt": datetime(2026, 11, 21, 9, tzinfo=UTC),
    }


@pytest.fixture
def stubber(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Every library the commands build shares one stubbed us-east-1 client."""
    monkeypatch.delenv(PRICES_ENV, raising=False)
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    lib = AmazonBraketlib(boto_session=session)
    built: list[dict] = []

    def library(**kwargs: object) -> AmazonBraketlib:
        built.append(kwargs)
        return lib

    monkeypatch.setattr(cli, "AmazonBraketlib", library)
    with Stubber(lib.braket) as stub:
        yield stub
        stub.assert_no_pending_responses()
    assert all(kwargs["region"] is None for kwargs in built)


def expect_search(stubber: Stubber, tasks: list[dict], statuses: list[str] | None) -> None:
    window = day_bounds(date(2026, 11, 21))
    filters = task_filters(device_arn=FORTE, statuses=statuses, created_between=window)
    expected = {"filters": filters, "maxResults": 100}
    stubber.add_response("search_quantum_tasks", {"quantumTasks": tasks}, expected)


def test_summary_prints_json(stubber: Stubber, capsys: Capsys) -> None:
    expect_search(stubber, [task("a", "COMPLETED", 100), task("b", "QUEUED", 10)], ["QUEUED", "COMPLETED"])
    args = parse(
        "tasks", "summary", "--date", "2026-11-21", "--device", "forte-1", "--status", "QUEUED", "COMPLETED",
        "--json",
    )
    assert args.handler(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total"] == {
        "tasks": 2, "shots": 110, "cost": "9.40", "priced_cost": "9.40", "unpriced_devices": []
    }


def test_summary_prints_a_table(stubber: Stubber, capsys: Capsys) -> None:
    expect_search(stubber, [task("a", "COMPLETED", 100)], None)
    args = parse("tasks", "summary", "--date", "2026-11-21", "--device", FORTE)
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[3].split() == [FORTE, "COMPLETED", "1", "100", "8.30"]


def test_cancel_dry_run_lists_without_cancelling(stubber: Stubber, capsys: Capsys) -> None:
    expect_search(stubber, [task("a", "QUEUED", 10)], ["CREATED", "QUEUED"])
    args = parse("tasks", "cancel", "--date", "2026-11-21", "--device", "Forte-1", "--dry-run")
    assert args.handler(args) == 0
    assert capsys.readouterr().out.splitlines() == [
        "would cancel 1 task(s) (dry run, nothing sent)", f"  {TASK.format('a')}"
    ]


def test_cancel_reports_and_fails_on_a_refused_task(stubber: Stubber, capsys: Capsys) -> None:
    expect_search(stubber, [task("a", "QUEUED", 10), task("b", "CREATED", 10)], ["CREATED", "QUEUED"])
    stubber.add_response(
        "cancel_quantum_task", {"quantumTaskArn": TASK.format("a"), "cancellationStatus": "CANCELLING"}
    )
    stubber.add_client_error("cancel_quantum_task", "AccessDeniedException", "not yours", 403)
    args = parse("tasks", "cancel", "--date", "2026-11-21", "--device", "Forte-1", "--json")
    assert args.handler(args) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["cancelled"] == {TASK.format("a"): "CANCELLING"}
    assert report["failed"] == {TASK.format("b"): "AccessDeniedException: not yours"}


def test_an_unknown_device_is_a_usage_error(stubber: Stubber, capsys: Capsys) -> None:
    args = parse("tasks", "summary", "--date", "2026-11-21", "--device", "Nonesuch-7")
    assert args.handler(args) == 2
    assert "Nonesuch-7" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ("tasks", "summary", "--date", "21/11/2026"),
        ("tasks", "summary", "--tz", "Mars/Olympus"),
        ("tasks", "summary", "--status", "PENDING"),
        ("tasks", "cancel", "--date", "2026-11-21"),  # --device is required
    ],
)
def test_bad_arguments_are_refused_by_the_parser(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
