"""Starting and stopping the local stack: what it reports, what it needs, what it leaves behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import psutil
import pytest
from botocore.config import Config

from covalent_braket_plugin.local.stack import LocalStack, LocalStackError


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_status_names_endpoint_runner_and_registry(braket_local_stack: LocalStack) -> None:
    status = braket_local_stack.status()
    assert status["endpoint_url"] == braket_local_stack.endpoint_url
    assert status["runner"] == "process"
    assert status["registry"] == braket_local_stack.registry_address
    assert {"jobs", "tasks", "faults"} <= set(status)


def test_environment_points_boto3_at_the_stack(
    braket_local_env: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No endpoint or credentials passed: boto3 takes them from the environment the fixture set.
    identity = boto3.client("sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert boto3.client("braket").get_device(deviceArn="arn:aws:braket:::device/quantum-simulator/amazon/sv1")


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    stack = LocalStack(runner="process", state_dir=tmp_path).start()
    server = psutil.Process(stack.pid)
    started = [server, *server.children(recursive=True)]
    assert len(started) >= 2  # the server and its registry
    stack.stop()
    assert [p for p in started if _running(p)] == []
    with pytest.raises(LocalStackError, match="not running"):
        LocalStack.attach(tmp_path)


def test_a_killed_server_leaves_nothing_running_once_found(tmp_path: Path) -> None:
    stack = LocalStack(runner="process", state_dir=tmp_path).start()
    server = psutil.Process(stack.pid)
    started = [server, *server.children(recursive=True)]
    server.kill()  # no chance to stop its registry
    server.wait()
    assert any(_running(p) for p in started[1:])
    with pytest.raises(LocalStackError, match="not running"):
        LocalStack.attach(tmp_path)
    assert [p for p in started if _running(p)] == []


def test_a_stale_ready_file_is_not_a_running_stack(tmp_path: Path) -> None:
    # The pid is alive (it is this test's) but it is not a server of this state dir: the pid was reused.
    ready = {"endpoint_url": "http://127.0.0.1:9", "pid": os.getpid()}
    (tmp_path / "ready.json").write_text(json.dumps(ready))
    with pytest.raises(LocalStackError, match="not running"):
        LocalStack.attach(tmp_path)
    assert not (tmp_path / "ready.json").exists()


def test_without_a_registry_program_the_process_runner_still_starts(tmp_path: Path) -> None:
    with LocalStack(runner="process", registry_binary=tmp_path / "missing-registry") as stack:
        status = stack.status()
        assert stack.registry_address is None
        assert "apt-get install docker-registry" in status["registry_note"]
        assert "--runner process" not in status["registry_note"]  # it runs that way already
        ecr = boto3.client("ecr", config=Config(retries={"max_attempts": 1}), **stack.client_kwargs())
        with pytest.raises(ecr.exceptions.ServerException, match="apt-get install docker-registry"):
            ecr.get_authorization_token()


def test_without_a_registry_program_the_docker_runner_refuses_to_start(tmp_path: Path) -> None:
    stack = LocalStack(runner="docker", registry_binary=tmp_path / "missing-registry")
    with pytest.raises(LocalStackError, match="apt-get install docker-registry") as refused:
        stack.start()
    assert "--runner process" in str(refused.value)
