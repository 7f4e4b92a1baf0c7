"""After the job, on the local stack: the metrics the electron logged (read back from CloudWatch Logs)
and the quantum tasks it ran (found by the job's ARN) end the electron's output (process runner)."""

from __future__ import annotations

import asyncio

import boto3

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.executor import job_tasks, metrics
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import electron_metadata, executor_for
from tests.integration.executor.conftest import BUCKET


def test_metrics_and_quantum_tasks_end_the_electrons_output(stack: LocalStack) -> None:
    def optimise(steps: int) -> int:
        import os

        from braket.aws import AwsDevice
        from braket.circuits import Circuit
        from braket.jobs.metrics import log_metric

        device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])
        for step in range(steps):
            counts = device.run(Circuit().h(0).cnot(0, 1), shots=10).result().measurement_counts
            log_metric("energy", 1.0 - step, iteration_number=step)
        log_metric("fidelity", 0.5)
        return sum(counts.values())

    executor = executor_for(BUCKET)
    metadata = electron_metadata()
    assert asyncio.run(executor.run(optimise, [3], {}, metadata)) == 10

    stdout = executor.task_stdout.getvalue()
    assert "Braket job metrics: energy: 3 values, last -1, min -1, max 1\n" in stdout
    assert "Braket job metrics: fidelity: 1 value, last 0.5, min 0.5, max 0.5\n" in stdout
    assert "Braket job quantum tasks: sv1: 3 tasks, 30 shots (3 COMPLETED)\n" in stdout

    # What the jobs commands print, read the same way.
    braket = boto3.client("braket", **stack.client_kwargs())
    name = hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)
    [job] = [j for page in braket.get_paginator("search_jobs").paginate(filters=[])
             for j in page["jobs"] if j["jobName"] == name]
    read = metrics.read_metrics(boto3.client("logs", **stack.client_kwargs()), "/aws/braket/jobs", name)
    assert [value for value in read["energy"] if value is not None] == [1.0, 0.0, -1.0]
    [sv1] = job_tasks.job_tasks(braket, job["jobArn"])
    assert sv1.to_json() == {"device": "arn:aws:braket:::device/quantum-simulator/amazon/sv1", "tasks": 3,
                             "shots": 30, "statuses": {"COMPLETED": 3}}
