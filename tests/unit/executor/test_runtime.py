"""The executor's process-wide state: one pool, sessions per identity, attempts, watchers, fresh runtimes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from covalent_braket_plugin.executor import runtime
from covalent_braket_plugin.settings import BraketExecutorSettings

ACCOUNT = "123456789012"  # moto's account


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def test_electrons_with_the_same_identity_share_one_session(
    aws: None, executor_runtime: runtime.Runtime
) -> None:
    east = BraketExecutorSettings(region="us-east-1")
    first = executor_runtime.session(east)
    assert executor_runtime.session(BraketExecutorSettings(region="us-east-1", storage=99)) is first
    assert first.account_id == ACCOUNT and first.region == "us-east-1"
    west = executor_runtime.session(BraketExecutorSettings(region="us-west-2"))
    assert west is not first and west.region == "us-west-2"


def test_a_changed_aws_environment_is_another_identity(
    aws: None, executor_runtime: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = BraketExecutorSettings(region="us-east-1")
    first = executor_runtime.session(settings)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone-else")
    assert executor_runtime.session(settings) is not first


def test_attempts_count_per_electron(executor_runtime: runtime.Runtime) -> None:
    attempts = [executor_runtime.next_attempt("d", 1) for _ in range(3)]
    assert attempts == [1, 2, 3]
    assert executor_runtime.next_attempt("d", 2) == 1
    assert executor_runtime.next_attempt("e", 1) == 1


def test_blocking_work_runs_on_the_runtimes_own_threads(executor_runtime: runtime.Runtime) -> None:
    name = asyncio.run(executor_runtime.blocking(lambda: threading.current_thread().name))
    assert name.startswith("braket-executor")
    assert executor_runtime.images.pool is executor_runtime.pool  # builds share the one pool


def test_each_event_loop_and_client_has_its_own_watcher(executor_runtime: runtime.Runtime) -> None:
    one, other = object(), object()

    async def watchers() -> tuple[Any, Any, Any]:
        watcher = executor_runtime.watcher
        return watcher(one), watcher(one), watcher(other)

    first, same, different = asyncio.run(watchers())
    assert first is same and different is not first
    assert first.braket is one
    assert asyncio.run(watchers())[0] is not first  # a new loop


def test_a_fresh_runtime_stands_in_for_the_block_and_the_previous_one_comes_back(
    executor_runtime: runtime.Runtime,
) -> None:
    assert runtime.current() is executor_runtime
    executor_runtime.next_attempt("d", 1)
    with runtime.fresh() as inner:
        assert runtime.current() is inner and inner is not executor_runtime
        assert inner.next_attempt("d", 1) == 1  # nothing carried over
    assert runtime.current() is executor_runtime
    with pytest.raises(RuntimeError):  # closed: its threads take no more work
        inner.pool.submit(print)
