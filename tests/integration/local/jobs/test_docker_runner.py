"""Hybrid Jobs in real containers: job images pushed to the stack's registry through ECR run via the
Braket SDK's CreateJob on a LocalStack with the docker runner, as they would on Amazon Braket."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
from braket.aws import AwsQuantumJob

from covalent_braket_plugin.job import script_mode
from covalent_braket_plugin.local.jobs.docker_runner import JOB_LABEL
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.local.jobs.test_sdk import (
    TERMINAL,
    wait_for_file,
    wait_for_state,
    work_dir,
)

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
JOB_SCRIPT = textwrap.dedent(
    """
    import json
    import os
    import time
    from pathlib import Path


    def save_result(data):
        # The PersistedJobData document braket.jobs.save_job_result writes (the image has no SDK).
        document = {
            "braketSchemaHeader": {"name": "braket.jobs_data.persisted_job_data", "version": "1"},
            "dataDictionary": data,
            "dataFormat": "plaintext",
        }
        Path(os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"], "results.json").write_text(json.dumps(document))


    def program_command():
        # The program (braket_container.py) runs this code in a child: its parent's command line is
        # what the training toolkit started it with.
        return Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode().split("\\0")[:-1]


    def succeed():
        print("hello from the container")
        Path(os.environ["AMZN_BRAKET_CHECKPOINT_DIR"], "state.txt").write_text("saved")
        save_result({
            "cwd": os.getcwd(),
            "results_dir": os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"],
            "hyperparameters": json.loads(Path(os.environ["AMZN_BRAKET_HP_FILE"]).read_text()),
            "program_command": program_command(),
            "toolkit": {name: os.environ.get(name)
                        for name in ("SM_CURRENT_HOST", "SM_HOSTS", "SM_HP_DEPTH")},
        })


    def fail():
        raise RuntimeError("container says no")


    def run_forever():
        Path(os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"], "pid").write_text(str(os.getpid()))
        while True:
            time.sleep(0.2)
    """
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Without Braket's own images (test_braket_images.py has them): jobs naming them run as processes.
    with LocalStack(port=0, runner="docker", braket_images=False,
                    state_dir=tmp_path_factory.mktemp("jobs-docker")) as local:
        assert local.info["runner"] == "docker", local.info
        yield local


@pytest.fixture(scope="module")
def source_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("source") / "container_job.py"
    path.write_text(JOB_SCRIPT)
    return path


def push(
    client: docker.DockerClient, env: LocalStack, context: Path, repository: str, dockerfile: str
) -> str:
    """Build an image and push it the way a user does: ECR repository, authorization token, push."""
    ecr = boto3.client("ecr", **env.client_kwargs())
    uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    auth = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)
    registry = auth["proxyEndpoint"].split("://", 1)[-1]
    client.login(username=user, password=password, registry=auth["proxyEndpoint"])
    (context / "Dockerfile").write_text(dockerfile)
    client.images.build(path=str(context), tag=f"{registry}/{repository}:v1", network_mode="host", rm=True)
    for line in client.images.push(f"{registry}/{repository}", tag="v1", stream=True, decode=True):
        assert "error" not in line, line
    return f"{uri}:v1"


@pytest.fixture(scope="module")
def images(
    docker_engine: docker.DockerClient, job_base_image: str, job_image: str, env: LocalStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """ECR URIs of the executor's job image (training toolkit and script mode), of one that names no
    SAGEMAKER_PROGRAM, and of a script-mode image without the toolkit, so without ``train``."""
    context = tmp_path_factory.mktemp("job-image")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest",
         str(context / "wheels"), "boto3"],
        check=True,
    )
    (context / "braket_container.py").write_text(Path(script_mode.__file__).read_text())
    no_toolkit_image = textwrap.dedent(
        f"""
        FROM {job_base_image}
        COPY wheels /tmp/wheels
        RUN python3 -m pip install --no-index --find-links /tmp/wheels boto3 && rm -rf /tmp/wheels
        COPY braket_container.py /opt/ml/code/braket_container.py
        ENV SAGEMAKER_PROGRAM=braket_container.py
        WORKDIR /opt/ml/code
        """
    )
    suffix = uuid.uuid4().hex[:6]
    return {
        "script_mode": push(docker_engine, env, context, f"amazon-braket-script-{suffix}",
                            f"FROM {job_image}\n"),
        "no_program": push(docker_engine, env, context, f"amazon-braket-bare-{suffix}",
                           f"FROM {job_image}\nENV SAGEMAKER_PROGRAM=\n"),
        "no_toolkit": push(docker_engine, env, context, f"amazon-braket-no-train-{suffix}", no_toolkit_image),
    }


def create_job(source_file: Path, role_arn: str, function: str, **kwargs: Any) -> AwsQuantumJob:
    return AwsQuantumJob.create(
        device=SV1,
        source_module=str(source_file),
        entry_point=f"container_job:{function}",
        job_name=f"docker-{function.replace('_', '-')}-{uuid.uuid4().hex[:8]}",
        role_arn=role_arn,
        **kwargs,
    )


def job_containers(client: docker.DockerClient, job: AwsQuantumJob) -> list[Any]:
    return client.containers.list(all=True, filters={"label": f"{JOB_LABEL}={job.arn}"})


@pytest.mark.usefixtures("in_tmp_dir")
def test_image_from_the_registry_runs_to_completion(env, role_arn, source_file, images, capsys):
    job = create_job(
        source_file, role_arn, "succeed", image_uri=images["script_mode"], hyperparameters={"depth": 3},
        wait_until_complete=True,
    )

    assert job.state() == "COMPLETED", job.metadata().get("failureReason")
    result = job.result()
    assert {key: result[key] for key in ("cwd", "results_dir", "hyperparameters")} == {
        "cwd": "/opt/ml/code/customer_code/extracted",
        "results_dir": "/opt/braket/model",
        "hyperparameters": {"depth": "3"},
    }
    # Started as Braket starts it: the training toolkit ran the program with the hyperparameters as
    # arguments, and set its variables.
    command = result["program_command"]
    assert command[command.index("braket_container.py") + 1:] == ["--depth", "3"]
    assert result["toolkit"] == {"SM_CURRENT_HOST": "algo-1", "SM_HOSTS": '["algo-1"]', "SM_HP_DEPTH": "3"}
    out = capsys.readouterr().out
    assert "hello from the container" in out
    assert "sagemaker-training-toolkit INFO     Invoking user script" in out
    assert "Reporting training SUCCESS" in out
    checkpoint_uri = job.metadata()["checkpointConfig"]["s3Uri"]
    bucket, _, prefix = checkpoint_uri.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", **env.client_kwargs())
    assert s3.get_object(Bucket=bucket, Key=f"{prefix}/state.txt")["Body"].read() == b"saved"


def test_failing_code_in_a_container_reports_its_exception(env, role_arn, source_file, images):
    job = create_job(source_file, role_arn, "fail", image_uri=images["script_mode"])

    assert wait_for_state(job, *TERMINAL) == "FAILED"
    assert "RuntimeError: container says no" in job.metadata()["failureReason"]


def test_image_without_sagemaker_program_fails_clearly(env, role_arn, source_file, images):
    job = create_job(source_file, role_arn, "succeed", image_uri=images["no_program"])

    assert wait_for_state(job, *TERMINAL) == "FAILED"
    assert "SAGEMAKER_PROGRAM" in job.metadata()["failureReason"]


def test_image_without_train_fails_naming_the_missing_executable(env, role_arn, source_file, images):
    job = create_job(source_file, role_arn, "succeed", image_uri=images["no_toolkit"])

    assert wait_for_state(job, *TERMINAL) == "FAILED"
    reason = job.metadata()["failureReason"]
    assert reason.startswith("CannotStartContainerError:")
    assert 'has no executable "train"' in reason and "sagemaker-training" in reason


def test_image_missing_from_the_registry_fails_clearly(env, role_arn, source_file, images):
    missing = images["script_mode"].rsplit(":", 1)[0] + ":not-pushed"
    job = create_job(source_file, role_arn, "succeed", image_uri=missing)

    assert wait_for_state(job, *TERMINAL) == "FAILED"
    reason = job.metadata()["failureReason"]
    assert "CannotPullContainerError" in reason and ":not-pushed" in reason


def test_cancel_removes_the_container(env, role_arn, source_file, images, docker_engine):
    job = create_job(source_file, role_arn, "run_forever", image_uri=images["script_mode"])
    wait_for_state(job, "RUNNING")
    wait_for_file(work_dir(env, job) / "model" / "pid")
    assert [c.status for c in job_containers(docker_engine, job)] == ["running"]

    job.cancel()

    assert wait_for_state(job, *TERMINAL) == "CANCELLED"
    assert job_containers(docker_engine, job) == []


@pytest.mark.usefixtures("in_tmp_dir")
def test_braket_base_image_jobs_run_without_container(env, role_arn, source_file, docker_engine):
    job = create_job(source_file, role_arn, "succeed", hyperparameters={"depth": 1})

    assert job.metadata()["algorithmSpecification"]["containerImage"]["uri"].startswith("292282985366.")
    assert wait_for_state(job, *TERMINAL) == "COMPLETED", job.metadata().get("failureReason")
    assert job.result()["hyperparameters"] == {"depth": "1"}
    assert job_containers(docker_engine, job) == []
