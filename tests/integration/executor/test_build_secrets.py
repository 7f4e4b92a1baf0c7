"""Build secrets never enter a job image: the Docker engine's history of every image, read after a build
the executor refused because its pip index URL carried credentials (local stack's ECR, real engine).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import docker
import pytest

from covalent_braket_plugin.executor import runtime
from covalent_braket_plugin.executor.image_builds import ImageBuilder
from covalent_braket_plugin.executor.progress import Progress
from covalent_braket_plugin.images import BuildSecretError, docker_client
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.settings import BraketExecutorSettings

SECRET = "s3cret-token-for-the-history-test"


def _histories(engine: docker.DockerClient) -> Iterator[str]:
    """What ``docker history --no-trunc`` shows of every image in the engine, image by image."""
    for image in engine.images.list(all=True):
        yield "\n".join(str(layer.get("CreatedBy", "")) for layer in image.history())


def test_the_classic_builder_keeps_build_args_in_the_history(
    docker_engine: docker.DockerClient, job_base_image: str
) -> None:
    """Why credentials must not be build arguments: the engine writes them into the history."""
    dockerfile = f"FROM {job_base_image}\nARG PIP_INDEX_URL\nRUN test -n \"$PIP_INDEX_URL\"\n"
    image, _ = docker_engine.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), buildargs={"PIP_INDEX_URL": f"https://{SECRET}@a.example"},
        network_mode="host", rm=True, forcerm=True,
    )
    try:
        assert any(SECRET in layer.get("CreatedBy", "") for layer in image.history())
    finally:
        docker_engine.images.remove(image.id, force=True)


def test_an_index_url_with_credentials_is_refused_and_reaches_no_image(
    braket_local_env: LocalStack,
    docker_engine: docker.DockerClient,
    job_base_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", f"https://alice:{SECRET}@pypi.corp.example/simple")
    settings = BraketExecutorSettings.from_options(
        region="us-east-1", base_image=job_base_image, pip_packages=["build-secret-test-package"]
    )
    lines: list[str] = []
    builder = ImageBuilder(settings.aws_session(), settings, runtime.current().images,
                           docker_client_factory=docker_client, progress=Progress.quiet(lines.append))

    with pytest.raises(BuildSecretError) as refused:
        asyncio.run(builder.ensure_image())

    assert "PIP_INDEX_URL carries credentials" in str(refused.value)
    assert SECRET not in str(refused.value) and not any(SECRET in line for line in lines)
    assert not any(SECRET in history for history in _histories(docker_engine))
