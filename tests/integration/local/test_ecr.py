"""ECR on the local stack: a real ``docker push`` to the registry that GetAuthorizationToken names,
seen through boto3's ECR client."""

from __future__ import annotations

import base64
import io
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import docker
import pytest

from covalent_braket_plugin.local.stack import LocalStack


@pytest.fixture
def ecr(braket_local_stack: LocalStack) -> Any:
    return boto3.client("ecr", **braket_local_stack.client_kwargs())


@pytest.fixture
def repository(ecr: Any) -> Iterator[str]:
    name = f"amazon-braket-test-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=name)
    yield name
    ecr.delete_repository(repositoryName=name, force=True)


def _login(ecr: Any) -> tuple[str, dict[str, str]]:
    """The registry address and docker credentials, from GetAuthorizationToken as a client gets them."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    address = data["proxyEndpoint"].removeprefix("http://").removeprefix("https://")
    return address, {"username": user, "password": password}


def push_tiny_image(engine: docker.DockerClient, ecr: Any, repository: str, tags: list[str]) -> str:
    """Import a one-file image with unique content and push it under ``tags``; returns its digest."""
    content = uuid.uuid4().bytes
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("marker")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    address, credentials = _login(ecr)
    reference = f"{address}/{repository}"
    engine.api.import_image_from_data(archive.getvalue(), repository=reference, tag=tags[0])
    digests = set()
    try:
        for tag in tags:
            engine.api.tag(f"{reference}:{tags[0]}", reference, tag)
            pushed = engine.api.push(reference, tag=tag, auth_config=credentials, stream=True, decode=True)
            for line in pushed:
                assert "error" not in line, line
                digests.update([line["aux"]["Digest"]] if "Digest" in line.get("aux", {}) else [])
    finally:
        for tag in tags:
            engine.api.remove_image(f"{reference}:{tag}", force=True)
    (digest,) = digests
    return digest


def test_authorization_token_names_a_registry_docker_can_log_in_to(
    braket_local_stack: LocalStack, ecr: Any, docker_engine: docker.DockerClient
) -> None:
    address, credentials = _login(ecr)
    assert address == braket_local_stack.registry_address
    assert credentials["username"] == "AWS"
    status = docker_engine.api.login(registry=f"http://{address}", reauth=True, **credentials)
    assert status.get("Status") == "Login Succeeded"


def test_a_pushed_image_is_visible_through_describe_images(
    ecr: Any, repository: str, docker_engine: docker.DockerClient
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    digest = push_tiny_image(docker_engine, ecr, repository, ["v1", "latest"])

    (detail,) = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "v1"}])["imageDetails"]
    assert detail["imageDigest"] == digest
    assert sorted(detail["imageTags"]) == ["latest", "v1"]
    assert detail["repositoryName"] == repository
    assert detail["imageSizeInBytes"] > 0
    assert before <= detail["imagePushedAt"] <= datetime.now(UTC) + timedelta(seconds=5)
    assert detail["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"

    ids = ecr.list_images(repositoryName=repository)["imageIds"]
    assert sorted(ids, key=lambda i: i["imageTag"]) == [
        {"imageDigest": digest, "imageTag": "latest"}, {"imageDigest": digest, "imageTag": "v1"}
    ]
    # By digest, ECR answers once per tag of the image, each imageId with its tag.
    images = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])["images"]
    assert sorted(image["imageId"]["imageTag"] for image in images) == ["latest", "v1"]
    assert all(image["imageId"]["imageDigest"] == digest for image in images)
    assert all('"layers"' in image["imageManifest"] for image in images)


def test_a_missing_tag_is_image_not_found(
    ecr: Any, repository: str, docker_engine: docker.DockerClient
) -> None:
    push_tiny_image(docker_engine, ecr, repository, ["present"])
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": "absent"}])
    answer = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "absent"}])
    assert answer["failures"][0]["failureCode"] == "ImageNotFound"


def test_images_of_a_repository_ecr_does_not_know_are_not_listed(
    ecr: Any, docker_engine: docker.DockerClient
) -> None:
    # Pushed straight to the registry, but no CreateRepository: ECR has no such repository.
    name = f"amazon-braket-unknown-{uuid.uuid4().hex[:8]}"
    push_tiny_image(docker_engine, ecr, name, ["v1"])
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "v1"}])


def test_deleting_tags_images_and_repositories_reaches_the_registry(
    braket_local_stack: LocalStack, ecr: Any, docker_engine: docker.DockerClient
) -> None:
    name = f"amazon-braket-delete-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=name)
    digest = push_tiny_image(docker_engine, ecr, name, ["keep", "drop"])

    ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "drop"}])
    (detail,) = ecr.describe_images(repositoryName=name)["imageDetails"]
    assert (detail["imageDigest"], detail["imageTags"]) == (digest, ["keep"])

    with pytest.raises(ecr.exceptions.RepositoryNotEmptyException):
        ecr.delete_repository(repositoryName=name)
    ecr.delete_repository(repositoryName=name, force=True)
    ecr.create_repository(repositoryName=name)
    assert ecr.describe_images(repositoryName=name)["imageDetails"] == []
    ecr.delete_repository(repositoryName=name)


def test_repositories_themselves_live_in_moto(ecr: Any, repository: str) -> None:
    (described,) = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    assert described["repositoryUri"] == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{repository}"
    assert ecr.describe_images(repositoryName=repository)["imageDetails"] == []

