"""A real job image: built by the Docker engine FROM the Debian base image, pushed to the local stack's
registry through the ECR API, found there by the next request instead of being built again."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import cloudpickle
import docker
import pytest

from covalent_braket_plugin import image
from covalent_braket_plugin.image import (
    LOCAL_REPOSITORY,
    ImageBuilder,
    PythonVersionMismatchError,
    make_recipe,
)
from covalent_braket_plugin.local.base_image import image_python_version
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.session import make_session
from covalent_braket_plugin.settings import BraketExecutorSettings

ACCOUNT = "123456789012"


class CountingFactory:
    """Hands out the test's Docker client and counts how often the builder asked for one."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.calls = 0

    def __call__(self) -> docker.DockerClient:
        self.calls += 1
        return self.client


@pytest.mark.timeout(2400)
def test_image_is_built_once_pushed_and_then_found_in_ecr(
    braket_local_env: LocalStack, job_base_image: str, docker_engine: docker.DockerClient
) -> None:
    settings = BraketExecutorSettings.from_options(base_image=job_base_image, pip_packages=["six"])
    session = make_session(settings)
    lines: list[str] = []
    factory = CountingFactory(docker_engine)
    builder = ImageBuilder(session, settings, docker_client_factory=factory, progress=lines.append)
    ImageBuilder.known_images.clear()

    async def three_electrons() -> list[str]:
        return list(await asyncio.gather(*(builder.ensure_image(["six"]) for _ in range(3))))

    uris = asyncio.run(three_electrons())

    tag = make_recipe(job_base_image, ["six"]).tag
    expected = f"{ACCOUNT}.dkr.ecr.{session.region_name}.amazonaws.com/{settings.ecr_repo_name}:{tag}"
    assert uris == [expected] * 3
    assert factory.calls == 1
    assert sum(line.startswith("building job image") for line in lines) == 1
    assert any(": pushed" in line or "already exists" in line for line in lines)

    # The registry holds it, as the ECR API reports.
    ecr: Any = boto3.client("ecr", region_name=session.region_name)
    details = ecr.describe_images(repositoryName=settings.ecr_repo_name, imageIds=[{"imageTag": tag}])
    assert details["imageDetails"][0]["imageTags"] == [tag]
    assert details["imageDetails"][0]["imageSizeInBytes"] > 0

    # The image keeps the job contract and holds the environment.
    config = docker_engine.api.inspect_image(f"{LOCAL_REPOSITORY}:{tag}")["Config"]
    assert "SAGEMAKER_PROGRAM=braket_container.py" in config["Env"]
    output = docker_engine.containers.run(
        f"{LOCAL_REPOSITORY}:{tag}",
        ["python3", "-c", "import covalent, cloudpickle, boto3, six, os;"
         "print(cloudpickle.__version__, os.path.isfile('/opt/ml/code/' + os.environ['SAGEMAKER_PROGRAM']))"],
        network_mode="host",
        remove=True,
    )
    assert output.decode().split() == [cloudpickle.__version__, "True"]

    # A new process (no memory of the push) finds the tag in ECR and builds nothing.
    ImageBuilder.known_images.clear()
    again_lines: list[str] = []
    again_factory = CountingFactory(docker_engine)
    again = ImageBuilder(make_session(settings), settings, docker_client_factory=again_factory,
                         progress=again_lines.append)
    assert asyncio.run(again.ensure_image(["six"])) == expected
    assert again_factory.calls == 0
    assert again_lines == [f"job image {expected} is in ECR already; nothing to build"]


@pytest.mark.timeout(1200)
def test_python_mismatch_stops_the_build_before_any_push(
    braket_local_env: LocalStack,
    job_base_image: str,
    docker_engine: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The base image runs Debian's Python; a client on another minor version must not get an image.
    monkeypatch.setattr(image, "client_python_minor", lambda: "3.99")
    settings = BraketExecutorSettings.from_options(base_image=job_base_image)
    builder = ImageBuilder(make_session(settings), settings, docker_client_factory=lambda: docker_engine,
                           progress=lambda line: None)
    ImageBuilder.known_images.clear()

    with pytest.raises(PythonVersionMismatchError) as raised:
        asyncio.run(builder.ensure_image([]))

    base_python = image_python_version(job_base_image, docker_engine)
    assert f"runs Python {base_python}, but this client runs Python 3.99" in str(raised.value)
    tag = make_recipe(job_base_image, []).tag
    ecr: Any = boto3.client("ecr", region_name=settings.resolve_region())
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName=settings.ecr_repo_name, imageIds=[{"imageTag": tag}])
