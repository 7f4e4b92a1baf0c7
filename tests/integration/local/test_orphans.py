"""A killed server's jobs: their programs, in sessions of their own, outlive it until the next
``local status`` or ``local down`` finds the server gone and ends what it recorded."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import uuid
from pathlib import Path

import psutil
import pytest
from braket.aws import AwsQuantumJob

from covalent_braket_plugin.local.jobs.orphans import RECORDS_DIR
from covalent_braket_plugin.local.stack import JOBS_DIR, LocalStack
from covalent_braket_plugin.testing.pytest_plugin import point_at
from tests.integration.cli.test_local import run_cli
from tests.integration.local.jobs.test_sdk import (
    SV1,
    process_is_gone,
    processes_working_in,
    wait_for_file,
    wait_for_state,
    work_dir,
)

FOREVER = textwrap.dedent(
    """
    import os, time
    from pathlib import Path
    from braket.jobs import get_results_dir

    def main():
        Path(get_results_dir(), "pid").write_text(str(os.getpid()))
        while True:
            time.sleep(0.2)
    """
)


@pytest.mark.parametrize("command", ["down", "status"])
def test_a_killed_servers_job_is_ended_by_the_next_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    state_dir = tmp_path / "state"
    assert run_cli(state_dir, "up", "--port", "0", "--runner", "process").returncode == 0
    stack = LocalStack.attach(state_dir)
    point_at(stack, monkeypatch)
    source = tmp_path / "forever.py"
    source.write_text(FOREVER)
    job = AwsQuantumJob.create(
        device=SV1, source_module=str(source), entry_point="forever:main",
        job_name=f"orphan-{uuid.uuid4().hex[:8]}", role_arn=stack.create_jobs_role(),
    )
    wait_for_state(job, "RUNNING")
    pid = int(wait_for_file(work_dir(stack, job) / "model" / "pid"))
    (record,) = (state_dir / JOBS_DIR / RECORDS_DIR).glob("*.json")
    assert json.loads(record.read_text())["jobArn"] == job.arn

    server = psutil.Process(stack.pid)  # type: ignore[arg-type]
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)
    assert not process_is_gone(pid)  # the job's session outlived its server

    ended = run_cli(state_dir, command)
    assert ended.returncode == 1 and "not running" in ended.stderr
    assert process_is_gone(pid)
    assert not processes_working_in(state_dir)
    assert not list((state_dir / JOBS_DIR / RECORDS_DIR).glob("*.json"))
