"""Workflows on a real Covalent server whose electrons run as Braket jobs in Docker on the local stack.

The pytest side (fixtures in conftest.py) starts the local stack (docker runner and image registry),
then a Covalent server in a home directory of its own whose covalent.conf has an ``[executors.braket]``
section, and runs each workflow as a client process with that home, as a user would. The same file is
the client: run as a script it dispatches one scenario and prints what came back as JSON. Being
``__main__`` there also makes Covalent pickle the electrons by value, so neither the server nor the
job needs this file.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
import covalent as ct

from covalent_braket_plugin.braket import TAG_DISPATCH_ID
from covalent_braket_plugin.testing.covalent_server import CovalentServer

SHOTS = 100
# The line a build starts with (its step and done lines name the image too).
JOB_DONE = re.compile(r"Braket job covalent-[0-9a-z-]+: done\r?$", re.MULTILINE)
BUILD_START = re.compile(r"building job image [0-9a-f]+\.\.\.\r?$", re.MULTILINE)


# --- the workflows (what the client process dispatches) -------------------------------------------


def say_hello(name: str) -> str:
    print(f"hello {name} from a Braket job")
    return f"hello {name}"


@ct.electron(executor="braket")
def bell(shots: int) -> dict[str, int]:
    """A Bell pair on the job's device, through the Braket SDK installed in the job image."""
    import os

    from braket.aws import AwsDevice
    from braket.circuits import Circuit

    device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])
    return dict(device.run(Circuit().h(0).cnot(0, 1), shots=shots).result().measurement_counts)


@ct.electron(executor="braket")
def fail() -> None:
    raise ValueError("this electron fails on purpose")


@ct.electron(executor="braket")
def wait_long() -> str:
    import time

    print("waiting", flush=True)
    time.sleep(3600)
    return "not cancelled"


def _environment_workflow() -> Any:
    # One electron with an explicit executor, one with "braket" from covalent.conf: the same
    # environment, hence the same job image.
    hello = ct.electron(say_hello, executor=ct.executor.BraketExecutor(initial_poll_freq=0.5))

    @ct.lattice
    def environment(shots: int) -> list[Any]:
        return [hello("Covalent"), bell(shots)]

    return environment


@ct.lattice
def failing() -> None:
    return fail()


@ct.lattice
def long_running() -> str:
    return wait_long()


def _summary(dispatch_id: str) -> dict[str, Any]:
    result = ct.get_result(dispatch_id, wait=True)
    nodes = {}
    for node_id in result.lattice.transport_graph._graph.nodes:
        node = result.get_node_result(node_id)
        if node["node_name"].startswith(":"):  # parameters and collections, not electrons
            continue
        nodes[node["node_name"]] = {
            "status": str(node["status"]),
            "stdout": node["stdout"] or "",
            "stderr": node["stderr"] or "",
            "error": node["error"] or "",
        }
    return {
        "dispatch_id": dispatch_id,
        "status": str(result.status),
        "result": result.result,
        "error": result.error or "",
        "nodes": nodes,
    }


def _running_job(dispatch_id: str) -> dict[str, Any]:
    """Wait until the dispatch's job runs on Braket (found by the executor's dispatch tag)."""
    braket = boto3.client("braket")
    while True:
        for page in braket.get_paginator("search_jobs").paginate(filters=[]):
            for summary in page["jobs"]:
                job = braket.get_job(jobArn=summary["jobArn"])
                if job.get("tags", {}).get(TAG_DISPATCH_ID) == dispatch_id and job["status"] == "RUNNING":
                    return job
        time.sleep(1)


def client(scenario: str) -> dict[str, Any]:
    """Dispatch one scenario and report what came back."""
    if scenario == "environment":
        return _summary(ct.dispatch(_environment_workflow())(SHOTS))
    if scenario == "failing":
        return _summary(ct.dispatch(failing)())
    if scenario == "cancel":
        dispatch_id = ct.dispatch(long_running)()
        job = _running_job(dispatch_id)
        ct.cancel(dispatch_id)
        summary = _summary(dispatch_id)
        summary["job_status"] = boto3.client("braket").get_job(jobArn=job["jobArn"])["status"]
        return summary
    raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    print(json.dumps(client(sys.argv[1]), default=str))
    sys.exit(0)


# --- the tests --------------------------------------------------------------------------------------


def _explain(outcome: dict[str, Any]) -> str:
    """The whole outcome, every node's output and error included, for a failed assertion."""
    return json.dumps(outcome, indent=1, default=str)


def _builds(server: CovalentServer) -> int:
    """How many job images the server built."""
    return len(BUILD_START.findall(server.log))


def test_electrons_print_run_braket_circuits_and_share_one_image(
    covalent_server: CovalentServer, run_client: Callable[..., dict[str, Any]]
) -> None:
    first = run_client(__file__, "environment")
    assert first["status"] == "COMPLETED", _explain(first)
    hello, counts = first["result"]
    assert hello == "hello Covalent"
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == SHOTS
    assert "hello Covalent from a Braket job" in first["nodes"]["say_hello"]["stdout"]
    assert _builds(covalent_server) == 1  # two electrons, one environment, one build
    # Each job's wait is shown in the server's log at covalent's default log level: start and end.
    assert len(JOB_DONE.findall(covalent_server.log)) >= 2

    second = run_client(__file__, "environment")
    assert second["status"] == "COMPLETED", _explain(second)
    assert _builds(covalent_server) == 1  # the image is in ECR: nothing built the second time


def test_a_failing_electron_fails_the_workflow_with_the_remote_traceback(
    run_client: Callable[..., dict[str, Any]],
) -> None:
    outcome = run_client(__file__, "failing")
    assert outcome["status"] == "FAILED", _explain(outcome)
    node = outcome["nodes"]["fail"]
    assert node["status"] == "FAILED"
    stderr = node["stderr"]
    # the job's own traceback: the frame of the electron (whose file the job does not have, hence
    # no source line), the exception, then what Braket says of the job
    assert 'test_workflow_braket.py", line' in stderr and ", in fail\n" in stderr
    assert stderr.count("ValueError: this electron fails on purpose\n") == 1
    assert "ended FAILED: AlgorithmError: ValueError: this electron fails on purpose" in stderr


def test_ct_cancel_stops_the_running_job(run_client: Callable[..., dict[str, Any]]) -> None:
    outcome = run_client(__file__, "cancel")
    assert outcome["status"] == "CANCELLED", _explain(outcome)
    assert outcome["nodes"]["wait_long"]["status"] == "CANCELLED"
    assert outcome["job_status"] == "CANCELLED"
