"""Spending limits: what counts in their spend, and the tasks they refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.errors import BraketError
from tests.unit.local.braket_api.conftest import FORTE, code, task_params


def create_limit(backend: BraketBackend, dollars: str, token: str = "l") -> str:
    """A spending limit of ``dollars`` on Forte 1 (0.30 per task + 0.08 per shot, no period)."""
    params = {"clientToken": token, "deviceArn": FORTE, "spendingLimit": dollars}
    return backend.create_spending_limit(params, "us-east-1")["spendingLimitArn"]


def create_forte_task(backend: BraketBackend, token: str, shots: int) -> str:
    return backend.create_quantum_task(task_params(token, device=FORTE, shots=shots), "us-east-1")[
        "quantumTaskArn"
    ]


def test_spending_limits_count_queued_tasks_and_ignore_cancelled(backend: BraketBackend) -> None:
    limit = create_limit(backend, "3")
    first = create_forte_task(backend, "s1", shots=10)
    create_forte_task(backend, "s2", shots=10)
    with pytest.raises(BraketError) as exc:
        create_forte_task(backend, "s3", shots=10)
    assert code(exc) == "ServiceQuotaExceededException"
    (summary,) = backend.search_spending_limits({}, "us-east-1")["spendingLimits"]
    assert summary["spendingLimitArn"] == limit and summary["queuedSpend"] == "2.2"
    backend.cancel_quantum_task({"quantumTaskArn": first}, "us-east-1")
    create_forte_task(backend, "s4", shots=10)
    with pytest.raises(BraketError) as exc:
        create_limit(backend, "9", token="l2")
    assert code(exc) == "ValidationException"


def test_spend_follows_task_status_and_the_limit_period(backend: BraketBackend) -> None:
    limit = create_limit(backend, "100")
    arn = create_forte_task(backend, "s1", shots=10)
    create_forte_task(backend, "s2", shots=5)

    def spend() -> tuple[str, str]:
        (summary,) = backend.search_spending_limits({}, "us-east-1")["spendingLimits"]
        return summary["queuedSpend"], summary["totalSpend"]

    assert spend() == ("1.8", "0")  # 0.30 + 10 x 0.08, 0.30 + 5 x 0.08
    assert backend.transition_task(arn, frozenset({"QUEUED"}), "RUNNING")
    assert backend.transition_task(arn, frozenset({"RUNNING"}), "COMPLETED")
    assert spend() == ("0.7", "1.1")
    past = {
        "startAt": datetime(2020, 1, 1, tzinfo=UTC),
        "endAt": datetime(2021, 1, 1, tzinfo=UTC),
    }
    backend.update_spending_limit(
        {"spendingLimitArn": limit, "timePeriod": past}, "us-east-1"
    )
    assert spend() == ("0", "0")
