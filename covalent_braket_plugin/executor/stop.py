"""Stopping a job stops its whole bill: CancelJob, then none of its quantum tasks left waiting.

On AWS, CancelJob terminates the job's container and makes "a best effort to cancel all of the related
quantum tasks that are still in a non-terminal state" (Braket Developer Guide, "Cancel a Hybrid Job").
Best effort is not a promise, and a QPU task left QUEUED runs, and is billed, after the job is gone.
So after a cancel the executor looks for the job's tasks still CREATED or QUEUED and cancels them
itself. Cancelling again what is already cancelling or ended is harmless (Braket answers an ended task
with ConflictException, which :func:`~covalent_braket_plugin.quantum_tasks.cancel_tasks` reports as
already finished), so every step may be repeated.
"""

from __future__ import annotations

from typing import Any

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.quantum_tasks import CANCELLABLE_STATUSES, CancelReport, cancel_tasks, iter_tasks

SWEEPS = 3
"""Searches for waiting tasks after a cancel: a task created while the job was being stopped shows
up in the next one."""


def stop_job(braket: Any, job_arn: str) -> str:
    """Cancel the job, then its tasks still waiting; the job's status after CancelJob."""
    status = hybrid_jobs.cancel_job(braket, job_arn)
    cancel_waiting_tasks(braket, job_arn)
    return status


def cancel_waiting_tasks(braket: Any, job_arn: str) -> CancelReport:
    """Cancel the job's tasks still CREATED or QUEUED until a search finds none (at most ``SWEEPS``).

    Returns what was asked of Braket, all sweeps together.
    """
    total = CancelReport(requested=())
    for _ in range(SWEEPS):
        found = iter_tasks(braket, job_arn=job_arn, statuses=CANCELLABLE_STATUSES)
        waiting = [task["quantumTaskArn"] for task in found]
        if not waiting:
            break
        report = cancel_tasks(braket, waiting)
        total.requested += report.requested
        total.cancelled.update(report.cancelled)
        total.already_finished.update(report.already_finished)
        total.failed.update(report.failed)
    return total
