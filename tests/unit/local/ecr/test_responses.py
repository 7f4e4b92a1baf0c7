"""The ECR image API's translation of registry contents, driven through boto3's own ECR client.

The registry and moto are stand-ins here; tests/integration/local/test_ecr.py pushes real images.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from covalent_braket_plugin.aws import CLIENT_CONFIG
from covalent_braket_plugin.local.credentials import StackCredentials
from covalent_braket_plugin.local.ecr.responses import EcrApp
from covalent_braket_plugin.local.registry import Manifest
from covalent_braket_plugin.local.services import LocalServices

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
REPO = "amazon-braket-a"

SERVICES = LocalServices("http://local.test", StackCredentials.generate())


def _image_manifest(layer_sizes: list[int]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_V2,
            "config": {"mediaType": CONFIG_TYPE, "size": 100, "digest": "sha256:" + "c" * 64},
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": size,
                    "digest": "sha256:" + f"{i}" * 64,
                }
                for i, size in enumerate(layer_sizes)
            ],
        }
    ).encode()


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class StubRegistry:
    """A registry holding fixed manifests: repository -> {digest: (media type, body, pushed at)}."""

    address = "127.0.0.1:5999"

    def __init__(self) -> None:
        self.manifests: dict[str, dict[str, tuple[str, bytes, datetime]]] = {}
        self.tag_map: dict[str, dict[str, str]] = {}

    def add(self, repository: str, body: bytes, media_type: str, tags: list[str], pushed: int) -> str:
        digest = _digest(body)
        moment = datetime.fromtimestamp(1_700_000_000 + pushed, tz=UTC)
        self.manifests.setdefault(repository, {})[digest] = (media_type, body, moment)
        for tag in tags:
            self.tag_map.setdefault(repository, {})[tag] = digest
        return digest

    def tags(self, repository: str) -> list[str]:
        return sorted(self.tag_map.get(repository, {}))

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        digest = self.tag_map.get(repository, {}).get(reference, reference)
        if digest not in self.manifests.get(repository, {}):
            return None
        media_type, body, _ = self.manifests[repository][digest]
        return Manifest(repository=repository, digest=digest, media_type=media_type, body=body)

    def delete_manifest(self, repository: str, digest: str) -> bool:
        tags = self.tag_map.get(repository, {})
        for tag in [t for t, d in tags.items() if d == digest]:
            del tags[tag]
        return self.manifests.get(repository, {}).pop(digest, None) is not None

    def untag(self, repository: str, tag: str) -> None:
        self.tag_map.get(repository, {}).pop(tag, None)

    def digests(self, repository: str) -> list[str]:
        return sorted(self.manifests.get(repository, {}))

    def pushed_at(self, repository: str, digest: str) -> datetime:
        return self.manifests[repository][digest][2]


def stub_moto(repositories: set[str]) -> Callable[..., Iterable[bytes]]:
    """moto's ECR as far as EcrApp uses it: DescribeRepositories, and a marker for anything else."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        operation = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        if operation == "DescribeRepositories":
            (name,) = request.get_json(force=True)["repositoryNames"]
            if name in repositories:
                body, status = {"repositories": [{"repositoryName": name}]}, 200
            else:
                body, status = (
                    {
                        "__type": "RepositoryNotFoundException",
                        "message": f"The repository with name '{name}' does not exist",
                    },
                    400,
                )
        else:
            body, status = {"repository": {"repositoryName": f"moto answered {operation}"}}, 200
        return Response(json.dumps(body), status=status, content_type="application/x-amz-json-1.1")(
            environ, start_response
        )

    return app


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._data


NO_RETRIES = Config(retries={"max_attempts": 1})


def ecr_client(app: EcrApp, config: Config = NO_RETRIES) -> Any:
    """boto3's ECR client whose requests are served by ``app`` in-process instead of over HTTP."""
    client = boto3.client(
        "ecr",
        region_name="us-east-1",
        endpoint_url="http://local.test",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )
    server = Client(app)

    def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        answer = server.open(
            urlsplit(request.url).path or "/", method=request.method, headers=headers, data=request.body
        )
        return AWSResponse(request.url, answer.status_code, dict(answer.headers), _Raw(answer.get_data()))

    client.meta.events.register("before-send", send)
    return client


@pytest.fixture
def registry() -> StubRegistry:
    return StubRegistry()


@pytest.fixture
def ecr(registry: StubRegistry) -> Any:
    app = EcrApp(SERVICES, registry, fallback=stub_moto({REPO, "empty"}))
    return ecr_client(app)


def test_authorization_token_points_docker_at_the_registry(ecr: Any) -> None:
    data = ecr.get_authorization_token()["authorizationData"]
    assert len(data) == 1
    assert data[0]["proxyEndpoint"] == "http://127.0.0.1:5999"
    user, _, password = base64.b64decode(data[0]["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password
    assert data[0]["expiresAt"] > datetime.now(UTC)


def test_describe_images_by_tag_reports_what_the_registry_holds(ecr: Any, registry: StubRegistry) -> None:
    digest = registry.add(REPO, _image_manifest([1000, 234]), DOCKER_V2, ["v1", "latest"], pushed=5)
    (detail,) = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "v1"}])["imageDetails"]
    assert detail["imageDigest"] == digest
    assert detail["imageTags"] == ["latest", "v1"]
    assert detail["imageSizeInBytes"] == 1234
    assert detail["imagePushedAt"] == datetime.fromtimestamp(1_700_000_005, tz=UTC)
    assert detail["imageManifestMediaType"] == DOCKER_V2
    assert detail["artifactMediaType"] == CONFIG_TYPE
    assert detail["registryId"] == "123456789012"


def test_describe_images_of_a_missing_tag_is_image_not_found(ecr: Any, registry: StubRegistry) -> None:
    registry.add(REPO, _image_manifest([1]), DOCKER_V2, ["v1"], pushed=1)
    with pytest.raises(ecr.exceptions.ImageNotFoundException, match="imageTag:'v2'"):
        ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "v2"}])


def test_digest_and_tag_must_name_the_same_image(ecr: Any, registry: StubRegistry) -> None:
    first = registry.add(REPO, _image_manifest([1]), DOCKER_V2, ["v1"], pushed=1)
    registry.add(REPO, _image_manifest([2]), DOCKER_V2, ["v2"], pushed=2)
    found = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": first, "imageTag": "v1"}])[
        "imageDetails"
    ]
    assert [d["imageDigest"] for d in found] == [first]
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": first, "imageTag": "v2"}])


def test_unknown_repository_is_repository_not_found(ecr: Any) -> None:
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_images(repositoryName="nowhere")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.list_images(repositoryName="nowhere")


def test_a_repository_moto_knows_but_nobody_pushed_to_is_empty(ecr: Any) -> None:
    assert ecr.describe_images(repositoryName="empty")["imageDetails"] == []
    assert ecr.list_images(repositoryName="empty")["imageIds"] == []


def test_list_images_gives_one_id_per_tag_and_filters_by_tag_status(ecr: Any, registry: StubRegistry) -> None:
    tagged = registry.add(REPO, _image_manifest([1]), DOCKER_V2, ["a", "b"], pushed=1)
    untagged = registry.add(REPO, _image_manifest([2]), DOCKER_V2, [], pushed=2)
    every = ecr.list_images(repositoryName=REPO)["imageIds"]
    assert every == [
        {"imageDigest": tagged, "imageTag": "a"},
        {"imageDigest": tagged, "imageTag": "b"},
        {"imageDigest": untagged},
    ]
    only_untagged = ecr.list_images(repositoryName=REPO, filter={"tagStatus": "UNTAGGED"})
    assert only_untagged["imageIds"] == [{"imageDigest": untagged}]
    described = ecr.describe_images(repositoryName=REPO, filter={"tagStatus": "TAGGED"})
    assert [d["imageDigest"] for d in described["imageDetails"]] == [tagged]
    assert (
        "imageTags"
        not in ecr.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": untagged}])["imageDetails"][
            0
        ]
    )


def test_paginators_walk_every_page(ecr: Any, registry: StubRegistry) -> None:
    digests = [registry.add(REPO, _image_manifest([n]), DOCKER_V2, [f"t{n}"], pushed=n) for n in range(1, 8)]
    pages = list(
        ecr.get_paginator("describe_images").paginate(repositoryName=REPO, PaginationConfig={"PageSize": 3})
    )
    assert [len(p["imageDetails"]) for p in pages] == [3, 3, 1]
    assert [d["imageDigest"] for p in pages for d in p["imageDetails"]] == digests  # oldest push first
    ids = [
        i
        for p in ecr.get_paginator("list_images").paginate(
            repositoryName=REPO, PaginationConfig={"PageSize": 2}
        )
        for i in p["imageIds"]
    ]
    assert len(ids) == 7


def test_batch_get_image_returns_manifests_and_failures(ecr: Any, registry: StubRegistry) -> None:
    body = _image_manifest([10])
    digest = registry.add(REPO, body, DOCKER_V2, ["v1"], pushed=1)
    answer = ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": "v1"}, {"imageTag": "gone"}])
    (image,) = answer["images"]
    assert image["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert image["imageManifest"].encode() == body
    assert image["imageManifestMediaType"] == DOCKER_V2
    assert answer["failures"] == [
        {
            "imageId": {"imageTag": "gone"},
            "failureCode": "ImageNotFound",
            "failureReason": "Requested image not found",
        }
    ]
    refused = ecr.batch_get_image(
        repositoryName=REPO,
        imageIds=[{"imageTag": "v1"}],
        acceptedMediaTypes=["application/vnd.oci.image.manifest.v1+json"],
    )
    assert refused["images"] == [] and refused["failures"][0]["failureCode"] == "UnsupportedImageType"


def test_an_index_weighs_what_its_images_weigh(ecr: Any, registry: StubRegistry) -> None:
    amd = registry.add(REPO, _image_manifest([100, 20]), DOCKER_V2, [], pushed=1)
    arm = registry.add(REPO, _image_manifest([300]), DOCKER_V2, [], pushed=2)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": DOCKER_V2, "digest": amd, "size": 1},
                {"mediaType": DOCKER_V2, "digest": arm, "size": 1},
            ],
        }
    ).encode()
    registry.add(REPO, index, OCI_INDEX, ["multi"], pushed=3)
    (detail,) = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "multi"}])["imageDetails"]
    assert detail["imageSizeInBytes"] == 420
    assert "artifactMediaType" not in detail


def test_repository_operations_go_to_moto_unchanged(ecr: Any) -> None:
    answer = ecr.create_repository(repositoryName="amazon-braket-new")
    assert answer["repository"]["repositoryName"] == "moto answered CreateRepository"


def test_without_a_registry_image_calls_say_how_to_get_one() -> None:
    app = EcrApp(SERVICES, None, fallback=stub_moto({REPO}))
    ecr = ecr_client(app)
    for call in (ecr.get_authorization_token, lambda: ecr.describe_images(repositoryName=REPO)):
        with pytest.raises(ecr.exceptions.ServerException, match="apt-get install docker-registry"):
            call()


def test_without_a_registry_the_answer_is_one_no_client_retries() -> None:
    """The stack stays without a registry until it restarts: an answer botocore took for a passing
    fault made the executor's ten retries, and the doctor's, wait half a minute for the same answer."""
    ecr = ecr_client(EcrApp(SERVICES, None, fallback=stub_moto({REPO})), config=CLIENT_CONFIG)
    with pytest.raises(ecr.exceptions.ServerException, match="restart the stack") as refused:
        ecr.describe_images(repositoryName=REPO)
    metadata = refused.value.response["ResponseMetadata"]
    assert (metadata["HTTPStatusCode"], metadata["RetryAttempts"]) == (501, 0)


def test_deleting_one_of_several_tags_keeps_the_image(ecr: Any, registry: StubRegistry) -> None:
    digest = registry.add(REPO, _image_manifest([1]), DOCKER_V2, ["a", "b"], pushed=1)
    answer = ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": "a"}])
    assert answer["imageIds"] == [{"imageDigest": digest, "imageTag": "a"}]
    assert registry.tags(REPO) == ["b"]
    assert registry.digests(REPO) == [digest]


def test_deleting_the_last_tag_or_the_digest_deletes_the_image(ecr: Any, registry: StubRegistry) -> None:
    first = registry.add(REPO, _image_manifest([1]), DOCKER_V2, ["only"], pushed=1)
    second = registry.add(REPO, _image_manifest([2]), DOCKER_V2, ["x", "y"], pushed=2)
    answer = ecr.batch_delete_image(
        repositoryName=REPO, imageIds=[{"imageTag": "only"}, {"imageDigest": second}, {"imageTag": "gone"}]
    )
    assert answer["imageIds"] == [
        {"imageDigest": first, "imageTag": "only"},
        {"imageDigest": second, "imageTag": "x"},
        {"imageDigest": second, "imageTag": "y"},
    ]
    assert [f["imageId"] for f in answer["failures"]] == [{"imageTag": "gone"}]
    assert registry.digests(REPO) == []


def test_a_repository_with_images_is_deleted_only_by_force(ecr: Any, registry: StubRegistry) -> None:
    registry.add(REPO, _image_manifest([1]), DOCKER_V2, ["v1"], pushed=1)
    with pytest.raises(ecr.exceptions.RepositoryNotEmptyException):
        ecr.delete_repository(repositoryName=REPO)
    assert registry.digests(REPO)
    answer = ecr.delete_repository(repositoryName=REPO, force=True)
    assert answer["repository"]["repositoryName"] == "moto answered DeleteRepository"
    assert registry.digests(REPO) == []


def test_a_failing_registry_is_a_server_exception(registry: StubRegistry) -> None:
    def broken(repository: str) -> list[str]:
        raise requests.ConnectionError("connection refused")

    registry.tags = broken  # type: ignore[method-assign]
    ecr = ecr_client(EcrApp(SERVICES, registry, fallback=stub_moto({REPO})))
    with pytest.raises(ecr.exceptions.ServerException, match="registry failed: connection refused"):
        ecr.list_images(repositoryName=REPO)
