"""Amazon Braket's own job images on the stack, under the account AWS keeps them in.

The Braket SDK names them for every job that gives no image of its own (``AwsQuantumJob.create`` and
``@hybrid_job`` with their defaults, ``retrieve_image``): ``<account>.dkr.ecr.<region>.amazonaws.com/
amazon-braket-base-jobs:latest`` and the framework images, in the repositories and regions its
``image_uri_config`` files list. No registry can be reached from here, so the stack stands one image
in for all of them, built once per Docker engine from the executor's job image recipe on the Debian
base: python3, the training toolkit Braket starts every job container with (``train``), the Braket
SDK, and Braket's container program as ``SAGEMAKER_PROGRAM``. The stack

* tags it in the local engine under every AWS name, so that a build ``FROM`` Braket's base image and
  the SDK's local mode (``LocalQuantumJob``) find it without a pull;
* publishes it in its registry under ``<account>/<repository>``, with the tags the SDK reads
  (``latest`` and a full tag naming the Python, ``<version>-cpu-py3XY-debian12``), where ECR's image
  operations for that registry id and the docker runner find it.

It stands in for the framework images without their frameworks (no PyTorch, TensorFlow or CUDA-Q),
and its Python is Debian's (3.11 on bookworm): a client of another Python is refused, as the SDK
refuses one whose Python differs from the image's.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import docker
import docker.errors

from covalent_braket_plugin.images import PYTHON_LABEL, build_image, make_recipe, pip_build_args
from covalent_braket_plugin.local.base_image import ensure_base_image

logger = logging.getLogger(__name__)

ACCOUNT = "292282985366"
"""The account of Braket's own job images."""
STATE_FILE = "braket-images.json"
"""The file in the stack's state dir that says, once it is known, whether the images were made."""
LOCAL_NAME = "covalent-braket/braket-jobs"
"""The engine's own name of the image that stands in for Braket's."""
IMAGE_VERSION = "1.0"
PYTHON_ALIAS = 'RUN command -v python >/dev/null || ln -s "$(command -v python3)" /usr/local/bin/python'
"""Braket's base image answers to ``python`` too; a Debian base has ``python3`` alone."""
OS_TAG = "debian12"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BraketRepository:
    """One of Braket's image repositories, as the SDK's ``image_uri_config`` names it."""

    name: str
    regions: tuple[str, ...]

    def uri(self, region: str, tag: str = "latest") -> str:
        return f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{self.name}:{tag}"


@cache
def repositories() -> tuple[BraketRepository, ...]:
    """Every repository the installed Braket SDK names for its built-in images."""
    found = []
    for entry in sorted(resources.files("braket.jobs").joinpath("image_uri_config").iterdir(),
                        key=lambda item: item.name):
        if not entry.name.endswith(".json"):
            continue
        config = json.loads(entry.read_text(encoding="utf-8"))
        if config.get("registry") == ACCOUNT:
            found.append(BraketRepository(config["repository"], tuple(config["supported_regions"])))
    return tuple(found)


def repository(name: str) -> BraketRepository | None:
    return next((repo for repo in repositories() if repo.name == name), None)


def registry_path(name: str) -> str:
    """Where the stack's registry keeps the repository ``name`` of Braket's account."""
    return f"{ACCOUNT}/{name}"


def full_tag(python_minor: str) -> str:
    """The tag that names the image's Python, in the form the SDK reads it from (``-py311-``)."""
    return f"{IMAGE_VERSION}-cpu-py{python_minor.replace('.', '')}-{OS_TAG}"


class BraketImages:
    """Builds the stand-in image (once per engine) and publishes it, in a thread of its own.

    Jobs that name Braket's images wait for it (``wait``) as a job instance waits for its image
    pull; ECR's answers for Braket's registry wait a bounded time.
    """

    def __init__(
        self, client: Any, registry_address: str | None, state_file: Path | None = None,
        progress: Progress = logger.info,
    ) -> None:
        self._client = client
        self._registry_address = registry_address
        self._state_file = state_file
        self._progress = progress
        self._done = threading.Event()
        self._error: str | None = None
        self._thread = threading.Thread(target=self._publish, name="braket images", daemon=True)

    def start(self) -> BraketImages:
        self._thread.start()
        return self

    @property
    def state(self) -> str:
        """``publishing``, ``ready``, or ``failed: <reason>``."""
        if not self._done.is_set():
            return "publishing"
        return f"failed: {self._error}" if self._error else "ready"

    def wait(self, timeout: float | None = None) -> str | None:
        """Wait until the images are published; None when they are, else why they are not."""
        if not self._done.wait(timeout):
            return f"Braket's job images are still being built or published (waited {timeout:.0f} s)"
        return self._error

    def _publish(self) -> None:
        try:
            image = self._ensure_image()
            self._tag_in_engine(image)
            if self._registry_address:
                self._push(image)
            self._progress(f"Braket's job images are ready ({len(repositories())} repositories)")
        except (docker.errors.DockerException, RuntimeError, OSError) as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            logger.warning("Braket's job images could not be made: %s", self._error)
        finally:
            self._done.set()
            if self._state_file is not None:
                self._state_file.write_text(json.dumps({"state": self.state}), encoding="utf-8")

    def _ensure_image(self) -> str:
        """The stand-in: the job image recipe on the Debian base, with ``python`` beside ``python3``
        as Braket's image has it (the SDK's local mode runs ``python $SAGEMAKER_PROGRAM``)."""
        base = ensure_base_image(client=self._client, progress=self._progress)
        recipe = make_recipe(base)
        # Named by everything it holds, so an engine never reuses a stand-in made another way.
        local = f"{LOCAL_NAME}:{hashlib.sha256(f'{recipe.tag}{PYTHON_ALIAS}'.encode()).hexdigest()[:24]}"
        try:
            self._client.images.get(local)
        except docker.errors.ImageNotFound:
            self._progress(f"building {local}, which stands in for Braket's job images (once per engine)")
            job_image = f"{LOCAL_NAME}-recipe:{recipe.tag}"
            build_image(self._client, recipe, job_image, pip_build_args(), on_line=self._show_step)
            self._client.images.build(
                fileobj=io.BytesIO(f"FROM {job_image}\n{PYTHON_ALIAS}\n".encode()), tag=local, rm=True,
                network_mode="host",
            )
        return local

    def _show_step(self, line: str) -> None:
        if line.startswith("Step "):
            self._progress(f"Braket's job images: {line[:100]}")

    def _tag_in_engine(self, image: str) -> None:
        for repo in repositories():
            for region in repo.regions:
                name, tag = repo.uri(region).rsplit(":", 1)
                self._client.api.tag(image, name, tag)

    def _push(self, image: str) -> None:
        python_minor = str(self._client.images.get(image).labels[PYTHON_LABEL])
        for repo in repositories():
            target = f"{self._registry_address}/{registry_path(repo.name)}"
            for tag in ("latest", full_tag(python_minor)):
                self._client.api.tag(image, target, tag)
                for chunk in self._client.api.push(target, tag=tag, stream=True, decode=True):
                    if "error" in chunk:
                        raise RuntimeError(f"pushing {target}:{tag} failed: {chunk['error']}")
            self._progress(f"published {repo.name} in the stack's registry")



def read_state(state_dir: Path) -> str:
    """What the stack of ``state_dir`` says of Braket's images: ``ready``, ``failed: ...``, or
    ``publishing`` while it has said nothing yet."""
    try:
        return str(json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))["state"])
    except (OSError, ValueError, KeyError):
        return "publishing"
