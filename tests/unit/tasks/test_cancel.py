"""cancel_tasks: each task's outcome reported, a finished task is not an error."""

from __future__ import annotations

from botocore.stub import Stubber

from covalent_braket_plugin.tasks.cancel import cancel_tasks

ARN = "arn:aws:braket:us-east-1:123456789012:quantum-task/{}"


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
