"""What an image in ECR holds and how it starts, read from its registry over the HTTP API v2: no pull,
no engine (``covalent-braket doctor`` reads job images this way)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from covalent_braket_plugin.images.recipe import TOOLKIT_DISTRIBUTION, TOOLKIT_LABEL

# Every manifest format a registry may hold; asked for all at once so it returns what was pushed
# instead of down-converting to schema 1.
IMAGE_MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
INDEX_MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES + INDEX_MANIFEST_TYPES
JOB_PLATFORM = {"os": "linux", "architecture": "amd64"}
"""The platform Braket jobs run on, chosen from a multi-platform image."""
REGISTRY_TIMEOUT_S = 30.0
@dataclass(frozen=True)
class ImageRef:
    """One image in ECR: registry (account), region, repository and tag or digest."""

    registry_id: str
    region: str
    repository: str
    reference: str

    @property
    def uri(self) -> str:
        separator = "@" if self.reference.startswith("sha256:") else ":"
        host = f"{self.registry_id}.dkr.ecr.{self.region}.amazonaws.com"
        return f"{host}/{self.repository}{separator}{self.reference}"

    @classmethod
    def parse(cls, uri: str) -> ImageRef:
        """An ``ecr_image_uri`` (already validated by the settings) split into its parts."""
        host, path = uri.split("/", 1)
        account, _, _, region = host.split(".")[:4]
        if "@" in path:
            repository, reference = path.split("@", 1)
        else:
            repository, reference = path.rsplit(":", 1)
        return cls(account, region, repository, reference)


@dataclass(frozen=True)
class ImageConfig:
    """What an image's configuration says of how it starts and what it holds."""

    labels: dict[str, str]
    env: dict[str, str]
    history: list[str]
    """The command that made each layer, oldest first (``created_by``)."""

    def has_toolkit(self) -> bool:
        """Whether the image shows it has the training toolkit: built by this plugin, which checks it
        is there, or with ``sagemaker-training`` in the commands of its layers (Braket's base image,
        the guide's recipe for your own)."""
        return TOOLKIT_LABEL in self.labels or any(
            TOOLKIT_DISTRIBUTION in command or TOOLKIT_DISTRIBUTION.replace("-", "_") in command
            for command in self.history
        )


def image_config(ecr: Any, http: requests.Session, image: ImageRef) -> ImageConfig:
    """The configuration of ``image``, read from its registry over the HTTP API v2: no pull, no engine.

    The registry and its credentials come from ECR's GetAuthorizationToken (``proxyEndpoint`` is the
    registry's address, on AWS as on the local stack; the token is Basic credentials as ECR takes
    them). A multi-platform image is read for the platform Braket jobs run on.

    Raises:
        requests.RequestException: the registry refused or did not answer.
    """
    data = ecr.get_authorization_token(registryIds=[image.registry_id])["authorizationData"][0]
    endpoint = data["proxyEndpoint"].rstrip("/")
    auth = {"Authorization": f"Basic {data['authorizationToken']}"}

    def get(path: str, **headers: str) -> requests.Response:
        response = http.get(f"{endpoint}/v2/{image.repository}/{path}", headers={**auth, **headers},
                            timeout=REGISTRY_TIMEOUT_S)
        response.raise_for_status()
        return response

    accept = ", ".join(MANIFEST_TYPES)
    response = get(f"manifests/{image.reference}", Accept=accept)
    manifest = response.json()
    if response.headers.get("Content-Type", "").split(";")[0] in INDEX_MANIFEST_TYPES:
        entries = manifest.get("manifests") or []
        chosen = next((entry for entry in entries
                       if all((entry.get("platform") or {}).get(key) == value
                              for key, value in JOB_PLATFORM.items())), entries[0])
        manifest = get(f"manifests/{chosen['digest']}", Accept=accept).json()
    document = get(f"blobs/{manifest['config']['digest']}").json()
    config = document.get("config") or {}
    env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
    history = [str(entry.get("created_by", "")) for entry in document.get("history") or []]
    return ImageConfig(dict(config.get("Labels") or {}), env, history)
