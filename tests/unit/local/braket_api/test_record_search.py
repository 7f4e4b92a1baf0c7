"""Search* paging and filters, through SearchQuantumTasks: stable pages, bound tokens, time ranges."""

from __future__ import annotations

from typing import Any

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.errors import BraketError
from tests.unit.local.braket_api.conftest import FORTE, code, task_params


def test_paging_is_stable_and_tokens_are_bound_to_their_filters(backend: BraketBackend) -> None:
    arns = [
        backend.create_quantum_task(task_params(f"p{i}", device=FORTE, shots=1), "us-east-1")[
            "quantumTaskArn"
        ]
        for i in range(25)
    ]
    seen: list[str] = []
    params: dict[str, Any] = {"filters": [], "maxResults": 10}
    pages = 0
    while True:
        page = backend.search_quantum_tasks(params, "us-east-1")
        pages += 1
        seen += [t["quantumTaskArn"] for t in page["quantumTasks"]]
        if not page.get("nextToken"):
            break
        params = {**params, "nextToken": page["nextToken"]}
    assert seen == arns and pages == 3
    first = backend.search_quantum_tasks({"filters": [], "maxResults": 10}, "us-east-1")
    other = [{"name": "status", "operator": "EQUAL", "values": ["QUEUED"]}]
    with pytest.raises(BraketError) as exc:
        backend.search_quantum_tasks({"filters": other, "nextToken": first["nextToken"]}, "us-east-1")
    assert code(exc) == "ValidationException"


def test_time_filters(backend: BraketBackend) -> None:
    before = backend.create_quantum_task(task_params("x0", device=FORTE, shots=1), "us-east-1")[
        "quantumTaskArn"
    ]
    middle = backend.create_quantum_task(task_params("x1", device=FORTE, shots=1), "us-east-1")[
        "quantumTaskArn"
    ]
    after = backend.create_quantum_task(task_params("x2", device=FORTE, shots=1), "us-east-1")[
        "quantumTaskArn"
    ]
    stamp = backend.get_quantum_task({"quantumTaskArn": middle}, "us-east-1")["createdAt"].isoformat()

    def search(operator: str, *values: str) -> list[str]:
        filters = [{"name": "createdAt", "operator": operator, "values": list(values)}]
        return [
            t["quantumTaskArn"]
            for t in backend.search_quantum_tasks({"filters": filters}, "us-east-1")["quantumTasks"]
        ]

    assert search("LT", stamp) == [before]
    assert search("LTE", stamp) == [before, middle]
    assert search("GT", stamp) == [after]
    assert search("GTE", stamp) == [middle, after]
    assert search("EQUAL", stamp) == [middle]
    assert search("BETWEEN", stamp, stamp) == [middle]
    with pytest.raises(BraketError):
        search("BETWEEN", stamp)
    with pytest.raises(BraketError):
        search("GT", stamp, stamp)
