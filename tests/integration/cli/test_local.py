"""``covalent-braket local ...`` as a user runs it: separate processes, a stack that outlives them."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
import requests
from botocore.config import Config

from covalent_braket_plugin.local.price_list import PRICE_LIST_PATH
from covalent_braket_plugin.local.stack import LocalStack

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def run_cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COVALENT_BRAKET_LOCAL_DIR": str(state_dir)}
    return subprocess.run(
        [str(Path(sys.executable).with_name("covalent-braket")), "local", *args],
        env=environment, capture_output=True, text=True, timeout=300,
    )


def exported(env_output: str) -> dict[str, str]:
    """The variables ``local env`` exports, as a POSIX shell would set them."""
    variables = {}
    for line in env_output.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            (variables[name],) = shlex.split(value)
    return variables


def client(service: str, variables: dict[str, str]) -> Any:
    return boto3.client(
        service, endpoint_url=variables["AWS_ENDPOINT_URL"], region_name=variables["AWS_REGION"],
        aws_access_key_id=variables["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=variables["AWS_SECRET_ACCESS_KEY"], config=NO_RETRIES,
    )


def _still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "stack"
    # A failed test must not leave a stack running.
    run_cli(tmp_path / "stack", "down")


def test_up_env_status_faults_down_leaves_no_process(state_dir: Path) -> None:
    up = run_cli(state_dir, "up", "--port", "0", "--runner", "process", "--throttle-rate", "1")
    assert up.returncode == 0, up.stderr
    assert "Local Braket stack running at http://127.0.0.1:" in up.stdout

    env = run_cli(state_dir, "env")
    assert env.returncode == 0, env.stderr
    variables = exported(env.stdout)
    assert variables["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    credentials = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION"}
    assert credentials <= set(variables)
    # The Braket SDK's Tracker reads its price list from here, unsigned, as it reads AWS's.
    prices = requests.get(variables["BRAKET_PRICE_OFFERS_URL"], timeout=30)
    assert variables["BRAKET_PRICE_OFFERS_URL"] == variables["AWS_ENDPOINT_URL"] + PRICE_LIST_PATH
    assert prices.status_code == 200 and prices.text.startswith('"FormatVersion","v1.0"')

    # The fault given at start applies to Braket calls only.
    braket = client("braket", variables)
    with pytest.raises(braket.exceptions.ThrottlingException):
        braket.search_devices(filters=[])
    client("s3", variables).create_bucket(Bucket="amazon-braket-cli-test")

    changed = run_cli(state_dir, "faults", "--reset", "--latency-ms", "1")
    assert changed.returncode == 0, changed.stderr
    assert "throttle_rate=0.0" in changed.stdout and "latency_ms=1" in changed.stdout
    assert braket.search_devices(filters=[])["devices"]

    status = run_cli(state_dir, "status")
    assert status.returncode == 0, status.stderr
    assert variables["AWS_ENDPOINT_URL"] in status.stdout
    assert "runner:   process" in status.stdout and "latency_ms=1" in status.stdout

    again = run_cli(state_dir, "up", "--port", "0")
    assert again.returncode == 1
    assert "already running" in again.stderr

    stack = LocalStack.attach(state_dir)
    server = psutil.Process(stack.pid)
    started = [server, *server.children(recursive=True)]
    assert any("docker-registry" in p.name() for p in started)

    down = run_cli(state_dir, "down")
    assert down.returncode == 0, down.stderr
    assert _still_running(started) == []
    assert not (state_dir / "ready.json").exists()

    after = run_cli(state_dir, "env")
    assert after.returncode == 1
    assert "not running" in after.stderr


RUN_FOREVER = """
import time


def main():
    print("running until stopped", flush=True)
    while True:
        time.sleep(0.5)
"""


def test_down_stops_running_jobs_and_leaves_no_process(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from braket.aws import AwsQuantumJob

    assert run_cli(state_dir, "up", "--port", "0", "--runner", "process").returncode == 0
    variables = exported(run_cli(state_dir, "env").stdout)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    role = client("iam", variables).create_role(
        RoleName="AmazonBraketJobsExecutionRole-cli", Path="/service-role/",
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}',
    )["Role"]["Arn"]
    source = tmp_path / "forever.py"
    source.write_text(RUN_FOREVER)
    job = AwsQuantumJob.create(
        device="arn:aws:braket:::device/quantum-simulator/amazon/sv1", source_module=str(source),
        entry_point="forever:main", job_name="cli-down-with-a-job", role_arn=role,
    )
    server = psutil.Process(LocalStack.attach(state_dir).pid)
    while job.state() != "RUNNING" or len(server.children(recursive=True)) < 2:
        assert job.state() in ("QUEUED", "RUNNING"), job.state()
        time.sleep(0.2)
    started = [server, *server.children(recursive=True)]
    commands = [" ".join(p.cmdline()) for p in started]
    assert any("docker-registry" in c for c in commands)
    assert any(str(state_dir / "jobs") in c or "braket_container.py" in c for c in commands), commands

    down = run_cli(state_dir, "down")
    assert down.returncode == 0, down.stderr
    assert _still_running(started) == []


def test_commands_say_when_no_stack_runs(state_dir: Path) -> None:
    for command in ("env", "status", "faults", "down"):
        result = run_cli(state_dir, command)
        assert result.returncode == 1
        assert "the local stack is not running" in result.stderr


def test_a_busy_port_is_reported_as_such(state_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli(state_dir, "up", "--port", str(taken.getsockname()[1]), "--runner", "process")
    assert result.returncode == 1
    assert "is busy" in result.stderr
    assert "--port 0" in result.stderr  # the way to a free port, without guessing one


def test_the_banner_of_a_process_runner_without_a_registry_does_not_ask_for_that_runner(
    state_dir: Path, tmp_path: Path
) -> None:
    up = run_cli(
        state_dir, "up", "--port", "0", "--runner", "process", "--registry-binary", str(tmp_path / "none")
    )
    assert up.returncode == 0, up.stderr
    (registry,) = [line for line in up.stdout.splitlines() if "registry: none" in line]
    assert "apt-get install docker-registry" in registry
    assert "--runner process" not in registry


def test_a_bad_fault_setting_is_refused_at_start(state_dir: Path) -> None:
    result = run_cli(state_dir, "up", "--port", "0", "--runner", "process", "--error-rate", "2")
    assert result.returncode == 2  # a refused setting, as with every command
    assert "error_rate must be between 0 and 1" in result.stderr
