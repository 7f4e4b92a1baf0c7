"""Amazon Braket's own job images on the stack: the unmodified Braket SDK finds them where AWS keeps
them (account 292282985366), reads their Python from their tags, and runs jobs in them with the
docker runner, started as Braket starts them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.exceptions
import docker
import pytest
from braket.aws import AwsQuantumJob, AwsSession
from braket.jobs.image_uris import Framework, retrieve_image

from covalent_braket_plugin.images import client_python_minor
from covalent_braket_plugin.local import braket_images
from covalent_braket_plugin.local.jobs.docker_runner import JOB_LABEL
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.local.jobs.test_docker_runner import create_job, source_file  # noqa: F401 - fixture
from tests.integration.local.jobs.test_sdk import TERMINAL, wait_for_state

IMAGES_TIMEOUT_S = 900.0
"""A first build of the stand-in image on a new engine takes minutes."""


@pytest.fixture(scope="module")
def stack(
    docker_engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    with LocalStack(port=0, runner="docker", state_dir=tmp_path_factory.mktemp("braket-images")) as local:
        assert local.wait_for_braket_images(IMAGES_TIMEOUT_S) == "ready"
        yield local


def test_ecr_answers_for_braket_images_as_the_sdk_asks_for_their_python(env: LocalStack) -> None:
    session = AwsSession()  # from the environment, which ``env`` points at the stack
    base = retrieve_image(Framework.BASE, session.region)
    assert session.get_full_image_tag(base) == braket_images.full_tag(client_python_minor())
    ecr = boto3.client("ecr", **env.client_kwargs())
    for repository in braket_images.repositories():
        details = ecr.describe_images(registryId=braket_images.ACCOUNT, repositoryName=repository.name)
        (detail,) = details["imageDetails"]
        assert detail["registryId"] == braket_images.ACCOUNT
        assert detail["repositoryName"] == repository.name
        assert sorted(detail["imageTags"]) == sorted(
            ["latest", braket_images.full_tag(client_python_minor())]
        )


def test_unknown_braket_repositories_are_not_found_and_none_can_be_changed(env: LocalStack) -> None:
    ecr = boto3.client("ecr", **env.client_kwargs())
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException,
                       match="'amazon-braket-nothing' does not exist in the registry with id '292282985366'"):
        ecr.describe_images(registryId=braket_images.ACCOUNT, repositoryName="amazon-braket-nothing")
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDeniedException"):
        ecr.batch_delete_image(registryId=braket_images.ACCOUNT, repositoryName="amazon-braket-base-jobs",
                               imageIds=[{"imageTag": "latest"}])
    assert ecr.describe_images(registryId=braket_images.ACCOUNT, repositoryName="amazon-braket-base-jobs")


def test_the_engine_holds_them_under_their_aws_names(
    env: LocalStack, docker_engine: docker.DockerClient
) -> None:
    """So a build FROM Braket's base image, and the SDK's local mode, find them without a pull; and
    like Braket's image it answers to ``python``, which the SDK's local mode runs."""
    for repository in braket_images.repositories():
        for region in repository.regions:
            docker_engine.images.get(repository.uri(region))
    base = braket_images.repositories()[0].uri("us-east-1")
    command = ["python", "-c", "import braket, sagemaker_training; print('ok')"]
    output = docker_engine.containers.run(base, command, network_mode="host", remove=True)
    assert output.decode().strip() == "ok"


@pytest.mark.usefixtures("in_tmp_dir")
def test_a_job_with_the_sdks_default_image_runs_in_a_container_under_train(
    env: LocalStack, role_arn: str, source_file: Path, docker_engine: docker.DockerClient,  # noqa: F811
) -> None:
    job = create_job(source_file, role_arn, "succeed", hyperparameters={"depth": 1})
    uri = job.metadata()["algorithmSpecification"]["containerImage"]["uri"]
    assert uri == retrieve_image(Framework.BASE, env.region)

    assert wait_for_state(job, *TERMINAL) == "COMPLETED", job.metadata().get("failureReason")
    result = job.result()
    command = result["program_command"]
    assert command[command.index("braket_container.py") + 1:] == ["--depth", "1"]
    assert result["toolkit"]["SM_HP_DEPTH"] == "1"
    assert isinstance(job, AwsQuantumJob)
    assert not docker_engine.containers.list(all=True, filters={"label": f"{JOB_LABEL}={job.arn}"})


def test_a_stack_without_them_answers_as_before(tmp_path: Path) -> None:
    with LocalStack(port=0, runner="docker", braket_images=False, state_dir=tmp_path / "s") as local:
        assert local.wait_for_braket_images(0) == "off"
        ecr = boto3.client("ecr", **local.client_kwargs())
        with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
            ecr.describe_images(registryId=braket_images.ACCOUNT, repositoryName="amazon-braket-base-jobs")
