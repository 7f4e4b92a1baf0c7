"""``covalent-braket jobs metrics | tasks`` against the local Braket stack, on a job the executor made
whose electron logged metrics and ran quantum tasks (process runner)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from covalent_braket_plugin import cli, hybrid_jobs
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import (
    electron_metadata,
    executor_for,
    name_region_in_covalent_conf,
    with_bucket_and_role,
)

BUCKET = "amazon-braket-covalent-ops"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


@pytest.fixture
def stack(braket_local_env: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """The session's stack with the jobs commands' bucket, and a covalent.conf naming its region."""
    name_region_in_covalent_conf(braket_local_env.region, tmp_path, monkeypatch)
    return with_bucket_and_role(braket_local_env, BUCKET)


def test_the_metrics_and_tasks_of_a_job(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    def optimise() -> None:
        import os

        from braket.aws import AwsDevice
        from braket.circuits import Circuit
        from braket.jobs.metrics import log_metric

        device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])
        for step in range(2):
            device.run(Circuit().h(0), shots=5).result()
            log_metric("energy", 2.0 - step, iteration_number=step)

    dispatch_id = str(uuid.uuid4())
    asyncio.run(executor_for(BUCKET).run(optimise, [], {}, electron_metadata(dispatch_id)))
    name = hybrid_jobs.job_name(dispatch_id, 0, 1)
    capsys.readouterr()

    assert cli.main(["jobs", "metrics", name]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TIMESTAMP", "ITERATION_NUMBER", "ENERGY"]
    assert [line.split()[1:] for line in lines[1:3]] == [["0", "2"], ["1", "1"]]
    assert lines[-1] == "energy: 2 values, last 1, min 1, max 2"

    assert cli.main(["jobs", "metrics", name, "--json"]) == 0
    read = json.loads(capsys.readouterr().out)
    assert read["metrics"]["energy"] == [2.0, 1.0]
    assert read["summary"] == [{"name": "energy", "count": 2, "last": 1.0, "min": 1.0, "max": 2.0}]

    assert cli.main(["jobs", "tasks", name]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == [SV1, "2", "10", "2", "COMPLETED"]
    assert cli.main(["jobs", "tasks", name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["devices"] == [
        {"device": SV1, "tasks": 2, "shots": 10, "statuses": {"COMPLETED": 2}}
    ]
