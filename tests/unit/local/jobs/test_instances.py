"""Jobs of several instances on the JobManager (process runner): one program per host, each with its
own resourceconfig.json and log stream; the job ends when all end and fails when one fails."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from covalent_braket_plugin.local.jobs import instances
from covalent_braket_plugin.local.jobs.contract import log_stream_name
from covalent_braket_plugin.local.jobs.logs import LOG_GROUP
from covalent_braket_plugin.local.services import LocalServices

from .test_manager import (  # noqa: F401 - fixtures
    faults,
    make_job,
    manager,
    process_is_gone,
    read_results,
    services,
    stack,
    store,
    submit,
    wait_for_file,
)

HOSTS_CODE = textwrap.dedent(
    """
    import json
    import os
    import time
    from pathlib import Path


    def host():
        hp_file = Path(os.environ["AMZN_BRAKET_HP_FILE"])
        config = json.loads((hp_file.parent / "resourceconfig.json").read_text())
        return config["current_host"], config["hosts"]


    def each_host_reports():
        current, hosts = host()
        print(f"ran on {current} of {hosts}; SM_CURRENT_HOST={os.environ['SM_CURRENT_HOST']}")
        results = Path(os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"])
        (results / f"{current}.txt").write_text(current)


    def second_host_fails(marker_dir):
        current, _ = host()
        if current == "algo-2":
            raise ValueError("algo-2 gave up")
        (Path(marker_dir) / "pid").write_text(str(os.getpid()))
        while True:
            time.sleep(0.2)
    """
)


def two_instances(local: LocalServices, entry_point: str, **fields: Any) -> dict[str, Any]:
    job = make_job(local, entry_point, {"job_code.py": HOSTS_CODE}, **fields)
    job["instanceConfig"]["instanceCount"] = 2
    return job


def streams(local: LocalServices, job: dict[str, Any]) -> dict[str, list[str]]:
    logs = local.client("logs")
    listed = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=log_stream_name(job))
    return {
        stream["logStreamName"]: [
            event["message"] for event in logs.get_log_events(
                logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
        ]
        for stream in listed["logStreams"]
    }


def test_resource_config_names_every_host_and_the_current_one() -> None:
    job = {"jobName": "j", "jobArn": "arn:aws:braket:us-east-1:1:job/u",
           "instanceConfig": {"instanceType": "ml.m5.large", "instanceCount": 3}}
    config = instances.resource_config(job, "algo-2")
    assert config["current_host"] == "algo-2"
    assert config["hosts"] == ["algo-1", "algo-2", "algo-3"]
    assert config["instance_groups"][0]["hosts"] == config["hosts"]
    assert config["current_instance_type"] == "ml.m5.large"
    assert instances.host_addresses(job) == {f"algo-{n}": "127.0.0.1" for n in (1, 2, 3)}
    assert instances.stream_name(job, "algo-3").startswith("j/u/algo-3-")
    single = {**job, "instanceConfig": {"instanceType": "ml.m5.large", "instanceCount": 1}}
    assert instances.stream_name(single, "algo-1") == "j/u"  # one instance: the job's own stream


def test_every_instance_runs_with_its_own_host_and_stream(services, store, manager):  # noqa: F811
    job = two_instances(services, "source_dir.job_code:each_host_reports")
    submit(store, manager, job)
    ended = store.wait_for(job["jobArn"], "COMPLETED", "FAILED")

    assert ended["status"] == "COMPLETED", ended.get("failureReason")
    # SageMaker packs every host's results into the one archive.
    assert read_results(services, job) == {"algo-1.txt": b"algo-1", "algo-2.txt": b"algo-2"}
    found = streams(services, job)
    assert len(found) == 2
    for host in ("algo-1", "algo-2"):
        prefix = f"{log_stream_name(job)}/{host}-"
        [(name, lines)] = [(n, lines) for n, lines in found.items() if n.startswith(prefix)]
        assert f"ran on {host} of ['algo-1', 'algo-2']; SM_CURRENT_HOST={host}" in lines, name
        assert any("Reporting training SUCCESS" in line for line in lines)


def test_one_failing_instance_fails_the_job_and_stops_the_others(
    services, store, manager, tmp_path: Path  # noqa: F811
):
    job = two_instances(services, "source_dir.job_code:second_host_fails",
                        hyperParameters={"marker_dir": str(tmp_path)})
    submit(store, manager, job)
    pid = int(wait_for_file(tmp_path / "pid"))  # algo-1 runs on, as a rank waiting for the others would
    ended = store.wait_for(job["jobArn"], "COMPLETED", "FAILED")

    assert ended["status"] == "FAILED"
    assert "ValueError: algo-2 gave up" in ended["failureReason"]
    assert process_is_gone(pid)
