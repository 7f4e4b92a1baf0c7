"""The docker runner: a job image from the stack's registry runs as Braket runs it, through JobManager
with an in-memory JobStore; and the image reference rules it relies on."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from test_jobs_manager import BUCKET, TERMINAL, MemoryJobStore, make_job, submit

import covalent_braket_plugin.script_mode as script_mode
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.jobs.contract import JobSetupError, results_key
from covalent_braket_plugin.local.jobs.docker_runner import (
    OWNER_LABEL,
    is_braket_image,
    local_image_reference,
)
from covalent_braket_plugin.local.jobs.manager import JobManager
from covalent_braket_plugin.local.services import LocalServices
from covalent_braket_plugin.local.stack import LocalStack

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
JOB_CODE = textwrap.dedent(
    """
    import json
    import os
    from pathlib import Path


    def succeed():
        print("hello from the container")
        Path(os.environ["AMZN_BRAKET_CHECKPOINT_DIR"], "state.txt").write_text("saved")
        results = Path(os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"], "results.json")
        results.write_text(json.dumps({"cwd": os.getcwd(), "in_braket_dir": str(results)}))


    def fail():
        raise RuntimeError("container says no")
    """
)


def test_ecr_uri_maps_to_the_local_registry():
    assert local_image_reference(f"{ECR}/amazon-braket-x:v1", "127.0.0.1:5001") == (
        "127.0.0.1:5001/amazon-braket-x",
        "v1",
    )
    assert local_image_reference(f"{ECR}/team/img", "127.0.0.1:5001") == (
        "127.0.0.1:5001/team/img",
        "latest",
    )
    digest = "sha256:" + "a" * 64
    assert local_image_reference(f"{ECR}/img@{digest}", "r:1") == (f"r:1/img@{digest}", "")
    with pytest.raises(JobSetupError, match="not an ECR image"):
        local_image_reference("docker.io/library/python:3.11", "r:1")


def test_braket_images_are_recognised():
    assert is_braket_image("292282985366.dkr.ecr.us-west-2.amazonaws.com/amazon-braket-base-jobs:latest")
    assert not is_braket_image(f"{ECR}/amazon-braket-base-jobs:latest")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(port=0, runner="docker") as running:
        yield running


@pytest.fixture(scope="module")
def registry(stack: LocalStack) -> str:
    address = stack.info.get("registry")
    assert address, f"the stack started without a registry: {stack.info}"
    return address


@pytest.fixture(scope="module")
def services(stack: LocalStack) -> LocalServices:
    services = LocalServices(stack.endpoint_url)
    services.client("s3").create_bucket(Bucket=BUCKET)
    return services


def build_and_push(client: docker.DockerClient, context: Path, repository: str, dockerfile: str) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    client.images.build(path=str(context), tag=f"{repository}:v1", network_mode="host", rm=True)
    for line in client.images.push(repository, tag="v1", stream=True, decode=True):
        assert "error" not in line, line


@pytest.fixture(scope="module")
def job_images(
    docker_engine: docker.DockerClient,
    job_base_image: str,
    registry: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """Two images in the stack's registry: a script-mode job image and one without SAGEMAKER_PROGRAM."""
    context = tmp_path_factory.mktemp("job-image")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--dest",
            str(context / "wheels"),
            "boto3",
        ],
        check=True,
    )
    (context / "braket_container.py").write_text(Path(script_mode.__file__).read_text())
    build_and_push(
        docker_engine,
        context,
        f"{registry}/amazon-braket-script-mode",
        textwrap.dedent(
            f"""
        FROM {job_base_image}
        COPY wheels /tmp/wheels
        RUN python3 -m pip install --no-index --find-links /tmp/wheels boto3 && rm -rf /tmp/wheels
        COPY braket_container.py /opt/ml/code/braket_container.py
        ENV SAGEMAKER_PROGRAM=braket_container.py
        WORKDIR /opt/ml/code
        """
        ),
    )
    build_and_push(docker_engine, context, f"{registry}/amazon-braket-no-program", f"FROM {job_base_image}\n")
    return {
        "script_mode": f"{ECR}/amazon-braket-script-mode:v1",
        "no_program": f"{ECR}/amazon-braket-no-program:v1",
    }


@pytest.fixture
def manager(
    services: LocalServices, registry: str, tmp_path: Path
) -> Iterator[tuple[JobManager, MemoryJobStore]]:
    store = MemoryJobStore()
    jobs = JobManager(
        services=services,
        faults=Faults(),
        runner="docker",
        work_dir=tmp_path / "jobs",
        registry_address=registry,
    )
    jobs.bind_store(store)
    yield jobs, store
    jobs.shutdown()


def run_job(
    services: LocalServices, manager: tuple[JobManager, MemoryJobStore], image: str, entry_point: str
) -> dict[str, Any]:
    jobs, store = manager
    job = make_job(services, entry_point, files={"job_code.py": JOB_CODE})
    job["algorithmSpecification"]["containerImage"] = {"uri": image}
    submit(store, jobs, job)
    return store.wait_for(job["jobArn"], *TERMINAL)


def test_script_mode_image_runs_to_completion(services, manager, job_images, docker_engine):
    done = run_job(services, manager, job_images["script_mode"], "source_dir.job_code:succeed")

    assert done["status"] == "COMPLETED", done.get("failureReason")
    assert manager[0].runner_name == "docker"
    bucket, key = results_key(done)
    archive = services.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        results = json.loads(tar.extractfile("results.json").read())
    assert results == {
        "cwd": "/opt/ml/code/customer_code/extracted",
        "in_braket_dir": "/opt/braket/model/results.json",
    }
    checkpoint_key = f"jobs/{done['jobName']}/checkpoints/state.txt"
    assert services.client("s3").get_object(Bucket=BUCKET, Key=checkpoint_key)["Body"].read() == b"saved"
    stream = f"{done['jobName']}/{done['jobArn'].rsplit('/', 1)[1]}"
    events = services.client("logs").get_log_events(
        logGroupName="/aws/braket/jobs", logStreamName=stream, startFromHead=True
    )["events"]
    assert "hello from the container" in [event["message"] for event in events]
    assert not docker_engine.containers.list(all=True, filters={"label": OWNER_LABEL})


def test_failing_code_in_a_container_reports_its_exception(services, manager, job_images):
    done = run_job(services, manager, job_images["script_mode"], "source_dir.job_code:fail")

    assert done["status"] == "FAILED"
    assert "RuntimeError: container says no" in done["failureReason"]


def test_image_without_sagemaker_program_fails_clearly(services, manager, job_images):
    done = run_job(services, manager, job_images["no_program"], "source_dir.job_code:succeed")

    assert done["status"] == "FAILED"
    assert "SAGEMAKER_PROGRAM" in done["failureReason"]


def test_image_missing_from_the_registry_fails_clearly(services, manager, job_images):
    done = run_job(services, manager, f"{ECR}/amazon-braket-not-pushed:v9", "source_dir.job_code:succeed")

    assert done["status"] == "FAILED"
    assert "CannotPullContainerError" in done["failureReason"]
    assert "amazon-braket-not-pushed:v9" in done["failureReason"]
