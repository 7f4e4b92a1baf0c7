"""A job of two instances through the official Braket SDK against a LocalStack whose jobs run as
processes: every instance runs the script on a host of its own, and ``AwsQuantumJob.logs()``, which
reads one stream per instance by the job's prefix, prints both."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
from braket.aws import AwsQuantumJob
from braket.jobs.config import InstanceConfig

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
SCRIPT = textwrap.dedent(
    """
    import json
    import os
    from pathlib import Path


    def each_host():
        config_dir = Path(os.environ["AMZN_BRAKET_HP_FILE"]).parent
        config = json.loads((config_dir / "resourceconfig.json").read_text())
        print(f"ran on {config['current_host']} of {len(config['hosts'])}")
    """
)


@pytest.fixture
def source_file(tmp_path: Path) -> Path:
    path = tmp_path / "algorithm.py"
    path.write_text(SCRIPT)
    return path


def test_every_instance_runs_and_the_sdk_reads_every_stream(env, role_arn, source_file, capsys):
    job = AwsQuantumJob.create(
        device=SV1,
        source_module=str(source_file),
        entry_point="algorithm:each_host",
        job_name=f"sdk-two-{uuid.uuid4().hex[:8]}",
        role_arn=role_arn,
        instance_config=InstanceConfig(instanceCount=2),
        wait_until_complete=True,
    )

    assert job.state() == "COMPLETED", job.metadata().get("failureReason")
    capsys.readouterr()
    job.logs(poll_interval_seconds=0)
    output = capsys.readouterr().out
    assert "ran on algo-1 of 2" in output and "ran on algo-2 of 2" in output, output
