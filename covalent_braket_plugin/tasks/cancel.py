"""Cancel quantum tasks and say what happened to each one.

Cancelling races with the device: a task may finish between being listed and being cancelled.
Braket answers that with ConflictException, which is an outcome to report, not an error to raise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


@dataclass
class CancelReport:
    """The outcome of one cancel request per task.

    ``cancelled`` maps each ARN to the cancellationStatus Braket returned (CANCELLING or CANCELLED);
    ``already_finished`` maps ARNs Braket refused because they had already ended to its message;
    ``failed`` maps the rest to the reason. With ``dry_run`` nothing was sent and only
    ``requested`` is filled.
    """

    requested: tuple[str, ...]
    dry_run: bool = False
    cancelled: dict[str, str] = field(default_factory=dict)
    already_finished: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no request failed (a task that had already finished is not a failure)."""
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "requested": list(self.requested),
            "dry_run": self.dry_run,
            "cancelled": dict(self.cancelled),
            "already_finished": dict(self.already_finished),
            "failed": dict(self.failed),
        }


def cancel_tasks(braket_client: Any, arns: Iterable[str], *, dry_run: bool = False) -> CancelReport:
    """Ask Braket to cancel each task once; never raises for a single task's refusal."""
    requested = tuple(dict.fromkeys(arns))  # each task once, in the order given
    report = CancelReport(requested=requested, dry_run=dry_run)
    if dry_run:
        return report
    for arn in requested:
        try:
            response = braket_client.cancel_quantum_task(quantumTaskArn=arn)
        except ClientError as error:
            details = error.response.get("Error", {})
            message = f"{details.get('Code', 'Error')}: {details.get('Message', str(error))}"
            if details.get("Code") == "ConflictException":
                report.already_finished[arn] = message
            else:
                report.failed[arn] = message
        except BotoCoreError as error:
            report.failed[arn] = f"{type(error).__name__}: {error}"
        else:
            report.cancelled[arn] = response["cancellationStatus"]
    return report
