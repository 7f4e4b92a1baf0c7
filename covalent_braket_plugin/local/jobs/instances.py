"""A job's instances: one program per host, run and ended together, as Braket runs them.

Braket runs a job on ``instanceConfig.instanceCount`` instances through SageMaker, which names them
algo-1 ... algo-N. Each instance runs the job's container with an ``/opt/ml`` of its own, whose
``input/config/resourceconfig.json`` names the hosts and the current one (the training toolkit
exports them as ``SM_CURRENT_HOST`` and ``SM_HOSTS`` and waits until every host's name resolves),
and writes its output to a log stream of its own. The job ends when every instance has ended, and
fails when one fails: the others are stopped then. SageMaker packs the ``model/`` directories of
all instances into one results archive, and each instance syncs its checkpoints to the job's
checkpoint URI.

Here every instance gets a work dir of its own (the job's for algo-1, ``<job dir>.algo-<n>`` beside it
for the others: a job name never holds a dot) and a program from the job's runner. All share this
machine's network, so every host is this machine (``host_addresses``).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from covalent_braket_plugin.local.jobs.contract import Execution, JobLayout, Runner, log_stream_name
from covalent_braket_plugin.local.jobs.logs import LogShipper

logger = logging.getLogger(__name__)

FIRST_HOST = "algo-1"
GROUP_NAME = "homogeneousCluster"
"""SageMaker's name of the one instance group of a job whose instances are all of one type."""
NETWORK_INTERFACE = "eth0"
LOOPBACK = "127.0.0.1"


def hosts(job: Mapping[str, Any]) -> list[str]:
    """The job's hosts as SageMaker names them: algo-1 ... algo-<instanceCount>."""
    count = int((job.get("instanceConfig") or {}).get("instanceCount") or 1)
    return [f"algo-{n}" for n in range(1, count + 1)]


def resource_config(job: Mapping[str, Any], host: str) -> dict[str, Any]:
    """The content of ``resourceconfig.json`` on ``host``."""
    names = hosts(job)
    instance_type = (job.get("instanceConfig") or {}).get("instanceType", "")
    return {
        "current_host": host,
        "current_instance_type": instance_type,
        "current_group_name": GROUP_NAME,
        "hosts": names,
        "instance_groups": [
            {"instance_group_name": GROUP_NAME, "instance_type": instance_type, "hosts": names}
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def host_addresses(job: Mapping[str, Any]) -> dict[str, str]:
    """Every host's address: this machine's loopback, since the instances share its network."""
    return {host: LOOPBACK for host in hosts(job)}


def layout(job_layout: JobLayout, host: str) -> JobLayout:
    """``host``'s work dir: the job's own for the first host, one beside it for each other."""
    if host == FIRST_HOST:
        return job_layout
    return JobLayout.make(job_layout.root.with_name(f"{job_layout.root.name}.{host}"))


def write_resource_config(job: Mapping[str, Any], host_layout: JobLayout, host: str) -> None:
    host_layout.resource_config_file.write_text(json.dumps(resource_config(job, host)), encoding="utf-8")


def stream_name(job: Mapping[str, Any], host: str) -> str:
    """``host``'s log stream: the job's stream for a single instance; with several, one each under
    the job's, ``<job stream>/algo-<n>-<epoch seconds>`` as SageMaker names them, so that the SDK,
    which reads ``instanceCount`` streams by the job's prefix, finds every one."""
    if len(hosts(job)) == 1:
        return log_stream_name(job)
    return f"{log_stream_name(job)}/{host}-{int(time.time())}"


def record_name(job_arn: str, host: str) -> str:
    """What the orphan record of ``host``'s program is named by: the job's ARN for the first host,
    the ARN with ``.<host>`` for the others (a job ARN never holds a dot), so records never clash."""
    return job_arn if host == FIRST_HOST else f"{job_arn}.{host}"


@dataclass
class Instance:
    """One host's program, its work dir, its log stream and, once it ended, its exit code."""

    host: str
    layout: JobLayout
    shipper: LogShipper
    execution: Execution
    exit_code: int | None = None
    threads: list[threading.Thread] = field(default_factory=list)


class InstanceGroup:
    """The job's programs, one per host, waited for and stopped together.

    Each program's output goes to its host's stream from a thread of its own, and another thread
    waits for its end, so that the first failure is seen while the other programs still run.
    """

    def __init__(self) -> None:
        self.instances: list[Instance] = []
        self._changed = threading.Condition()
        self._first_failed: Instance | None = None

    def start(
        self, runner: Runner, job: Mapping[str, Any], host: str, host_layout: JobLayout,
        env: Mapping[str, str], logs_client: Any,
    ) -> Instance:
        """Start ``host``'s program and ship its output."""
        shipper = LogShipper(logs_client, stream_name(job, host))
        try:
            execution = runner.start(job, host_layout, env)
        except BaseException:
            shipper.close()
            raise
        instance = Instance(host, host_layout, shipper, execution)
        self.instances.append(instance)
        instance.threads = [
            threading.Thread(target=_ship_output, args=(instance,), name=f"output {host}", daemon=True),
            threading.Thread(target=self._wait_for, args=(instance,), name=f"wait {host}", daemon=True),
        ]
        for thread in instance.threads:
            thread.start()
        return instance

    def _wait_for(self, instance: Instance) -> None:
        code = instance.execution.wait(None)
        with self._changed:
            instance.exit_code = code
            if code != 0 and self._first_failed is None:
                self._first_failed = instance
            self._changed.notify_all()

    def _ended(self) -> bool:
        return self._first_failed is not None or all(i.exit_code is not None for i in self.instances)

    def wait(self, timeout: float | None) -> int | None:
        """Once every program ended, or one failed: the exit code of the first to fail, else 0;
        None when ``timeout`` seconds passed first."""
        with self._changed:
            if not self._changed.wait_for(self._ended, timeout):
                return None
            return self._first_failed.exit_code if self._first_failed else 0

    def kill(self) -> None:
        for instance in self.instances:
            instance.execution.kill()

    def drain(self, timeout: float) -> None:
        """Wait (up to ``timeout`` seconds each) for the programs' last output after ``kill``."""
        for instance in self.instances:
            for thread in instance.threads:
                thread.join(timeout)

    def reporting(self) -> Instance:
        """The instance whose end is the job's: the first that failed by itself, else the first whose
        program wrote a failure, else the first host."""
        if self._first_failed is not None:
            return self._first_failed
        return next((i for i in self.instances if i.layout.read_failure()), self.instances[0])

    def gather_outputs(self) -> None:
        """Bring every other host's results and checkpoints into the first host's work dir, whose
        are published: SageMaker archives the results of all hosts together."""
        first, *others = self.instances
        for instance in others:
            for source, target in ((instance.layout.model, first.layout.model),
                                   (instance.layout.checkpoints, first.layout.checkpoints)):
                shutil.copytree(source, target, dirs_exist_ok=True)

    def close(self) -> None:
        """Release every program (killing any still running) and send the rest of its output."""
        for instance in self.instances:
            try:
                instance.execution.close()
            finally:
                instance.shipper.close()


def _ship_output(instance: Instance) -> None:
    try:
        for line in instance.execution.lines():
            instance.shipper.write(line)
    except Exception:
        logger.exception("reading the output of %s failed", instance.host)
