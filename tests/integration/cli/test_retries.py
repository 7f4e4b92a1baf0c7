"""Every command retries as the executor does (``aws.CLIENT_CONFIG``: standard mode, ten retries after
the first attempt), checked on the local stack with its injected Braket faults.

botocore's message says how many retries a call spent before it gave up, so a command that gave up
sooner than the executor shows it in its error line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from covalent_braket_plugin.cli import main
from covalent_braket_plugin.local.stack import LocalStack

EXECUTORS_RETRIES = "(reached max retries: 10)"


@pytest.fixture
def faulty(
    braket_local_env: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalStack]:
    """The stack, whose faults are turned off again after the test; no covalent.conf of the user's."""
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(tmp_path))
    try:
        yield braket_local_env
    finally:
        braket_local_env.reset_faults()


@pytest.mark.parametrize(
    ("argv", "operation"),
    [
        (["tasks", "summary"], "SearchQuantumTasks"),
        (["tasks", "cancel", "--device", "sv1", "--dry-run"], "SearchQuantumTasks"),
        (["jobs", "list"], "SearchJobs"),
    ],
)
def test_a_command_spends_the_executors_retries_before_it_gives_up(
    faulty: LocalStack, capsys: pytest.CaptureFixture[str], argv: list[str], operation: str
) -> None:
    faulty.set_faults(error_rate=1.0)
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert f"calling the {operation} operation {EXECUTORS_RETRIES}" in error, error


def test_tasks_summary_rides_out_80_percent_of_braket_requests_failing(
    faulty: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Six runs under 80% injected InternalServiceException.

    A run fails only if eleven attempts in a row fail (0.8^11, about 9%, for its one search), so six
    successes in six runs cannot be promised; what is certain is that no run gives up before its
    eleventh attempt, where the earlier three attempts failed half of the runs.
    """
    faulty.set_faults(error_rate=0.8)
    outcomes = []
    for _ in range(6):
        status = main(["tasks", "summary", "--json"])
        output = capsys.readouterr()
        assert status == 0 or EXECUTORS_RETRIES in output.err, output.err
        outcomes.append(status)
    assert outcomes.count(0) >= 3, outcomes
