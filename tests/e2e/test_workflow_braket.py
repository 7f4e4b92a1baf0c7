"""Workflows on a real Covalent server whose electrons run as Braket jobs in Docker on the local stack.

The pytest side starts the local stack (docker runner and image registry), then a Covalent server in a
home directory of its own whose covalent.conf has an ``[executors.braket]`` section, and runs each
workflow as a client process with that home, as a user would. The same file is the client: run as a
script it dispatches one scenario and prints what came back as JSON. Being ``__main__`` there also
makes Covalent pickle the electrons by value, so neither the server nor the job needs this file.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import covalent as ct
import pytest

from covalent_braket_plugin.braket import TAG_DISPATCH_ID
from covalent_braket_plugin.local.stack import LocalStack

BUCKET = "amazon-braket-covalent-e2e"
ROLE = "AmazonBraketJobsExecutionRole"
REPOSITORY = "amazon-braket-covalent-e2e"
SHOTS = 100
BUILD_LINE = "building job image "
COVALENT_START_TIMEOUT_S = 300
CLIENT_TIMEOUT_S = 2400


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

ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "braket.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@dataclass
class CovalentServer:
    home: Path
    env: dict[str, str]

    @property
    def log(self) -> str:
        logs = sorted((self.home / ".cache" / "covalent").glob("*.log"))
        return "".join(path.read_text(errors="replace") for path in logs)

    def builds(self) -> int:
        return self.log.count(BUILD_LINE)

    def run(self, scenario: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, __file__, scenario],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT_S,
            cwd=self.home,
        )
        assert done.returncode == 0, f"{done.stderr}\n--- server log ---\n{self.log[-5000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])


def _explain(outcome: dict[str, Any]) -> str:
    """The whole outcome, every node's output and error included, for a failed assertion."""
    return json.dumps(outcome, indent=1, default=str)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def docker_stack(docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The local stack running jobs as Docker containers, with the bucket and role of the workflows."""
    with LocalStack(port=0, runner="docker", state_dir=tmp_path_factory.mktemp("stack")) as stack:
        assert stack.info.get("runner", "docker") in ("docker", "auto"), stack.info
        boto3.client("s3", **stack.client_kwargs()).create_bucket(Bucket=BUCKET)
        boto3.client("iam", **stack.client_kwargs()).create_role(
            RoleName=ROLE, Path="/service-role/", AssumeRolePolicyDocument=ROLE_POLICY
        )
        yield stack


@pytest.fixture(scope="module")
def covalent_server(
    docker_stack: LocalStack, job_base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CovalentServer]:
    """``covalent start`` in a home of its own, its executors.braket pointing at the local stack."""
    home = tmp_path_factory.mktemp("covalent-home")
    conf = home / ".config" / "covalent" / "covalent.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        "[executors.braket]\n"
        f's3_bucket_name = "{BUCKET}"\n'
        'region = "us-east-1"\n'
        f'ecr_repo_name = "{REPOSITORY}"\n'
        f'base_image = "{job_base_image}"\n'
        'pip_packages = ["amazon-braket-sdk"]\n'
        "poll_freq = 2.0\n"
        "initial_poll_freq = 0.5\n"
        "time_limit = 3600\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COVALENT_"))},
        **docker_stack.environment(),
        "HOME": str(home),
        "COVALENT_DISABLE_DASK": "1",
        "PYTHONUNBUFFERED": "1",  # the server's output (image build progress) reaches its log at once
    }
    env.pop("XDG_CONFIG_DIR", None)
    env.pop("XDG_CACHE_HOME", None)
    env.pop("XDG_DATA_HOME", None)
    covalent = str(Path(sys.executable).with_name("covalent"))
    started = subprocess.run(
        [covalent, "start", "--port", str(_free_port()), "--no-cluster"],
        env=env,
        capture_output=True,
        text=True,
        timeout=COVALENT_START_TIMEOUT_S,
        cwd=home,
    )
    server = CovalentServer(home, env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield server
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([covalent, "stop"], env=env, capture_output=True, timeout=120, cwd=home)


def test_electrons_print_run_braket_circuits_and_share_one_image(covalent_server: CovalentServer) -> None:
    first = covalent_server.run("environment")
    assert first["status"] == "COMPLETED", _explain(first)
    hello, counts = first["result"]
    assert hello == "hello Covalent"
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == SHOTS
    assert "hello Covalent from a Braket job" in first["nodes"]["say_hello"]["stdout"]
    assert covalent_server.builds() == 1  # two electrons, one environment, one build

    second = covalent_server.run("environment")
    assert second["status"] == "COMPLETED", _explain(second)
    assert covalent_server.builds() == 1  # the image is in ECR: nothing built the second time


def test_a_failing_electron_fails_the_workflow_with_the_remote_traceback(
    covalent_server: CovalentServer,
) -> None:
    outcome = covalent_server.run("failing")
    assert outcome["status"] == "FAILED", _explain(outcome)
    node = outcome["nodes"]["fail"]
    assert node["status"] == "FAILED"
    stderr = node["stderr"]
    # the job's own traceback: the frame of the electron (whose file the job does not have, hence
    # no source line), the exception, then what Braket says of the job
    assert 'test_workflow_braket.py", line' in stderr and ", in fail\n" in stderr
    assert stderr.count("ValueError: this electron fails on purpose\n") == 1
    assert "ended FAILED: AlgorithmError: ValueError: this electron fails on purpose" in stderr


def test_ct_cancel_stops_the_running_job(covalent_server: CovalentServer) -> None:
    outcome = covalent_server.run("cancel")
    assert outcome["status"] == "CANCELLED", _explain(outcome)
    assert outcome["nodes"]["wait_long"]["status"] == "CANCELLED"
    assert outcome["job_status"] == "CANCELLED"
