"""Stopping a job stops its whole bill: CancelJob, then none of its quantum tasks left waiting.

On AWS, CancelJob terminates the job's container and makes "a best effort to cancel all of the related
quantum tasks that are still in a non-terminal state" (Braket Developer Guide, "Cancel a Hybrid Job").
Best effort is not a promise: a QPU task left QUEUED runs, and is billed, after the job is gone, and so
does one the job created while it was being stopped. So after CancelJob the job's tasks still CREATED
or QUEUED are searched for and cancelled one by one. Cancelling again what is already cancelling or
ended is harmless (Braket answers an ended task with ConflictException, which
:func:`~covalent_braket_plugin.quantum_tasks.cancel_tasks` reports as already finished), so every step
may be repeated, and a job that ended may still lose the tasks it left waiting.

Every way of stopping a job comes here: the executor's (a cancel request from Covalent, a closing
server, a budget passed) and ``covalent-braket jobs cancel``. A waiting task that could not be
cancelled is logged here, whoever asked, with what to do: it goes on being billed otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.quantum_tasks import CANCELLABLE_STATUSES, CancelReport, cancel_tasks, iter_tasks

SWEEPS = 3
"""Searches for waiting tasks after a cancel: a task created while the job was being stopped shows
up in the next one, and a cancel that failed is tried again."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stopped:
    """What stopping a job did: its status after CancelJob, and what was asked of its waiting tasks."""

    status: str
    tasks: CancelReport


def stop_job(braket: Any, job_arn: str) -> Stopped:
    """Cancel the job, then its tasks still waiting.

    Raises what CancelJob or the search raise after botocore's retries: only the caller knows what
    a job left running means for it.
    """
    status = hybrid_jobs.cancel_job(braket, job_arn)
    return Stopped(status, cancel_waiting_tasks(braket, job_arn))


def cancel_waiting_tasks(braket: Any, job_arn: str) -> CancelReport:
    """Cancel the job's tasks still CREATED or QUEUED until a search finds none (at most ``SWEEPS``).

    Returns what was asked of Braket, all sweeps together; each task still failing after them is
    logged as a warning.
    """
    total = CancelReport(requested=())
    for _ in range(SWEEPS):
        found = iter_tasks(braket, job_arn=job_arn, statuses=CANCELLABLE_STATUSES)
        waiting = [task["quantumTaskArn"] for task in found]
        if not waiting:
            break
        total.add(cancel_tasks(braket, waiting))
    for arn, reason in total.failed.items():
        log.warning(
            f"Quantum task {arn} of Braket job {job_arn} is still waiting and could not be cancelled "
            f"({reason}); it runs, and is billed, unless cancelled: `covalent-braket jobs cancel "
            f"{job_arn}` tries again"
        )
    return total
