"""A two-instance electron through a real Covalent server, its job run by the local stack in Docker:
both ranks run, each in a container of its own with its own log stream, and rank 0's return value
is the electron's result.

Run as a script, this file is the client that dispatches the workflow and prints what came back as
JSON (see conftest.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import boto3
import covalent as ct

from covalent_braket_plugin.local.jobs.logs import LOG_GROUP
from covalent_braket_plugin.local.stack import LocalStack


@ct.electron(executor=ct.executor.BraketExecutor(instance_count=2))
def each_rank() -> str:
    """Runs on every instance; says where, and returns the host it ran on."""
    import json
    import os
    from pathlib import Path

    hp_file = Path(os.environ["AMZN_BRAKET_HP_FILE"])
    host = json.loads((hp_file.parent / "resourceconfig.json").read_text())["current_host"]
    print(f"rank on {host}", flush=True)
    return host


@ct.lattice
def ranks() -> str:
    return each_rank()


if __name__ == "__main__":
    result = ct.get_result(ct.dispatch(ranks)(), wait=True)
    print(json.dumps({"status": str(result.status), "result": result.result, "error": result.error or "",
                      "stdout": result.get_node_result(0)["stdout"] or ""}))
    sys.exit(0)


def test_both_ranks_of_a_two_instance_electron_run_in_containers_of_their_own(
    docker_stack: LocalStack, run_client: Callable[..., dict[str, Any]]
) -> None:
    outcome = run_client(__file__)

    assert outcome["status"] == "COMPLETED", json.dumps(outcome, indent=1)
    assert outcome["result"] == "algo-1"  # rank 0's return value
    assert "rank on algo-1" in outcome["stdout"]
    logs = boto3.client("logs", **docker_stack.client_kwargs())
    printed: dict[str, list[str]] = {}
    for page in logs.get_paginator("describe_log_streams").paginate(logGroupName=LOG_GROUP):
        for stream in page["logStreams"]:
            events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"],
                                         startFromHead=True)["events"]
            printed[stream["logStreamName"]] = [event["message"] for event in events]
    for host in ("algo-1", "algo-2"):
        [lines] = [lines for name, lines in printed.items() if f"/{host}-" in name]
        assert f"rank on {host}" in lines, printed
