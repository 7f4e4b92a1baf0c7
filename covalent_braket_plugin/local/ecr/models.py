"""The state behind the local stack's ECR API: repositories, the images they hold, their lifecycle.

Repositories (create, describe, policies, tags) live in moto, as every other AWS resource of the
stack does. Images do not: they are pushed with ``docker push`` to the stack's registry
(``local/registry.py``), which moto never sees. So the image operations are answered here from what
the registry really holds, and DeleteRepository is checked and completed here (a repository with
images needs ``force``, and its images go with it). ``responses.py`` speaks the HTTP/JSON protocol.

Braket's own job images live in registry id 292282985366 (``braket_images``): the image operations
answer for that registry id from the stack's stand-in, read-only, as AWS lets any account read them
and no account change them.

Repository questions are put to moto by calling its WSGI application in-process with an ECR
request (DescribeRepositories, DeleteRepository). Going through ``services.client("ecr")`` would
work too, but it would send a second HTTP request through the gateway back into this app while the
first one holds a server thread; the in-process call speaks the same wire protocol without that
round trip.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.test import EnvironBuilder, run_wsgi_app

from covalent_braket_plugin.local import braket_images
from covalent_braket_plugin.local.braket_images import BraketImages
from covalent_braket_plugin.local.gateway import WSGIApp
from covalent_braket_plugin.local.registry import LocalRegistry, Manifest

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
CONTENT_TYPE = "application/x-amz-json-1.1"
TOKEN_LIFETIME_S = 12 * 3600
DEFAULT_PAGE_SIZE = 100
_IMAGE_NOT_FOUND = ("ImageNotFound", "Requested image not found")
BRAKET_IMAGES_WAIT_S = 45.0
"""How long a question about Braket's images waits for the stack to publish them (a first build
takes minutes; botocore gives up on an answer after 60 s)."""


class EcrError(Exception):
    """An ECR error response: its ``__type`` code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Repository:
    """A repository a request names: its name, its registry id and where the registry keeps it."""

    name: str
    registry_id: str
    path: str


@dataclass
class Image:
    """One manifest in a repository with the tags that point at it."""

    manifest: Manifest
    tags: list[str] = field(default_factory=list)


class EcrBackend:
    """ECR's image operations over the registry, with moto (``repositories``) as the repository store."""

    def __init__(
        self, account_id: str, registry: LocalRegistry | None, repositories: WSGIApp,
        braket: BraketImages | None = None,
    ) -> None:
        self.account_id = account_id
        self.registry = registry
        self.repositories = repositories
        self.braket = braket
        # The registry accepts any credentials; the token is random only so that it looks like one.
        self._password = secrets.token_urlsafe(24)

    # Operations answered from the registry

    def get_authorization_token(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        registry = self._registry()
        token = base64.b64encode(f"AWS:{self._password}".encode()).decode()
        return {
            "authorizationData": [
                {
                    "authorizationToken": token,
                    "expiresAt": time.time() + TOKEN_LIFETIME_S,
                    "proxyEndpoint": f"http://{registry.address}",
                }
                for _ in params.get("registryIds") or [self.account_id]
            ]
        }

    def list_images(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        repository = self._repository(params, region)
        wanted = (params.get("filter") or {}).get("tagStatus", "ANY")
        ids: list[dict[str, str]] = []
        for image in self._images(repository.path):
            if image.tags and wanted in ("ANY", "TAGGED"):
                ids.extend({"imageDigest": image.manifest.digest, "imageTag": tag} for tag in image.tags)
            elif not image.tags and wanted in ("ANY", "UNTAGGED"):
                ids.append({"imageDigest": image.manifest.digest})
        page, token = _page(ids, params)
        return {"imageIds": page, **token}

    def describe_images(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        repository = self._repository(params, region)
        images = self._images(repository.path)
        if params.get("imageIds"):
            if params.get("maxResults") or params.get("nextToken"):
                raise EcrError(
                    "InvalidParameterException", "maxResults and nextToken cannot be used with imageIds"
                )
            chosen: dict[str, Image] = {}
            for image_id in params["imageIds"]:
                image = _find(images, image_id)
                if image is None:
                    raise EcrError(
                        "ImageNotFoundException",
                        f"The image with imageId {_describe_id(image_id)} does not exist within the "
                        f"repository with name '{repository.name}' in the registry with id "
                        f"'{repository.registry_id}'",
                    )
                chosen[image.manifest.digest] = image
            return {"imageDetails": [self._detail(repository, image) for image in chosen.values()]}
        wanted = (params.get("filter") or {}).get("tagStatus", "ANY")
        listed = [i for i in images if wanted == "ANY" or (wanted == "TAGGED") == bool(i.tags)]
        page, token = _page(listed, params)
        return {"imageDetails": [self._detail(repository, image) for image in page], **token}

    def batch_get_image(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        repository = self._repository(params, region)
        images = self._images(repository.path)
        accepted = params.get("acceptedMediaTypes")
        found: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for image_id in params.get("imageIds") or []:
            image = _find(images, image_id)
            if image is None:
                failures.append({"imageId": image_id, "failureCode": _IMAGE_NOT_FOUND[0],
                                 "failureReason": _IMAGE_NOT_FOUND[1]})
            elif accepted and image.manifest.media_type not in accepted:
                failures.append({"imageId": image_id, "failureCode": "UnsupportedImageType",
                                 "failureReason": f"the image's manifest is {image.manifest.media_type}"})
            else:
                # Asked by tag, the image comes once with that tag; asked by digest alone, once per
                # tag pointing at it (once without a tag when it has none), as ECR answers.
                tags = [image_id["imageTag"]] if "imageTag" in image_id else image.tags or [None]
                found.extend(
                    {
                        "registryId": repository.registry_id,
                        "repositoryName": repository.name,
                        "imageId": {
                            "imageDigest": image.manifest.digest,
                            **({"imageTag": tag} if tag else {}),
                        },
                        "imageManifest": image.manifest.body.decode(),
                        "imageManifestMediaType": image.manifest.media_type,
                    }
                    for tag in tags
                )
        return {"images": found, "failures": failures}

    def batch_delete_image(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        """Delete images by digest (with all their tags) or remove tags; an image loses its last tag
        only by being deleted, as in ECR."""
        repository = self._writable(self._repository(params, region), "BatchDeleteImage")
        registry = self._registry()
        deleted: list[dict[str, str]] = []
        failures: list[dict[str, Any]] = []
        for image_id in params.get("imageIds") or []:
            image = _find(self._images(repository.path), image_id)  # re-read: earlier ids may have changed it
            if image is None:
                failures.append({"imageId": image_id, "failureCode": _IMAGE_NOT_FOUND[0],
                                 "failureReason": _IMAGE_NOT_FOUND[1]})
                continue
            digest = image.manifest.digest
            if "imageDigest" in image_id or image.tags == [image_id["imageTag"]]:
                registry.delete_manifest(repository.path, digest)
                removed = image.tags if "imageDigest" in image_id else [image_id["imageTag"]]
                ids = [{"imageDigest": digest, "imageTag": tag} for tag in removed]
                deleted.extend(ids or [{"imageDigest": digest}])
            else:
                registry.untag(repository.path, image_id["imageTag"])
                deleted.append({"imageDigest": digest, "imageTag": image_id["imageTag"]})
        return {"imageIds": deleted, "failures": failures}

    def delete_repository(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        """Delete the repository in moto; refuse while the registry holds its images unless forced,
        and delete those images once moto has deleted the repository."""
        if self.registry is None:
            return self._moto_result("DeleteRepository", params, region)
        repository = self._writable(self._repository(params, region), "DeleteRepository")
        images = self._images(repository.path)
        if images and not params.get("force"):
            raise EcrError(
                "RepositoryNotEmptyException",
                f"The repository with name '{repository.name}' in registry with id "
                f"'{repository.registry_id}' cannot be deleted because it still contains images",
            )
        answer = self._moto_result("DeleteRepository", params, region)
        for image in images:
            self.registry.delete_manifest(repository.path, image.manifest.digest)
        return answer

    # Helpers

    def _registry(self) -> LocalRegistry:
        """The registry, or the error of a stack started without one.

        That stack stays without one until it is restarted, so the answer is 501 Not Implemented,
        which no AWS client retries, rather than 500, which botocore retries as a passing fault: the
        executor's ten retries made every caller wait half a minute for the same answer.
        """
        if self.registry is None:
            raise EcrError(
                "ServerException",
                "this local stack runs without an image registry (its jobs run as processes, and it "
                "found no registry program when it started); install one with `apt-get install "
                "docker-registry`, then restart the stack (`covalent-braket local down`, then "
                "`covalent-braket local up`)",
                501,
            )
        return self.registry

    def _repository(self, params: dict[str, Any], region: str) -> Repository:
        """The request's repository once it is known to exist: Braket's from the stack's stand-in,
        any other once moto confirms it."""
        self._registry()
        name = params.get("repositoryName", "")
        registry_id = params.get("registryId") or self.account_id
        if registry_id == braket_images.ACCOUNT:
            return self._braket_repository(name)
        body: dict[str, Any] = {"repositoryNames": [name], "registryId": registry_id}
        self._moto_result("DescribeRepositories", body, region)
        return Repository(name, registry_id, name)

    def _braket_repository(self, name: str) -> Repository:
        """One of Braket's repositories, once the stack has published its images."""
        if self.braket is None or braket_images.repository(name) is None:
            raise EcrError(
                "RepositoryNotFoundException",
                f"The repository with name '{name}' does not exist in the registry with id "
                f"'{braket_images.ACCOUNT}'",
            )
        reason = self.braket.wait(BRAKET_IMAGES_WAIT_S)
        if reason:
            raise EcrError("ServerException", f"the local stack has no copy of Braket's images: {reason}",
                           500)
        return Repository(name, braket_images.ACCOUNT, braket_images.registry_path(name))

    def _writable(self, repository: Repository, operation: str) -> Repository:
        """``repository``, unless it is Braket's, which no account may change."""
        if repository.registry_id == braket_images.ACCOUNT:
            raise EcrError(
                "AccessDeniedException",
                f"User is not authorized to perform: ecr:{operation} on resource: arn:aws:ecr:*:"
                f"{braket_images.ACCOUNT}:repository/{repository.name}",
            )
        return repository

    def _moto_result(self, operation: str, body: dict[str, Any], region: str) -> dict[str, Any]:
        """moto's answer to one ECR operation, its errors raised as ECR errors."""
        environ = EnvironBuilder(
            method="POST",
            path="/",
            headers={
                "Host": f"api.ecr.{region}.amazonaws.com",
                "X-Amz-Target": TARGET_PREFIX + operation,
                "Authorization": f"AWS4-HMAC-SHA256 Credential=local/20200101/{region}/ecr/aws4_request, "
                "SignedHeaders=host, Signature=local",
            },
            content_type=CONTENT_TYPE,
            data=json.dumps(body),
        ).get_environ()
        app_iter, status, _ = run_wsgi_app(self.repositories, environ)
        try:
            answer = json.loads(b"".join(app_iter) or b"{}")
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        code = int(status.split()[0])
        if code != 200:
            error = answer.get("__type", "ServerException").split("#")[-1]
            raise EcrError(error, answer.get("message", ""), code)
        return answer

    def _images(self, repository: str) -> list[Image]:
        """Every manifest of the repository with its tags, oldest push first."""
        registry = self._registry()
        images: dict[str, Image] = {}
        for tag in registry.tags(repository):
            manifest = registry.manifest(repository, tag)
            if manifest is not None:
                images.setdefault(manifest.digest, Image(manifest)).tags.append(tag)
        for digest in registry.digests(repository):
            if digest not in images and (manifest := registry.manifest(repository, digest)) is not None:
                images[digest] = Image(manifest)
        return sorted(images.values(), key=lambda i: (registry.pushed_at(repository, i.manifest.digest),
                                                      i.manifest.digest))

    def _detail(self, repository: Repository, image: Image) -> dict[str, Any]:
        registry = self._registry()
        manifest = image.manifest
        detail: dict[str, Any] = {
            "registryId": repository.registry_id,
            "repositoryName": repository.name,
            "imageDigest": manifest.digest,
            "imageSizeInBytes": self._size(manifest),
            "imagePushedAt": registry.pushed_at(manifest.repository, manifest.digest).timestamp(),
            "imageManifestMediaType": manifest.media_type,
        }
        if image.tags:
            detail["imageTags"] = image.tags
        config = manifest.document.get("config") or {}
        if config.get("mediaType"):
            detail["artifactMediaType"] = config["mediaType"]
        return detail

    def _size(self, manifest: Manifest) -> int:
        """Compressed size of the layers, as ECR counts it; an index counts the images it lists."""
        document = manifest.document
        if not manifest.is_index:
            return sum(int(layer.get("size", 0)) for layer in document.get("layers") or [])
        registry = self._registry()
        listed = document.get("manifests") or []
        children = (registry.manifest(manifest.repository, m["digest"]) for m in listed)
        return sum(self._size(child) for child in children if child is not None)


def _find(images: list[Image], image_id: dict[str, str]) -> Image | None:
    """The image an ECR imageId names (by digest, tag or both, which must then agree)."""
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if not digest and not tag:
        raise EcrError("InvalidParameterException", "an imageId needs an imageDigest or an imageTag")
    for image in images:
        if (not digest or image.manifest.digest == digest) and (not tag or tag in image.tags):
            return image
    return None


def _describe_id(image_id: dict[str, str]) -> str:
    return (f"{{imageDigest:'{image_id.get('imageDigest', 'null')}', "
            f"imageTag:'{image_id.get('imageTag', 'null')}'}}")


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of ``items`` and the nextToken (an opaque offset) when more remain."""
    size = int(params.get("maxResults") or DEFAULT_PAGE_SIZE)
    if not 1 <= size <= 1000:
        raise EcrError("InvalidParameterException", "maxResults must be between 1 and 1000")
    start = 0
    if params.get("nextToken"):
        try:
            start = int(base64.urlsafe_b64decode(params["nextToken"]).decode())
        except ValueError as exc:
            raise EcrError("InvalidParameterException", "Invalid parameter at 'nextToken'") from exc
    end = start + size
    token = {"nextToken": base64.urlsafe_b64encode(str(end).encode()).decode()} if end < len(items) else {}
    return items[start:end], token
