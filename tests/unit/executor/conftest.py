"""Every executor unit test runs with a runtime of its own (``executor.runtime.fresh``): no AWS
session, attempt count, known image or runner archive carries over from another test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from covalent_braket_plugin.executor import runtime


@pytest.fixture(autouse=True)
def executor_runtime() -> Iterator[runtime.Runtime]:
    with runtime.fresh() as fresh:
        yield fresh
