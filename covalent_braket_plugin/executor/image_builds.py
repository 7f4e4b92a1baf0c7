"""The executor's job images: built and pushed to ECR once per environment and process.

Before building, the tag is looked up in ECR; an image is built and pushed only when it is missing
there, and only once per process even when many electrons ask for it at the same time
(:class:`ImageBuilds` holds what the process knows and builds). Every Docker and AWS call runs on
the executor's worker threads so the event loop of the Covalent dispatcher never waits on them. It
lives with the executor, not with the images package, because it is the executor's: it shows its
work in the electron's progress display and runs on the executor's runtime pool.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from contextlib import ExitStack
from typing import Any

import docker
import docker.errors

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.executor.progress import BYTES_UNIT, Progress, ProgressTask
from covalent_braket_plugin.images.engine import build_image, default_docker_client, pip_build_args
from covalent_braket_plugin.images.problems import ImageBuildError, JobImageError, PythonVersionMismatchError
from covalent_braket_plugin.images.recipe import (
    NO_TOOLKIT_MARKER,
    TOOLKIT_DISTRIBUTION,
    ImageRecipe,
    make_recipe,
)
from covalent_braket_plugin.settings import BraketExecutorSettings

LOCAL_REPOSITORY = "covalent-braket-job"
_MISMATCH = re.compile(r"covalent-braket: python mismatch: image (\d+\.\d+), client (\d+\.\d+)")
_NO_TOOLKIT = re.compile("^" + re.escape(NO_TOOLKIT_MARKER) + r" (.+)$", re.MULTILINE)
"""The toolkit stage's own message, at the start of a line: the build's echo of the step's command
holds the same words in the middle of one."""
_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_BUILD_STEP = re.compile(r"^Step (\d+)/(\d+) : ")
_STATUS_WIDTH = 80
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
        return self._aws.region or self._settings.resolve_region()

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
                f"The job image's base ({self._settings.resolve_base_image(self._region())}) cannot get the "
                f"training toolkit that Amazon Braket starts every job with (`train`, from "
                f"{TOOLKIT_DISTRIBUTION}): {no_toolkit.group(1)}. Set base_image to an image that has "
                f"{TOOLKIT_DISTRIBUTION} installed, or one with gcc and Python's headers (or apt-get to "
                "install them), so that it can be built there."
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
