"""A job of two instances on the local stack (process runner): the electron runs on both, each rank
on a host of its own, and rank 0's return value is the electron's result."""

from __future__ import annotations

import asyncio
from pathlib import Path

import boto3

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.local.jobs.logs import LOG_GROUP
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import electron_metadata, executor_for
from tests.integration.executor.conftest import BUCKET


def test_both_ranks_of_a_two_instance_electron_run(stack: LocalStack, tmp_path: Path) -> None:
    def each_rank(marker_dir: str) -> str:
        import json
        import os
        from pathlib import Path

        hp_file = Path(os.environ["AMZN_BRAKET_HP_FILE"])
        config = json.loads((hp_file.parent / "resourceconfig.json").read_text())
        host = config["current_host"]
        (Path(marker_dir) / host).write_text(str(os.getpid()))
        print(f"rank on {host}")
        return host

    ranks = tmp_path / "ranks"
    ranks.mkdir()
    metadata = electron_metadata(results_dir=str(tmp_path))
    executor = executor_for(BUCKET, instance_count=2)

    result = asyncio.run(executor.run(each_rank, [str(ranks)], {}, metadata))

    assert result == "algo-1"  # rank 0's return value
    markers = {path.name: path.read_text() for path in ranks.iterdir()}
    assert set(markers) == {"algo-1", "algo-2"}
    assert markers["algo-1"] != markers["algo-2"]  # two programs, one per instance
    braket = boto3.client("braket", **stack.client_kwargs())
    name = hybrid_jobs.job_name(metadata["dispatch_id"], 0, 1)
    [job] = [j for page in braket.get_paginator("search_jobs").paginate(filters=[])
             for j in page["jobs"] if j["jobName"] == name]
    assert braket.get_job(jobArn=job["jobArn"])["instanceConfig"]["instanceCount"] == 2
    logs = boto3.client("logs", **stack.client_kwargs())
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    printed = {
        stream["logStreamName"]: [e["message"] for e in logs.get_log_events(
            logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"], startFromHead=True)["events"]]
        for stream in streams
    }
    for host in ("algo-1", "algo-2"):
        [lines] = [lines for stream, lines in printed.items() if f"/{host}-" in stream]
        assert f"rank on {host}" in lines
