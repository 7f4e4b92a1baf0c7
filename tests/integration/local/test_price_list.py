"""The unmodified Braket SDK's Tracker prices quantum tasks on the stack as it does on AWS: from the
price list it downloads, which the stack serves from the package's price table, in a user's process
pointed at the stack by ``covalent-braket local env`` and inside a hybrid job the stack runs."""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from braket.aws import AwsQuantumJob

from covalent_braket_plugin.local.price_list import PRICE_OFFERS_VARIABLE, price_list_url
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.tasks import PriceTable
from tests.conftest import FreshPython

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
SHOTS = 10
PRICED_TASKS = textwrap.dedent(
    f"""
    import json
    import os

    from braket.aws import AwsDevice
    from braket.circuits import Circuit
    from braket.jobs import save_job_result
    from braket.tracking import Tracker


    def costs():
        bell = Circuit().h(0).cnot(0, 1)
        with Tracker() as tracker:
            simulated = AwsDevice("{SV1}").run(bell, shots={SHOTS}).result()
            AwsDevice("{FORTE}").run(bell, shots={SHOTS}).result()
        return {{
            "qpu": str(tracker.qpu_tasks_cost()),
            "simulator": str(tracker.simulator_tasks_cost()),
            "duration_ms": simulated.additional_metadata.simulatorMetadata.executionDuration,
            "in_job": "AMZN_BRAKET_JOB_TOKEN" in os.environ,
        }}


    def in_job():
        save_job_result(costs())


    if __name__ == "__main__":
        print(json.dumps(costs()))
    """
)


@pytest.fixture(scope="module")
def priced_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("source") / "priced_tasks.py"
    path.write_text(PRICED_TASKS)
    return path


def assert_priced_by_the_table(costs: dict[str, object]) -> None:
    """The Tracker's costs are those of the price table the stack serves (the packaged one here)."""
    table = PriceTable.load()
    assert Decimal(str(costs["qpu"])) == table.task_cost(FORTE, SHOTS) > 0
    duration = timedelta(milliseconds=int(str(costs["duration_ms"])))
    assert Decimal(str(costs["simulator"])) == table.simulator_cost(SV1, duration) > 0


def test_the_tracker_prices_tasks_in_a_users_process(
    env: LocalStack, priced_tasks: Path, fresh_python: FreshPython
) -> None:
    """A fresh process, as a shell after ``eval "$(covalent-braket local env)"`` starts one: the
    SDK's price list is downloaded once per process, from the URL the environment names."""
    assert os.environ[PRICE_OFFERS_VARIABLE] == price_list_url(env.endpoint_url)
    done = fresh_python(priced_tasks.read_text(), timeout=300)
    costs = json.loads(done.stdout.splitlines()[-1])
    assert costs["in_job"] is False
    assert_priced_by_the_table(costs)


def test_the_tracker_prices_a_jobs_tasks_inside_the_job(
    env: LocalStack, role_arn: str, priced_tasks: Path, in_tmp_dir: Path
) -> None:
    """Inside a job the SDK marks its tasks as the job's, which AWS's file prices under product
    families of their own ("Braket Managed Jobs ..."); the job finds the price list as it finds the
    stack."""
    job = AwsQuantumJob.create(
        device=SV1,
        source_module=str(priced_tasks),
        entry_point="priced_tasks:in_job",
        job_name=f"priced-{uuid.uuid4().hex[:8]}",
        role_arn=role_arn,
        wait_until_complete=True,
    )
    assert job.state() == "COMPLETED", job.metadata().get("failureReason")
    costs = job.result()
    assert costs["in_job"] is True
    assert_priced_by_the_table(costs)
