"""Spending limits: what counts in their spend, and the tasks they refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.errors import BraketError
from tests.unit.local.braket_api.conftest import FORTE, code, task_params


def test_spending_limits_count_queued_tasks_and_ignore_cancelled(backend: BraketBackend) -> None:
    limit = backend.create_spending_limit(
        {"clientToken": "l", "deviceArn": FORTE, "spendingLimit": "3"}, "us-east-1"
    )
    first = backend.create_quantum_task(task_params("s1", device=FORTE, shots=10), "us-east-1")[
        "quantumTaskArn"
    ]
    backend.create_quantum_task(task_params("s2", device=FORTE, shots=10), "us-east-1")
    with pytest.raises(BraketError) as exc:
        backend.create_quantum_task(task_params("s3", device=FORTE, shots=10), "us-east-1")
    assert code(exc) == "ServiceQuotaExceededException"
    (summary,) = backend.search_spending_limits({}, "us-east-1")["spendingLimits"]
    assert summary["spendingLimitArn"] == limit["spendingLimitArn"] and summary["queuedSpend"] == "2.2"
    backend.cancel_quantum_task({"quantumTaskArn": first}, "us-east-1")
    backend.create_quantum_task(task_params("s4", device=FORTE, shots=10), "us-east-1")
    with pytest.raises(BraketError) as exc:
        backend.create_spending_limit(
            {"clientToken": "l2", "deviceArn": FORTE, "spendingLimit": "9"}, "us-east-1"
        )
    assert code(exc) == "ValidationException"


def test_spend_follows_task_status_and_the_limit_period(backend: BraketBackend) -> None:
    limit = backend.create_spending_limit(
        {"clientToken": "l", "deviceArn": FORTE, "spendingLimit": "100"}, "r"
    )
    arn = backend.create_quantum_task(task_params("s1", device=FORTE, shots=10), "us-east-1")[
        "quantumTaskArn"
    ]
    backend.create_quantum_task(task_params("s2", device=FORTE, shots=5), "us-east-1")

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
        {"spendingLimitArn": limit["spendingLimitArn"], "timePeriod": past}, "us-east-1"
    )
    assert spend() == ("0", "0")
