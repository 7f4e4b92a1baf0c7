"""The Docker engine's part in job images: finding an engine, what pip needs from this machine to
build, building a recipe, and asking an image which Python it runs."""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import docker
import docker.errors
import requests

from covalent_braket_plugin.images.problems import (
    BuildSecretError,
    ImageBuildError,
    ImageError,
    MissingPrerequisiteError,
)
from covalent_braket_plugin.images.recipe import CA_BUNDLE_NAME, ImageRecipe

# pip settings of this machine handed to the build, so `pip install` in it reaches the same index.
PIP_BUILD_ARGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT")
PIP_URL_BUILD_ARGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
"""The build arguments that hold URLs (several, separated by spaces), where credentials could hide."""
CA_BUNDLE_VARIABLES = ("PIP_CERT", "REQUESTS_CA_BUNDLE")
LAYER_NOT_FOUND = "layer does not exist"
"""The classic builder's known fault on a COPY whose layer the image already holds."""
ENGINE_TIMEOUT_S = 1800
_LOG_TAIL_LINES = 40
PYTHON_VERSION_COMMAND = ("python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])")
def pip_build_args(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Build arguments carrying this machine's pip settings (only those that are set).

    Build arguments stay in the image for good: ``docker history`` of the pushed image shows every
    one a RUN step used, to anyone who can pull it. Only BuildKit's secret mounts keep a secret out
    of an image, and the docker package builds with the engine's classic builder, which has none;
    so credentials in an index URL are refused here, before anything is built.

    Raises:
        BuildSecretError: an index URL carries a user name or password, naming the variable (never
            the secret) and how to pass the credentials instead.
    """
    build_args = {name: environ[name] for name in PIP_BUILD_ARGS if environ.get(name)}
    for name in PIP_URL_BUILD_ARGS:
        for url in build_args.get(name, "").split():
            parts = urlsplit(url)
            if parts.username or parts.password:
                raise BuildSecretError(
                    f"{name} carries credentials ({parts.scheme}://***@{parts.hostname}...): pip settings "
                    "reach the job image's build as build arguments, which `docker history` of the "
                    "pushed image shows to anyone who may pull it, and the Docker engine's classic "
                    "builder the executor uses has no secret mounts (BuildKit's). Remove the "
                    f"credentials from {name}, then either point it at an index that needs none from "
                    "this machine (the build runs on the host network, so an authenticating proxy on "
                    "127.0.0.1 works), or build the job image yourself with BuildKit, the credentials "
                    "as a secret (`docker buildx build --secret id=pip,src=$HOME/.config/pip/pip.conf` "
                    "and `RUN --mount=type=secret,id=pip,target=/etc/pip.conf pip install ...`), push "
                    "it to ECR and set ecr_image_uri to it."
                )
    return build_args


def pip_ca_bundle(environ: Mapping[str, str] = os.environ) -> bytes:
    """The CA bundle pip uses here (PIP_CERT, else REQUESTS_CA_BUNDLE), or nothing."""
    for name in CA_BUNDLE_VARIABLES:
        path = environ.get(name)
        if path and os.path.isfile(path):
            with open(path, "rb") as bundle:
                return bundle.read()
    return b""


def default_docker_client() -> docker.DockerClient:
    """The engine of DOCKER_HOST (or the default socket), patient enough for big layers on slow disks."""
    return docker.from_env(timeout=ENGINE_TIMEOUT_S)


def docker_client() -> docker.DockerClient:
    """The engine of DOCKER_HOST (or the default socket), known to answer.

    Raises:
        MissingPrerequisiteError: no engine answers, with how to start one.
    """
    try:
        client = default_docker_client()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise MissingPrerequisiteError(
            f"no Docker engine answers ({exc}) at DOCKER_HOST or the default socket: start one (e.g. "
            "`sudo systemctl start docker`, or Docker Desktop), or set DOCKER_HOST to one that runs"
        ) from exc
    return client


def image_python_version(image: str, client: docker.DockerClient | None = None) -> str:
    """The ``major.minor`` version of ``python3`` in ``image``, e.g. ``"3.11"``.

    A pickled electron only loads under the Python minor version that pickled it, so this is what
    decides whether an image can run this client's electrons. Runs in a throwaway container on the
    host network (the engine may have no bridge), removed after.

    Raises:
        ImageError: python3 did not run in the image or printed no version.
    """
    client = client or docker_client()
    try:
        output = client.containers.run(image, list(PYTHON_VERSION_COMMAND), network_mode="host", remove=True)
    except docker.errors.ContainerError as exc:
        stderr = exc.stderr.decode(errors="replace").strip() if exc.stderr else ""
        raise ImageError(f"python3 failed in {image} (exit {exc.exit_status}): {stderr}") from exc
    except docker.errors.DockerException as exc:
        raise ImageError(f"cannot run python3 in {image}: {exc}") from exc
    version = output.decode(errors="replace").strip()
    if not re.fullmatch(r"\d+\.\d+", version):
        raise ImageError(f"python3 in {image} printed {version!r}, not a version")
    return version


def build_context(recipe: ImageRecipe, ca_bundle: bytes) -> io.BytesIO:
    """The build context as an uncompressed tar: Dockerfile, context files and the CA bundle."""
    buffer = io.BytesIO()
    files = {"Dockerfile": recipe.dockerfile.encode(), **recipe.context, CA_BUNDLE_NAME: ca_bundle}
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_image(
    client: docker.DockerClient,
    recipe: ImageRecipe,
    tag: str,
    build_args: Mapping[str, str],
    on_line: Callable[[str], None],
) -> None:
    """Build ``recipe`` as ``tag`` in the engine, on the host network, giving each line of the build's
    output to ``on_line``.

    The engine's classic builder sometimes fails a COPY whose layer equals one already in the image
    (``failed to get layer sha256:...: layer does not exist``), as a job image built FROM another
    made of the same recipe does; built again, the steps before it come from the cache and the COPY
    goes through. So that one failure is built again, once; any other failure is the build's.

    Raises:
        ImageBuildError: the build failed; it holds the build's last lines.
    """
    try:
        _build_once(client, recipe, tag, build_args, on_line)
    except ImageBuildError as exc:
        if not any(LAYER_NOT_FOUND in line for line in exc.tail):
            raise
        on_line(f"the engine lost a layer of the build ({LAYER_NOT_FOUND}); building it again")
        _build_once(client, recipe, tag, build_args, on_line)


def _build_once(
    client: docker.DockerClient,
    recipe: ImageRecipe,
    tag: str,
    build_args: Mapping[str, str],
    on_line: Callable[[str], None],
) -> None:
    tail: deque[str] = deque(maxlen=_LOG_TAIL_LINES)
    try:
        stream = client.api.build(
            fileobj=build_context(recipe, pip_ca_bundle()),
            custom_context=True,
            tag=tag,
            buildargs=dict(build_args),
            network_mode="host",
            rm=True,
            forcerm=True,
            decode=True,
            timeout=ENGINE_TIMEOUT_S,  # a layer commit can stay silent for minutes
        )
        for chunk in stream:
            for line in str(chunk.get("stream", "")).splitlines():
                tail.append(line)
                on_line(line)
            if "error" in chunk:
                tail.append(str(chunk["error"]))
                raise ImageBuildError(tag, tail)
    except docker.errors.DockerException as exc:
        tail.append(str(exc))
        raise ImageBuildError(tag, tail) from exc
