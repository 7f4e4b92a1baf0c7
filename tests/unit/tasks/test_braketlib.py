"""AmazonBraketlib on stubbed clients: the requests it sends and the earlier tool's JSON shape."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

from covalent_braket_plugin.billing.prices import PRICES_ENV
from covalent_braket_plugin.quantum_tasks import day_bounds, task_filters
from covalent_braket_plugin.tasks import AmazonBraketlib

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
GARNET = "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
TASK = "arn:aws:braket:{region}:123456789012:quantum-task/{name}"
NOON = datetime(2026, 11, 21, 12, tzinfo=UTC)


def summary(name: str, device: str, status: str, shots: int, bucket: str, directory: str) -> dict:
    return {
        "quantumTaskArn": TASK.format(region="us-east-1", name=name),
        "status": status,
        "deviceArn": device,
        "shots": shots,
        "outputS3Bucket": bucket,
        "outputS3Directory": directory,
        "createdAt": NOON,
    }


@pytest.fixture
def lib(monkeypatch: pytest.MonkeyPatch) -> AmazonBraketlib:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return AmazonBraketlib(boto_session=session)


def test_the_region_comes_from_the_session_or_the_argument() -> None:
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="eu-north-1")
    assert AmazonBraketlib(boto_session=session).region == "eu-north-1"
    assert AmazonBraketlib("us-west-1", boto_session=session).braket.meta.region_name == "us-west-1"
    with pytest.raises(ValueError, match="profile or boto_session"):
        AmazonBraketlib(profile="default", boto_session=session)


def test_get_info_returns_the_earlier_tools_shape(lib: AmazonBraketlib) -> None:
    window = day_bounds(date(2026, 11, 5))
    tasks = [
        summary("a", FORTE, "QUEUED", 100, "amazon-braket-x", "boto-examples/a"),
        summary("b", FORTE, "QUEUED", 8000, "amazon-braket-x", "task-check/b"),
        summary("c", FORTE, "QUEUED", 10, "amazon-braket-y", "boto-examples/c"),
    ]
    for record in tasks:
        record["createdAt"] = datetime(2026, 11, 5, 23, 59, tzinfo=UTC)
    with Stubber(lib.braket) as stubber:
        stubber.add_response(
            "search_quantum_tasks",
            {"quantumTasks": tasks},
            {
                "filters": task_filters(device_arn=FORTE, statuses=["QUEUED"], created_between=window),
                "maxResults": 100,
            },
        )
        info = lib.get_info(2026, 11, 5, "qpu", "ionq", "Forte-1", 0)
    arn = TASK.format(region="us-east-1", name="{}")
    assert info == {
        "id": {
            "amazon-braket-x": [arn.format("a"), arn.format("b")],
            "amazon-braket-x/boto-examples": [arn.format("a")],
            "amazon-braket-x/task-check": [arn.format("b")],
            "amazon-braket-y": [arn.format("c")],
            "amazon-braket-y/boto-examples": [arn.format("c")],
        },
        "count": {
            "amazon-braket-x": 8100,
            "amazon-braket-x/boto-examples": 100,
            "amazon-braket-x/task-check": 8000,
            "amazon-braket-y": 10,
            "amazon-braket-y/boto-examples": 10,
        },
        "total_shots": 8110,
        "hardware": "ionq",
        "qpu": "device/qpu/ionq/Forte-1",
        "status": "QUEUED",
        "date": "2026-11-5",
    }


def test_get_info_builds_arns_of_devices_the_price_table_does_not_list(lib: AmazonBraketlib) -> None:
    window = day_bounds(date(2026, 11, 5))
    newcomer = "arn:aws:braket:us-east-1::device/qpu/newcomer/Q-1"
    with Stubber(lib.braket) as stubber:
        stubber.add_response(
            "search_quantum_tasks",
            {"quantumTasks": []},
            {
                "filters": task_filters(device_arn=newcomer, statuses=["RUNNING"], created_between=window),
                "maxResults": 100,
            },
        )
        info = lib.get_info(2026, 11, 5, "qpu", "newcomer", "Q-1", 3)
    assert (info["total_shots"], info["status"], info["id"]) == (0, "RUNNING", {})


def test_summary_of_a_qpu_asks_the_region_its_arn_names(lib: AmazonBraketlib) -> None:
    window = day_bounds(date(2026, 11, 21), "Europe/Helsinki")
    garnet_task = summary("g", GARNET, "COMPLETED", 1000, "amazon-braket-x", "t/g")
    with Stubber(lib.client("eu-north-1")) as stubber:
        stubber.add_response(
            "search_quantum_tasks",
            {"quantumTasks": [garnet_task]},
            {"filters": task_filters(device_arn=GARNET, created_between=window), "maxResults": 100},
        )
        result = lib.summary("2026-11-21", "Europe/Helsinki", device="garnet")
    assert result.row(GARNET, "COMPLETED").cost == Decimal("1.75")
    assert result.tz == "Europe/Helsinki"


def test_cancel_queued_cancels_created_and_queued_tasks_of_the_day(lib: AmazonBraketlib) -> None:
    window = day_bounds(date(2026, 11, 21))
    created = summary("c", FORTE, "CREATED", 10, "b", "d/c")
    queued = summary("q", FORTE, "QUEUED", 10, "b", "d/q")
    search = (
        "search_quantum_tasks",
        {"quantumTasks": [created, queued]},
        {
            "filters": task_filters(device_arn=FORTE, statuses=["CREATED", "QUEUED"], created_between=window),
            "maxResults": 100,
        },
    )
    with Stubber(lib.braket) as stubber:
        stubber.add_response(*search)
        assert lib.cancel_queued("Forte-1", date(2026, 11, 21), dry_run=True).requested == (
            created["quantumTaskArn"], queued["quantumTaskArn"],
        )
        stubber.add_response(*search)
        stubber.add_response(
            "cancel_quantum_task",
            {"quantumTaskArn": created["quantumTaskArn"], "cancellationStatus": "CANCELLED"},
            {"quantumTaskArn": created["quantumTaskArn"]},
        )
        stubber.add_client_error("cancel_quantum_task", "ConflictException", "already COMPLETED", 409)
        report = lib.cancel_queued(FORTE, date(2026, 11, 21))
        stubber.assert_no_pending_responses()
    assert report.cancelled == {created["quantumTaskArn"]: "CANCELLED"}
    assert list(report.already_finished) == [queued["quantumTaskArn"]]
    assert report.ok


def test_delete_quantum_task_is_the_new_cancel(lib: AmazonBraketlib) -> None:
    arn = TASK.format(region="us-east-1", name="x")
    with Stubber(lib.braket) as stubber:
        response = {"quantumTaskArn": arn, "cancellationStatus": "CANCELLING"}
        stubber.add_response("cancel_quantum_task", response, {"quantumTaskArn": arn})
        report = lib.delete_quantumTask(arn)
    assert report.cancelled == {arn: "CANCELLING"}


def test_unknown_short_names_are_refused_with_the_known_ones(lib: AmazonBraketlib) -> None:
    with pytest.raises(ValueError, match="Forte-1"):
        lib.device_arn("Forte-9")
    assert lib.device_arn("sv1") == SV1
    assert lib.device_arn("ionq/forte-1") == FORTE
