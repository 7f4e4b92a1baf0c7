"""Run a script-mode job as a child process: the local stack's stand-in for Braket's job containers.

The child is ``script_mode.py`` (the same program job images carry as ``SAGEMAKER_PROGRAM``), copied
into the job's code dir as ``braket_container.py`` as an image holds it, and run by this interpreter
with the job's work dir as its ``/opt/ml`` (``SAGEMAKER_BASE_DIR``), started as
the training toolkit starts it in a container on Amazon Braket (``toolkit``): the hyperparameters as
``--name value`` arguments, the ``SM_*`` variables, the toolkit's log lines, failure file and exit
code. So a job behaves the same whether it runs here, in a container, or on Amazon Braket. It needs
no container engine, which makes it the runner of CI machines without one and of jobs that name
Braket's own images.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from covalent_braket_plugin.images import SCRIPT_MODE_PROGRAM
from covalent_braket_plugin.job import script_mode
from covalent_braket_plugin.local.jobs import toolkit
from covalent_braket_plugin.local.jobs.contract import JobError, JobLayout

SCRIPT_MODE_PATH = Path(script_mode.__file__).resolve()
JOB_NICENESS = 19
"""The niceness of job processes: the lowest priority (see ``lower_priority``)."""
_HOST_ONLY_PREFIXES = ("AWS_", "AMZN_BRAKET_", "SM_")
"""Variables of the stack's own environment a job must not inherit (real credentials, profiles)."""


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The stack's environment without its AWS settings, plus the job's variables."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(_HOST_ONLY_PREFIXES)}
    return {**inherited, **env}


def job_cpus() -> set[int]:
    """The CPUs job processes may run on: all this process may use but the first, if it has several.

    On Amazon Braket a job runs on an instance of its own and never takes CPU time from the client
    that created it; keeping one CPU free of jobs keeps that true enough here for the client (a
    Covalent server, say) to answer while a hundred jobs start. A single CPU is shared.
    """
    cpus = sorted(os.sched_getaffinity(0))
    return set(cpus[1:]) if len(cpus) > 1 else set(cpus)


def lower_priority(pid: int) -> None:
    """Give a job process (and what it starts) the lowest CPU priority, ``JOB_NICENESS``, on ``job_cpus()``.

    Without it a hundred jobs starting at once starve the client (a Covalent server, say) of CPU
    time, which real jobs, each on an instance of its own, never do. Linux's autogroup scheduling
    (on by default) shares the CPUs between sessions before it looks at niceness, and each job runs
    in a session of its own, so the niceness of the job's session group is set as well; without
    that, a hundred jobs weigh a hundred times the client however nice they are.
    """
    with contextlib.suppress(ProcessLookupError):  # a process that ended at once needs no priority
        os.setpriority(os.PRIO_PROCESS, pid, JOB_NICENESS)
        os.sched_setaffinity(pid, job_cpus())
    with contextlib.suppress(OSError):  # no autogroup scheduling here (other kernels, other systems)
        Path(f"/proc/{pid}/autogroup").write_text(str(JOB_NICENESS))


class ProcessExecution:
    """A job's script-mode process, in its own session so the whole process group can be killed.

    It plays the training toolkit's part around the program: its lines before and after the
    program's output, and on a failure its failure file (unless the program wrote one) and its exit
    code, 1. It runs at the lowest priority (``lower_priority``): on Amazon Braket a job has an
    instance of its own, while here it shares the machine's CPUs with the client that created it.
    """

    def __init__(self, command: list[str], layout: JobLayout, env: Mapping[str, str]) -> None:
        self.command = command
        self._layout = layout
        self._start_lines = toolkit.start_lines(env, command)
        self._killed = False
        self._process = subprocess.Popen(
            command, cwd=layout.code, env=child_environment(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        lower_priority(self._process.pid)

    @property
    def pid(self) -> int:
        return self._process.pid

    def lines(self) -> Iterator[str]:
        yield from self._start_lines
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
        code = self._process.wait()
        if not self._killed:  # a killed toolkit logs nothing more
            yield from toolkit.end_lines(code)

    def wait(self, timeout: float | None) -> int | None:
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if code == 0 or self._killed:
            return code
        if not self._layout.failure_file.exists():
            message = toolkit.failure_message(code, self.command)
            self._layout.failure_file.write_text(message, encoding="utf-8")
        return toolkit.FAILURE_EXIT_CODE

    def kill(self) -> None:
        """SIGKILL the process group: script mode and the user code it started."""
        if self._process.poll() is None:  # ended by this kill, not by itself
            self._killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
            os.killpg(self._process.pid, signal.SIGKILL)

    def close(self) -> None:
        self.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


class ProcessRunner:
    """Runs script-mode jobs as ``sys.executable -- braket_container.py --name value ...`` in the job's
    code dir, as the toolkit runs an image's program, with the job's work dir as its /opt/ml."""

    name = "process"

    def start(self, job: Mapping[str, Any], layout: JobLayout, env: Mapping[str, str]) -> ProcessExecution:
        if not (job.get("algorithmSpecification") or {}).get("scriptModeConfig"):
            raise JobError(
                "The process runner runs script-mode jobs only: this job has no "
                "algorithmSpecification.scriptModeConfig (run the stack with the docker runner)"
            )
        # The program where a job image has it, in the code dir, which the toolkit runs it from.
        shutil.copyfile(SCRIPT_MODE_PATH, layout.code / SCRIPT_MODE_PROGRAM)
        resources = json.loads(layout.resource_config_file.read_text(encoding="utf-8"))
        hyperparameters = json.loads(layout.hyperparameters_file.read_text(encoding="utf-8"))
        command = toolkit.command(SCRIPT_MODE_PROGRAM, hyperparameters, sys.executable)
        program_env = {
            **env,
            **toolkit.environment(job, resources, hyperparameters, layout.root, SCRIPT_MODE_PROGRAM),
            toolkit.BASE_DIR_VARIABLE: str(layout.root),
        }
        return ProcessExecution(command, layout, program_env)
