"""scripts/test starting a Docker engine, with stand-in ``docker`` and ``dockerd`` first on PATH."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]

# Answers `docker info` once the stand-in engine has written its pid file.
FAKE_DOCKER = """#!/bin/sh
[ "$1" = info ] && [ -s "$(dirname "$0")/dockerd.pid" ]
"""

FAKE_DOCKERD_THAT_RUNS = """#!/bin/sh
echo "$*" > "$(dirname "$0")/dockerd.args"
echo "API listen on /var/run/docker.sock"
echo $$ > "$(dirname "$0")/dockerd.pid"
exec sleep 600
"""

FAKE_DOCKERD_THAT_DIES = """#!/bin/sh
echo "failed to start daemon: pid file found, ensure docker is not running"
exit 1
"""


def run_script(bin_dir: Path, tmp_path: Path, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "test"), *pytest_args],
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def stand_ins(tmp_path: Path, dockerd: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("docker", FAKE_DOCKER), ("dockerd", dockerd)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    return bin_dir


def test_an_engine_that_dies_at_start_is_a_clear_error(tmp_path: Path) -> None:
    bin_dir = stand_ins(tmp_path, FAKE_DOCKERD_THAT_DIES)

    result = run_script(bin_dir, tmp_path)

    assert result.returncode == 1
    (log,) = tmp_path.glob("dockerd.*.log")
    assert f"[scripts/test] starting the Docker engine (log: {log})" in result.stderr
    assert "failed to start daemon: pid file found" in result.stderr
    assert result.stderr.rstrip().endswith(f"error: the Docker engine exited at start; its log is {log}")


def test_a_started_engine_serves_the_run_and_is_left_running(tmp_path: Path) -> None:
    bin_dir = stand_ins(tmp_path, FAKE_DOCKERD_THAT_RUNS)

    result = run_script(bin_dir, tmp_path, "--collect-only", "-q", "-p", "no:cacheprovider", __file__)

    pid = int((bin_dir / "dockerd.pid").read_text())
    try:
        assert (bin_dir / "dockerd.args").read_text().split() == [
            "--storage-driver=vfs",
            "--iptables=false",
            "--bridge=none",
        ]
        assert "2 tests collected" in result.stdout
        os.kill(pid, 0)  # still running after the script exited
    finally:
        os.kill(pid, signal.SIGTERM)
