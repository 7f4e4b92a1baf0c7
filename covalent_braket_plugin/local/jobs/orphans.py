"""What a killed server leaves behind: a record per running job program, to end it afterwards.

Job processes run in sessions of their own (so a cancel can kill the whole job) and containers
belong to the Docker engine, so neither goes with the server's process group when the server is
killed (SIGKILL, out of memory). While a job's program runs, a small JSON file in the jobs' work
dir names it: the process group with the start time of its leader (a reused pid is not the job), or
the container id. The job's thread removes the file once the program is gone; whoever finds the
server dead (``LocalStack.attach``, so ``local status`` and ``local down``) ends what is still
recorded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from covalent_braket_plugin.local.jobs.contract import Execution

logger = logging.getLogger(__name__)

RECORDS_DIR = ".running"
"""Under the jobs' work dir; the dot keeps it apart from job dirs (job names cannot start with one)."""


def record(work_dir: Path, job_arn: str, execution: Execution) -> Path:
    """Write the record of ``execution`` (a process group or a container) and return its path."""
    directory = Path(work_dir) / RECORDS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    entry: dict[str, Any] = {"jobArn": job_arn}
    if (pid := getattr(execution, "pid", None)) is not None:
        entry["pgid"] = pid
        with contextlib.suppress(psutil.Error):  # ended already: a record without a start time ends nothing
            entry["createTime"] = psutil.Process(pid).create_time()
    if (container := getattr(execution, "container_id", None)) is not None:
        entry["container"] = container
    path = directory / f"{job_arn.rsplit('/', 1)[-1]}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry))
    tmp.replace(path)
    return path


def end_orphans(work_dir: Path, docker: Callable[[], Any | None]) -> list[str]:
    """End every recorded job program still running; return the ARNs of the jobs whose programs were
    ended. Records are removed. ``docker`` gives a Docker client (None without an engine), asked for
    only when a record names a container."""
    directory = Path(work_dir) / RECORDS_DIR
    ended = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            continue
        if _end_process_group(entry) | _remove_container(entry, docker):
            ended.append(str(entry.get("jobArn")))
        path.unlink(missing_ok=True)
    return ended


def _end_process_group(entry: dict[str, Any]) -> bool:
    pgid, started = entry.get("pgid"), entry.get("createTime")
    if pgid is None or started is None:
        return False
    try:
        leader = psutil.Process(int(pgid))
        if abs(leader.create_time() - float(started)) > 0.01:
            return False  # the pid now belongs to another process
    except psutil.NoSuchProcess:
        # The leader ended but members of its group may live on; its group id cannot be reused
        # while they do, so killing the group reaches only them.
        pass
    members = [p for p in psutil.process_iter() if _in_group(p, int(pgid))]
    if not members:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(int(pgid), signal.SIGKILL)
    psutil.wait_procs(members, timeout=10)
    return True


def _in_group(process: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ProcessLookupError):
        return False


def _remove_container(entry: dict[str, Any], docker: Callable[[], Any | None]) -> bool:
    container_id = entry.get("container")
    client = docker() if container_id is not None else None
    if client is None:
        return False
    try:
        client.containers.get(container_id).remove(force=True)
    except Exception as exc:  # gone already (NotFound) or the engine refused: nothing more to do
        logger.info("job container %s: %s", container_id, exc)
        return False
    return True
