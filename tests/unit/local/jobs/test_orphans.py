"""Records of running job programs, and ending what a killed server left."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from covalent_braket_plugin.local.jobs.orphans import RECORDS_DIR, end_orphans, record

ARN = "arn:aws:braket:us-east-1:123456789012:job/abc"


@dataclass
class _Process:
    pid: int


@dataclass
class _Container:
    container_id: str


class _Docker:
    """A Docker client stand-in that remembers the containers it removed."""

    def __init__(self) -> None:
        self.removed: list[str] = []
        self.containers = self

    def get(self, container_id: str) -> Any:
        docker = self

        class Container:
            def remove(self, force: bool) -> None:
                docker.removed.append(container_id)

        return Container()


def _session() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def test_a_recorded_process_group_is_ended_and_its_record_removed(tmp_path: Path) -> None:
    child = _session()
    path = record(tmp_path, ARN, _Process(child.pid))
    assert json.loads(path.read_text())["pgid"] == child.pid
    assert end_orphans(tmp_path, lambda: None) == [ARN]
    child.wait(10)  # a minute's sleep, ended (and reaped by end_orphans, hence no exit status here)
    assert not list((tmp_path / RECORDS_DIR).iterdir())


def test_a_pid_reused_by_another_process_is_left_alone(tmp_path: Path) -> None:
    child = _session()
    path = record(tmp_path, ARN, _Process(child.pid))
    entry = json.loads(path.read_text())
    path.write_text(json.dumps({**entry, "createTime": entry["createTime"] - 100}))
    try:
        assert end_orphans(tmp_path, lambda: None) == []
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_a_recorded_container_is_removed_through_the_engine(tmp_path: Path) -> None:
    docker = _Docker()
    record(tmp_path, ARN, _Container("c0ffee"))
    assert end_orphans(tmp_path, lambda: docker) == [ARN]
    assert docker.removed == ["c0ffee"]


def test_without_records_nothing_is_asked_of_docker(tmp_path: Path) -> None:
    def no_docker() -> None:
        raise AssertionError("docker was asked for")

    assert end_orphans(tmp_path, no_docker) == []
