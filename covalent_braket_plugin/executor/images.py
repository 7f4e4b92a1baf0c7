"""Job images: render ``Dockerfile.template``, name the result by its content, build and push it once.

An image holds an environment only (base image, Python, covalent, cloudpickle, boto3, the Braket
SDK, the electron's pip packages, the script-mode program), never an electron, and its tag is a hash
of exactly that.
Before building, the tag is looked up in ECR; an image is built and pushed only when it is missing
there, and only once per process even when many electrons ask for it at the same time
(:class:`ImageBuilds` holds what the process knows and builds). Every Docker and AWS call runs on
the executor's worker threads so the event loop of the Covalent dispatcher never waits on them.

The module also reads what an image holds without building anything, for ``covalent-braket doctor``
and the local stack: the configuration of an image in a registry (:func:`image_config`) and the Python of
an image in a Docker engine (:func:`image_python_version`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import re
import shlex
import sys
import tarfile
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from typing import Any
from urllib.parse import urlsplit

import docker
import docker.errors
import requests

from covalent_braket_plugin.aws import AwsSession, resolve_region
from covalent_braket_plugin.executor.progress import BYTES_UNIT, Progress, ProgressTask
from covalent_braket_plugin.executor.settings import BraketExecutorSettings

TEMPLATE_NAME = "Dockerfile.template"
# The script-mode program, shipped in the package; the image runs it as SAGEMAKER_PROGRAM.
SCRIPT_MODE_MODULE_FILE = "script_mode.py"
SCRIPT_MODE_PROGRAM = "braket_container.py"
CA_BUNDLE_NAME = "pip-ca.pem"
# pip settings of this machine handed to the build, so `pip install` in it reaches the same index.
PIP_BUILD_ARGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT")
PIP_URL_BUILD_ARGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
"""The build arguments that hold URLs (several, separated by spaces), where credentials could hide."""
CA_BUNDLE_VARIABLES = ("PIP_CERT", "REQUESTS_CA_BUNDLE")
TAG_LENGTH = 24
LOCAL_REPOSITORY = "covalent-braket-job"
ENGINE_TIMEOUT_S = 1800
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_MISMATCH = re.compile(r"covalent-braket: python mismatch: image (\d+\.\d+), client (\d+\.\d+)")
_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_LOG_TAIL_LINES = 40
_BUILD_STEP = re.compile(r"^Step (\d+)/(\d+) : ")
_STATUS_WIDTH = 80
PYTHON_LABEL = "io.covalent-braket.python"
COVALENT_LABEL = "io.covalent-braket.covalent"
BRAKET_SDK_LABEL = "io.covalent-braket.braket-sdk"
"""Labels of every job image (see ``Dockerfile.template``): its Python minor, covalent and Braket SDK
versions."""
BRAKET_SDK_DISTRIBUTION = "amazon-braket-sdk"
TOOLKIT_LABEL = "io.covalent-braket.toolkit"
TOOLKIT_DISTRIBUTION = "sagemaker-training"
TOOLKIT_VERSION = "5.1.4"
"""The training toolkit a job image gets when its base has none: Amazon Braket starts every job
container as ``docker run IMAGE train``, and ``train`` is this package's command. A base that has
the toolkit (Braket's base image carries 5.1.1) keeps its own."""
TOOLKIT_WHEELS_DIR = "/tmp/covalent-braket-wheels"
"""Where the template's first stage leaves the toolkit's wheel for the job image to install."""
TOOLKIT_CHECK = 'command -v train >/dev/null && python3 -c "import sagemaker_training.cli.train"'
"""The shell check, last in the shared layer, that the image can be started as Braket starts it."""
NO_TOOLKIT_MARKER = "covalent-braket: no training toolkit:"
_NO_TOOLKIT = re.compile(re.escape(NO_TOOLKIT_MARKER) + r" (.+)")
PYTHON_VERSION_COMMAND = ("python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])")
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


class ImageError(RuntimeError):
    """An image could not be built, pushed, inspected or read."""


class MissingPrerequisiteError(ImageError):
    """This machine lacks what building or inspecting images needs (an engine, debootstrap, root)."""


class JobImageError(ImageError):
    """The job image could not be rendered, looked up, built or pushed."""


class BuildSecretError(JobImageError):
    """A pip setting handed to the build carries credentials, which the image's history would keep."""


class PythonVersionMismatchError(JobImageError):
    """The base image's python3 differs from the client's: pickled electrons would not load in it."""


@dataclass(frozen=True)
class ImageRecipe:
    """Everything that defines one job image: the rendered Dockerfile, the context files and the tag."""

    dockerfile: str
    context: Mapping[str, bytes]
    tag: str


def client_python_minor() -> str:
    """``major.minor`` of the Python running this client, e.g. ``"3.11"``."""
    return "{}.{}".format(*sys.version_info[:2])


@cache
def script_mode_source() -> bytes:
    """The script-mode program the image runs as SAGEMAKER_PROGRAM, read from the installed package."""
    return (resources.files("covalent_braket_plugin.job") / SCRIPT_MODE_MODULE_FILE).read_bytes()


@cache
def _template() -> str:
    return (resources.files("covalent_braket_plugin.job") / TEMPLATE_NAME).read_text()


def _pip_install_command(requirements: Iterable[str], wheels: str = "") -> str:
    """A shell command installing ``requirements`` (and the wheels in the directory ``wheels``, if
    any) into the image's python3.

    The CA bundle goes through PIP_CERT, not an option: pip hands its environment on to the pip it
    starts for building sdists, where options do not reach.
    """
    quoted = " ".join(shlex.quote(requirement) for requirement in requirements)
    if wheels:
        quoted = f"$(find {wheels} -name '*.whl') {quoted}"
    ca_path = f"/tmp/covalent-braket-{CA_BUNDLE_NAME}"
    return f"if [ -s {ca_path} ]; then export PIP_CERT={ca_path}; fi && python3 -m pip install {quoted}"


def render_dockerfile(
    base_image: str,
    pip_packages: Iterable[str] = (),
    python_minor: str | None = None,
    covalent_version: str | None = None,
    cloudpickle_version: str | None = None,
    braket_sdk_version: str | None = None,
) -> str:
    """The template filled in; versions default to the ones this client runs.

    covalent and cloudpickle are pinned to the client's versions because the electron is a cloudpickle
    of covalent objects: other versions may not load it. The Braket SDK is pinned to the client's
    too: a Braket job is always meant to reach Braket, and the circuits and results an electron
    exchanges with the client are SDK objects. pip leaves an SDK of that version in the base image
    alone and replaces any other. The electron's packages are sorted and deduplicated so that the
    same environment always renders the same file (and gets the same tag).
    """
    template = _template()
    packages = sorted({package.strip() for package in pip_packages if package.strip()})
    covalent_version = covalent_version or metadata.version("covalent")
    braket_sdk_version = braket_sdk_version or metadata.version(BRAKET_SDK_DISTRIBUTION)
    base = [
        f"covalent=={covalent_version}",
        f"cloudpickle=={cloudpickle_version or metadata.version('cloudpickle')}",
        "boto3",
        f"{BRAKET_SDK_DISTRIBUTION}=={braket_sdk_version}",
    ]
    values = {
        "base_image": base_image,
        "python_minor": python_minor or client_python_minor(),
        "covalent_version": covalent_version,
        "braket_sdk_version": braket_sdk_version,
        "toolkit_version": TOOLKIT_VERSION,
        "toolkit_requirement": f"{TOOLKIT_DISTRIBUTION}=={TOOLKIT_VERSION}",
        "no_toolkit_marker": NO_TOOLKIT_MARKER,
        "toolkit_check": TOOLKIT_CHECK,
        "base_install": _pip_install_command(base, wheels=TOOLKIT_WHEELS_DIR),
        "electron_install": f"RUN {_pip_install_command(packages)}" if packages else "# (no packages)",
    }
    missing = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise JobImageError(f"{TEMPLATE_NAME} has placeholders with no value: {missing}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def image_tag(rendered: str, context: Mapping[str, bytes]) -> str:
    """A content hash (sha256 prefix) of the rendered Dockerfile and the build context files.

    The pip CA bundle is not part of it: it says how this machine reaches its package index, not
    what the image holds, and would give the same environment a different tag on every machine.
    """
    digest = hashlib.sha256()
    for name, data in [("Dockerfile", rendered.encode()), *sorted(context.items())]:
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:TAG_LENGTH]


def make_recipe(base_image: str, pip_packages: Iterable[str] = ()) -> ImageRecipe:
    """The recipe of the image for ``pip_packages`` on ``base_image`` with this client's versions."""
    dockerfile = render_dockerfile(base_image, pip_packages)
    context = {SCRIPT_MODE_PROGRAM: script_mode_source()}
    return ImageRecipe(dockerfile=dockerfile, context=context, tag=image_tag(dockerfile, context))


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
            f"no Docker engine answers ({exc}); start one, e.g. "
            "`dockerd --storage-driver=vfs --iptables=false --bridge=none &` (scripts/test does)"
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


class ImageBuildError(JobImageError):
    """The engine could not build an image; ``tail`` holds the build's last lines."""

    def __init__(self, tag: str, tail: Iterable[str]) -> None:
        self.tail = list(tail)
        super().__init__(f"building job image {tag} failed:\n" + "\n".join(self.tail))


def build_image(
    client: docker.DockerClient,
    recipe: ImageRecipe,
    tag: str,
    build_args: Mapping[str, str],
    on_line: Callable[[str], None],
) -> None:
    """Build ``recipe`` as ``tag`` in the engine, on the host network, giving each line of the build's
    output to ``on_line``.

    Raises:
        ImageBuildError: the build failed; it holds the build's last lines.
    """
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


class ImageBuilds:
    """What one process knows of job images, shared by every :class:`ImageBuilder` in it.

    Covalent makes one executor per electron, so sharing happens here: the images known to be in
    ECR, one lookup-and-build per image at a time, and the worker threads that run them (the
    executor's own pool: see ``executor.runtime``).
    """

    def __init__(self, pool: Executor) -> None:
        self.pool = pool
        # Images known to be in ECR by key (profile, credentials, endpoint, region, repository:tag).
        self.known: dict[str, str] = {}
        self._thread_locks: dict[str, threading.Lock] = {}
        self._in_flight: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Future[str]]
        ] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    def thread_lock(self, key: str) -> threading.Lock:
        """The lock that lets one thread at a time look up and build the image ``key``."""
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def shared(self, key: str, ensure: Callable[[], str]) -> asyncio.Future[str]:
        """The in-flight ``ensure`` of ``key`` on the running event loop, started on the pool if none.

        Every coroutine asking for the same image awaits this one future, and shares its failure
        too (N electrons with a broken requirement make one failed build, not N). Forgotten once
        done, so a later request after a failure tries again. A future never crosses event loops;
        across loops and threads, :meth:`thread_lock` dedupes.
        """
        loop = asyncio.get_running_loop()
        with self._guard:
            in_flight = self._in_flight.setdefault(loop, {})
            future = in_flight.get(key)
            if future is None:
                future = in_flight[key] = asyncio.ensure_future(loop.run_in_executor(self.pool, ensure))
                future.add_done_callback(lambda _: in_flight.pop(key, None))
        return future


class ImageBuilder:
    """Makes sure the job image of an environment is in ECR, building and pushing it only if not.

    ``builds`` is the process's :class:`ImageBuilds`, which the builder consults and runs its work
    on. ``progress`` shows the build (a step counter with the current Dockerfile step) and the push
    (bytes per layer): bars on a terminal, one line per step and layer in a log. A plain function
    taking a line is accepted as ``Progress.quiet(function)``. Default: a display on stderr. It is
    called from worker threads. ``docker_client_factory`` is called only when an image must be
    built, so a client whose images are all in ECR needs no Docker engine.
    """

    def __init__(
        self,
        aws: AwsSession,
        settings: BraketExecutorSettings,
        builds: ImageBuilds,
        docker_client_factory: Callable[[], docker.DockerClient] = default_docker_client,
        progress: Progress | Callable[[str], None] | None = None,
    ) -> None:
        self._aws = aws
        self._settings = settings
        self._builds = builds
        self._docker_client_factory = docker_client_factory
        if progress is None:
            progress = Progress.for_stream()
        self._progress = progress if isinstance(progress, Progress) else Progress.quiet(progress)

    async def ensure_image(self, pip_packages: Iterable[str] = ()) -> str:
        """The job's containerImage uri, ``<repositoryUri>:<tag>``, once that image is in ECR.

        ``pip_packages`` (the electron's) are added to the settings' ``pip_packages``. With
        ``ecr_image_uri`` set, that image is returned as is and nothing is built.

        Raises:
            PythonVersionMismatchError: the base image's python3 is not the client's minor version.
            JobImageError: the build or the push failed (with the tail of its output).
        """
        if self._settings.ecr_image_uri:
            return self._settings.ecr_image_uri
        packages = sorted({*self._settings.pip_packages, *pip_packages})
        # Rendering is string work on two small files read once per process: fine on the event loop,
        # and it lets every request for one image join the same build before anything is awaited.
        recipe = make_recipe(self._settings.resolve_base_image(self._region()), packages)
        key = self._key(recipe.tag)
        known = self._builds.known.get(key)
        if known:
            return known
        # Shielded: a cancelled electron must not cancel the build the others wait for.
        return await asyncio.shield(self._builds.shared(key, lambda: self._ensure(key, recipe)))

    # --- worker-thread side -------------------------------------------------------------------------
    def _ecr(self) -> Any:
        return self._aws.client("ecr")

    def _region(self) -> str:
        return self._aws.region or resolve_region(self._settings)

    def _key(self, tag: str) -> str:
        """Names one image process-wide: same account (profile, credentials), endpoint, region,
        repository and tag. The endpoint is read as boto3 reads it from the environment."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL_ECR") or os.environ.get("AWS_ENDPOINT_URL") or "aws"
        settings = self._settings
        return "|".join((settings.profile, settings.credentials, endpoint, self._region(),
                         f"{settings.ecr_repo_name}:{tag}"))

    def _ensure(self, key: str, recipe: ImageRecipe) -> str:
        """Look the tag up in ECR; build and push when it is not there. Runs in a worker thread."""
        with self._builds.thread_lock(key):
            known = self._builds.known.get(key)
            if known:
                return known
            repository_uri = self._repository_uri()
            uri = f"{repository_uri}:{recipe.tag}"
            if self._in_ecr(recipe.tag):
                self._progress.note(f"job image {uri} is in ECR already; nothing to build")
            else:
                build_args = pip_build_args()  # refuses credentials before the engine is asked
                client = self._docker_client_factory()
                local = self._build(client, recipe, build_args)
                self._push(client, local, recipe.tag)
            self._builds.known[key] = uri
            return uri

    def _repository_uri(self) -> str:
        """The repository's URI, creating the repository when it does not exist yet."""
        ecr = self._ecr()
        name = self._settings.ecr_repo_name
        try:
            return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
        except ecr.exceptions.RepositoryNotFoundException:
            self._progress.note(f"creating the ECR repository {name}")
        try:
            return ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
        except ecr.exceptions.RepositoryAlreadyExistsException:  # created meanwhile by another client
            return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]

    def _in_ecr(self, tag: str) -> bool:
        ecr = self._ecr()
        try:
            ecr.describe_images(repositoryName=self._settings.ecr_repo_name, imageIds=[{"imageTag": tag}])
        except ecr.exceptions.ImageNotFoundException:
            return False
        return True

    def _registry_auth(self, registry_ids: list[str] | None = None) -> tuple[str, str, str]:
        """(registry host, user name, password) from ECR's GetAuthorizationToken.

        The host comes from the answer's proxyEndpoint: on AWS it is the repository's own host, on
        the local stack the address of its registry (http://127.0.0.1:PORT).
        """
        kwargs = {"registryIds": registry_ids} if registry_ids else {}
        data = self._ecr().get_authorization_token(**kwargs)["authorizationData"][0]
        user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
        host = data["proxyEndpoint"].split("://", 1)[-1].rstrip("/")
        return host, user, password

    def _build(self, client: docker.DockerClient, recipe: ImageRecipe, build_args: dict[str, str]) -> str:
        """Build the image under a local name and return that name."""
        local = f"{LOCAL_REPOSITORY}:{recipe.tag}"
        self._login_for_base_image(client, recipe.dockerfile)
        with self._progress.task(f"building job image {recipe.tag}", unit="steps") as task:
            self._run_build(client, recipe, local, build_args, task)
        return local

    def _run_build(
        self,
        client: docker.DockerClient,
        recipe: ImageRecipe,
        local: str,
        build_args: dict[str, str],
        task: ProgressTask,
    ) -> None:
        """Run the build, showing it in ``task`` (step k of N); its last lines go into the error."""

        def show(line: str) -> None:
            step = _BUILD_STEP.match(line)
            if step:
                # Step k starts: k - 1 are done.
                task.update(completed=int(step[1]) - 1, total=int(step[2]), status=line[:_STATUS_WIDTH])
            elif line.startswith(("Successfully installed", "ERROR")):
                self._progress.note(f"build {recipe.tag}: {line[:200]}")

        try:
            build_image(client, recipe, local, build_args, show)
        except ImageBuildError as exc:
            raise self._build_error(recipe.tag, exc.tail) from exc
        if task.total is not None:
            task.update(completed=task.total, status="")

    def _build_error(self, tag: str, tail: Iterable[str]) -> JobImageError:
        output = "\n".join(tail)
        mismatch = _MISMATCH.search(output)
        if mismatch:
            image_python, client_python = mismatch.groups()
            return PythonVersionMismatchError(
                f"The job image's base ({self._settings.base_image or 'the Braket base jobs image'}) runs "
                f"Python {image_python}, but this client runs Python {client_python}: an electron pickled "
                f"here would not load there. Set base_image to an image whose python3 is {client_python}, "
                f"or run Covalent under Python {image_python}."
            )
        no_toolkit = _NO_TOOLKIT.search(output)
        if no_toolkit:
            return JobImageError(
                f"The job image's base ({self._settings.base_image}) cannot get the training toolkit "
                f"that Amazon Braket starts every job with (`train`, from {TOOLKIT_DISTRIBUTION}): "
                f"{no_toolkit.group(1)}. Set base_image to an image that has {TOOLKIT_DISTRIBUTION} "
                "installed, or one with gcc and Python's headers (or apt-get to install them), so that "
                "it can be built there."
            )
        return JobImageError(f"building job image {tag} failed:\n{output}")

    def _login_for_base_image(self, client: docker.DockerClient, dockerfile: str) -> None:
        """Log the engine in to an ECR base image's registry (Braket's base jobs image lives in ECR)."""
        base = next(line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM "))
        host = base.split("/", 1)[0]
        match = _ECR_HOST.match(host)
        if not match:
            return
        try:
            client.images.get(base)
            return
        except docker.errors.ImageNotFound:
            pass
        _, user, password = self._registry_auth([match.group("account")])
        client.login(username=user, password=password, registry=f"https://{host}")

    def _push(self, client: docker.DockerClient, local: str, tag: str) -> None:
        host, user, password = self._registry_auth()
        target = f"{host}/{self._settings.ecr_repo_name}"
        client.api.tag(local, target, tag)
        auth = {"username": user, "password": password}
        with self._progress.task(f"pushing job image {tag} to {target}", unit="layers") as task:
            try:
                stream = client.api.push(target, tag=tag, stream=True, decode=True, auth_config=auth)
                self._follow_push(stream, f"{target}:{tag}", task)
            except docker.errors.DockerException as exc:
                raise JobImageError(f"pushing job image {target}:{tag} failed: {exc}") from exc

    def _follow_push(self, stream: Iterable[dict[str, Any]], image: str, task: ProgressTask) -> None:
        """Show the engine's push stream: a byte count per layer while it uploads, a line per layer
        that is done or already in the registry; ``task`` counts the finished layers."""
        tag = image.rsplit(":", 1)[1]
        with ExitStack() as open_layers:
            layers: dict[str, tuple[ProgressTask, ExitStack]] = {}
            for chunk in stream:
                if "error" in chunk:
                    raise JobImageError(f"pushing job image {image} failed: {chunk['error']}")
                status, layer = chunk.get("status", ""), chunk.get("id", "?")
                detail = chunk.get("progressDetail") or {}
                if status == "Pushing" and "current" in detail:
                    if layer not in layers:
                        # Each layer ends on its own when pushed; one still open when the push fails
                        # ends as failed with the outer stack.
                        own = ExitStack()
                        layer_task = own.enter_context(
                            self._progress.task(f"push {tag}: layer {layer}", unit=BYTES_UNIT)
                        )
                        open_layers.push(own.__exit__)
                        layers[layer] = (layer_task, own)
                    layers[layer][0].update(completed=detail["current"], total=detail.get("total"))
                elif status in ("Pushed", "Layer already exists"):
                    if layer in layers:
                        layer_task, own = layers.pop(layer)
                        layer_task.update(completed=layer_task.total or layer_task.completed)
                        own.close()
                    else:
                        self._progress.note(f"push {tag}: layer {layer}: {status.lower()}")
                    task.advance(1)
                elif chunk.get("aux", {}).get("Digest"):
                    self._progress.note(f"push {tag}: digest {chunk['aux']['Digest']}")
