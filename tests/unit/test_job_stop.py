"""Stopping a job (``job_stop.py``): CancelJob, then no quantum task of the job left waiting."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from covalent_braket_plugin import job_stop

JOB = "arn:aws:braket:us-east-1:123456789012:job/j"


class WaitingTasks:
    """A Braket stand-in whose job keeps tasks waiting until they are cancelled; one already ended, one
    whose cancel is refused."""

    def __init__(self, waiting: list[str]) -> None:
        self.waiting = list(waiting)
        self.cancels: list[str] = []

    def get_paginator(self, operation: str) -> Any:
        braket = self

        class Pages:
            def paginate(self, filters: list[dict], **_: Any) -> Any:
                assert filters[0] == {"name": "jobArn", "operator": "EQUAL", "values": [JOB]}
                assert filters[1]["values"] == ["CREATED", "QUEUED"]
                yield {"quantumTasks": [{"quantumTaskArn": arn} for arn in braket.waiting]}

        return Pages()

    def cancel_job(self, jobArn: str) -> dict:
        assert jobArn == JOB and self.cancels == []  # the job first, its tasks after
        return {"jobArn": jobArn, "cancellationStatus": "CANCELLING"}

    def cancel_quantum_task(self, quantumTaskArn: str) -> dict:
        self.cancels.append(quantumTaskArn)
        if quantumTaskArn == "refused":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Cancel")
        if quantumTaskArn == "ended":
            self.waiting.remove(quantumTaskArn)
            raise ClientError({"Error": {"Code": "ConflictException", "Message": "ended"}}, "Cancel")
        self.waiting.remove(quantumTaskArn)
        return {"cancellationStatus": "CANCELLING"}


def test_stragglers_are_cancelled_until_none_waits_and_again_harmlessly() -> None:
    braket = WaitingTasks(["a", "b", "ended"])
    report = job_stop.cancel_waiting_tasks(braket, JOB)
    assert report.cancelled == {"a": "CANCELLING", "b": "CANCELLING"} and "ended" in report.already_finished
    assert braket.waiting == [] and report.ok
    assert job_stop.cancel_waiting_tasks(braket, JOB).requested == ()  # nothing left: nothing asked


def test_a_task_that_cannot_be_cancelled_is_tried_at_each_sweep_and_logged_with_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    braket = WaitingTasks(["a", "refused"])
    with caplog.at_level(logging.WARNING, logger=job_stop.__name__):
        report = job_stop.cancel_waiting_tasks(braket, JOB)
    assert report.cancelled == {"a": "CANCELLING"} and list(report.failed) == ["refused"]
    assert braket.cancels.count("refused") == job_stop.SWEEPS
    [warning] = caplog.records
    assert warning.message.startswith(f"Quantum task refused of Braket job {JOB} is still waiting")
    assert "AccessDeniedException" in warning.message
    assert f"`covalent-braket jobs cancel {JOB}` tries again" in warning.message


def test_stop_job_cancels_the_job_then_its_waiting_tasks() -> None:
    braket = WaitingTasks(["a"])
    stopped = job_stop.stop_job(braket, JOB)
    assert stopped.status == "CANCELLING" and stopped.tasks.cancelled == {"a": "CANCELLING"}
