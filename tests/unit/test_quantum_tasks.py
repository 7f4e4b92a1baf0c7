"""Quantum tasks through Braket's API (``quantum_tasks.py``): the service filters, one read per matching
task, and each cancel's outcome reported, a finished task not being an error."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from covalent_braket_plugin.quantum_tasks import (
    CancelReport,
    cancel_tasks,
    day_bounds,
    iter_tasks,
    rfc3339,
    task_filters,
)

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
JOB = "arn:aws:braket:us-east-1:123456789012:job/j"
ARN = "arn:aws:braket:us-east-1:123456789012:quantum-task/{}"


def summary(number: int, created: datetime, status: str = "QUEUED") -> dict:
    return {
        "quantumTaskArn": f"arn:aws:braket:us-east-1:123456789012:quantum-task/{number:08d}",
        "status": status,
        "deviceArn": FORTE,
        "shots": 100,
        "outputS3Bucket": "amazon-braket-results",
        "outputS3Directory": f"tasks/{number}",
        "createdAt": created,
    }


def test_day_bounds_in_utc_cover_exactly_one_day() -> None:
    start, end = day_bounds(date(2026, 11, 21))
    assert start == datetime(2026, 11, 21, tzinfo=UTC)
    assert end == datetime(2026, 11, 22, tzinfo=UTC)


def test_day_bounds_follow_the_time_zone_and_its_daylight_saving_change() -> None:
    start, end = day_bounds(date(2026, 6, 1), "Asia/Tokyo")
    assert start == datetime(2026, 5, 31, 15, tzinfo=UTC)
    assert end - start == timedelta(hours=24)
    # Europe/Berlin leaves summer time on 2026-10-25: that day lasts 25 hours
    start, end = day_bounds(date(2026, 10, 25), "Europe/Berlin")
    assert start == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert end - start == timedelta(hours=25)


def test_filters_send_device_statuses_and_an_inclusive_window() -> None:
    window = day_bounds(date(2026, 11, 21))
    filters = task_filters(device_arn=FORTE, statuses=["QUEUED", "CREATED", "QUEUED"], created_between=window)
    assert filters == [
        {"name": "deviceArn", "operator": "EQUAL", "values": [FORTE]},
        {"name": "status", "operator": "EQUAL", "values": ["CREATED", "QUEUED"]},
        {
            "name": "createdAt",
            "operator": "BETWEEN",
            "values": ["2026-11-21T00:00:00.000Z", "2026-11-21T23:59:59.999Z"],
        },
    ]


def test_a_creation_time_from_which_on_is_inclusive_and_excludes_a_window() -> None:
    since = datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)
    assert task_filters(job_arn=JOB, created_since=since) == [
        {"name": "jobArn", "operator": "EQUAL", "values": [JOB]},
        {"name": "createdAt", "operator": "GTE", "values": ["2026-11-21T12:00:00.123Z"]},
    ]
    with pytest.raises(ValueError, match="not both"):
        task_filters(created_since=since, created_between=day_bounds(date(2026, 11, 21)))


def test_filters_refuse_unknown_statuses_and_empty_choices() -> None:
    with pytest.raises(ValueError, match="PENDING"):
        task_filters(statuses=["PENDING"])
    with pytest.raises(ValueError, match="empty"):
        task_filters(statuses=[])
    with pytest.raises(ValueError, match="window"):
        task_filters(created_between=(datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)))
    with pytest.raises(ValueError, match="time zone"):
        rfc3339(datetime(2026, 1, 1))


def test_iter_tasks_pages_by_100_with_server_side_filters(braket: tuple[object, Stubber]) -> None:
    client, stubber = braket
    window = day_bounds(date(2026, 11, 21))
    filters = task_filters(device_arn=FORTE, statuses=["CREATED", "QUEUED"], created_between=window)
    noon = datetime(2026, 11, 21, 12, tzinfo=UTC)
    first = [summary(n, noon) for n in range(100)]
    second = [summary(n, noon, "CREATED") for n in range(100, 130)]
    stubber.add_response(
        "search_quantum_tasks",
        {"quantumTasks": first, "nextToken": "page-2"},
        {"filters": filters, "maxResults": 100},
    )
    stubber.add_response(
        "search_quantum_tasks",
        {"quantumTasks": second},
        {"filters": filters, "maxResults": 100, "nextToken": "page-2"},
    )
    tasks = list(iter_tasks(client, device_arn=FORTE, statuses={"QUEUED", "CREATED"}, created_between=window))
    assert [t["quantumTaskArn"] for t in tasks] == [t["quantumTaskArn"] for t in first + second]


def test_iter_tasks_keeps_the_window_half_open(braket: tuple[object, Stubber]) -> None:
    client, stubber = braket
    start, end = day_bounds(date(2026, 11, 21))
    inside = summary(1, end - timedelta(microseconds=400))
    past_the_end = summary(2, end)  # a service rounding the bound up must not leak the next day in
    stubber.add_response("search_quantum_tasks", {"quantumTasks": [inside, past_the_end]})
    tasks = list(iter_tasks(client, created_between=(start, end)))
    assert [t["quantumTaskArn"] for t in tasks] == [inside["quantumTaskArn"]]


def test_a_jobs_tasks_are_found_by_its_arn_in_the_statuses_asked(braket: tuple[object, Stubber]) -> None:
    client, stubber = braket
    noon = datetime(2026, 11, 21, 12, tzinfo=UTC)
    filters = [
        {"name": "jobArn", "operator": "EQUAL", "values": [JOB]},
        {"name": "status", "operator": "EQUAL", "values": ["CREATED", "QUEUED"]},
    ]
    stubber.add_response(
        "search_quantum_tasks", {"quantumTasks": [summary(1, noon)]}, {"filters": filters, "maxResults": 100}
    )
    tasks = list(iter_tasks(client, job_arn=JOB, statuses=["QUEUED", "CREATED"]))
    assert [t["quantumTaskArn"] for t in tasks] == [summary(1, noon)["quantumTaskArn"]]


@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
)
def test_consecutive_days_tile_time_without_gap_or_overlap(day: date, tz: str) -> None:
    start, end = day_bounds(day, tz)
    next_start, _ = day_bounds(day + timedelta(days=1), tz)
    assert end == next_start
    assert timedelta(hours=23) <= end - start <= timedelta(hours=25)
    local = start.astimezone(ZoneInfo(tz))
    assert (local.date(), local.hour, local.minute) == (day, 0, 0)


# --- cancelling ------------------------------------------------------------------------------------
def test_each_outcome_lands_in_its_own_place(braket: tuple[object, Stubber]) -> None:
    client, stubber = braket
    queued, done, missing = ARN.format("q"), ARN.format("d"), ARN.format("m")
    stubber.add_response(
        "cancel_quantum_task",
        {"quantumTaskArn": queued, "cancellationStatus": "CANCELLING"},
        {"quantumTaskArn": queued},
    )
    stubber.add_client_error(
        "cancel_quantum_task", "ConflictException", "quantum task is already COMPLETED", 409
    )
    stubber.add_client_error("cancel_quantum_task", "ResourceNotFoundException", "no such task", 404)
    report = cancel_tasks(client, [queued, done, missing, queued])
    assert report.requested == (queued, done, missing)
    assert report.cancelled == {queued: "CANCELLING"}
    assert report.already_finished == {done: "ConflictException: quantum task is already COMPLETED"}
    assert report.failed == {missing: "ResourceNotFoundException: no such task"}
    assert not report.ok
    assert report.to_json()["cancelled"] == {queued: "CANCELLING"}


def test_a_finished_task_alone_is_not_a_failure(braket: tuple[object, Stubber]) -> None:
    client, stubber = braket
    stubber.add_client_error("cancel_quantum_task", "ConflictException", "already CANCELLED", 409)
    report = cancel_tasks(client, [ARN.format("c")])
    assert report.ok
    assert list(report.already_finished) == [ARN.format("c")]


def test_dry_run_sends_nothing(braket: tuple[object, Stubber]) -> None:
    client, _ = braket  # no responses queued: any call would fail the stubber
    report = cancel_tasks(client, [ARN.format("a"), ARN.format("b")], dry_run=True)
    assert report.dry_run
    assert report.requested == (ARN.format("a"), ARN.format("b"))
    assert report.cancelled == {} and report.failed == {} and report.already_finished == {}


def test_a_later_report_is_taken_in_and_a_task_it_cancelled_no_longer_failed() -> None:
    a, b, c = ARN.format("a"), ARN.format("b"), ARN.format("c")
    first = CancelReport(requested=(a, b), cancelled={b: "CANCELLING"}, failed={a: "ThrottlingException"})
    again = CancelReport(requested=(a, c), cancelled={a: "CANCELLING"}, failed={c: "InternalError"})
    first.add(again)
    assert first.requested == (a, b, c)
    assert first.cancelled == {a: "CANCELLING", b: "CANCELLING"}
    assert first.failed == {c: "InternalError"}
