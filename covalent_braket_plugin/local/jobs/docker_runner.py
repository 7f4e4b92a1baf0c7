"""Run a job's image in a real container, the way Amazon Braket runs it on a job instance.

``containerImage.uri`` names an ECR image (``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>``);
the local stack's ECR keeps its images in the local registry, so the image is pulled from
``<registry address>/<repo>:<tag>``. The container is started as Braket starts it,
``docker run IMAGE train``: the image's own entry point and working dir untouched, ``train`` (the
training toolkit, see ``toolkit``) as the command, which runs ``$SAGEMAKER_PROGRAM`` with the
hyperparameters as arguments. It runs on the host network so the program reaches the stack at
127.0.0.1, with every host name of the job (algo-1 ...) resolving to this machine, as the toolkit
waits for them to resolve before it starts the program. An image without ``train`` fails its job
with the engine's reason, as a job on Braket fails.

The job's work dir is mounted directory by directory (input/, model/, output/ at /opt/ml/... and
/opt/braket/..., checkpoints/ at checkpointConfig.localPath) rather than whole at /opt/ml, because
/opt/ml/code of the image holds the program itself.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import docker.errors
import requests
from docker.types import Mount

from covalent_braket_plugin.local import braket_images
from covalent_braket_plugin.local.braket_images import BraketImages
from covalent_braket_plugin.local.jobs import instances
from covalent_braket_plugin.local.jobs.contract import (
    CONTAINER_BRAKET_ROOT,
    CONTAINER_ML_ROOT,
    JobError,
    JobLayout,
    container_checkpoint_path,
)
from covalent_braket_plugin.local.jobs.toolkit import TRAIN_COMMAND

JOB_LABEL = "covalent-braket.local.job-arn"
"""Label on every job container, naming its job (``docker ps --filter label=...`` finds them)."""
OWNER_LABEL = "covalent-braket.local.runner"
"""Label naming the runner that started a container, so a stack removes only its own at shutdown."""
WAIT_SLICE_S = 30.0
"""Longest single wait request to the engine; a job's time limit is checked between slices."""
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{10,14})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[^:@]+)(?P<reference>[:@].+)?$"
)


def local_image_reference(uri: str, registry_address: str) -> tuple[str, str]:
    """(repository in the local registry, tag or digest) for an ECR image URI; Braket's own images
    are kept under their account's id (``braket_images.registry_path``)."""
    match = _ECR_IMAGE.match(uri)
    if not match:
        raise JobError(f"CannotPullContainerError: {uri} is not an ECR image URI")
    reference = match.group("reference") or ":latest"
    name = match.group("repository")
    if match.group("account") == braket_images.ACCOUNT:
        name = braket_images.registry_path(name)
    repository = f"{registry_address}/{name}"
    if reference.startswith("@"):
        return f"{repository}{reference}", ""
    return repository, reference[1:]


def is_braket_image(uri: str) -> bool:
    """Whether ``uri`` names one of Amazon Braket's own job images."""
    match = _ECR_IMAGE.match(uri)
    return bool(match) and match.group("account") == braket_images.ACCOUNT


def sagemaker_program(image: Any) -> str | None:
    """SAGEMAKER_PROGRAM from the image's configured environment, if it sets one."""
    for item in (image.attrs.get("Config") or {}).get("Env") or []:
        name, _, value = item.partition("=")
        if name == "SAGEMAKER_PROGRAM" and value:
            return value
    return None


class DockerExecution:
    """A job's container; its log stream is split into lines."""

    def __init__(self, container: Any) -> None:
        self._container = container

    @property
    def container_id(self) -> str:
        return self._container.id

    def lines(self) -> Iterator[str]:
        pending = b""
        for chunk in self._container.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                yield raw.decode("utf-8", errors="replace").rstrip("\r")
        if pending:
            yield pending.decode("utf-8", errors="replace").rstrip("\r")

    def wait(self, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = WAIT_SLICE_S if deadline is None else min(WAIT_SLICE_S, deadline - time.monotonic())
            if remaining <= 0:
                return None
            try:
                return int(self._container.wait(timeout=max(remaining, 0.1))["StatusCode"])
            except requests.exceptions.RequestException:
                continue  # this slice ended with the container still running

    def kill(self) -> None:
        with contextlib.suppress(docker.errors.APIError):  # not running any more, or gone
            self._container.kill()

    def close(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._container.remove(force=True)


class DockerRunner:
    """Pulls the job's image from the local registry and runs it as Braket would."""

    name = "docker"

    def __init__(
        self, client: Any, registry_address: str | None, owner: str, braket: BraketImages | None = None
    ) -> None:
        self._client = client
        self._registry_address = registry_address
        self._owner = owner
        self._braket = braket

    def remove_all(self, job_arn: str | None = None) -> None:
        """Remove every container this runner started (for ``job_arn`` only, if given)."""
        labels = [f"{OWNER_LABEL}={self._owner}"] + ([f"{JOB_LABEL}={job_arn}"] if job_arn else [])
        for container in self._client.containers.list(all=True, filters={"label": labels}):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)

    def _pull(self, uri: str) -> Any:
        if not self._registry_address:
            raise JobError(
                f"CannotPullContainerError: the stack has no image registry to pull {uri} from"
            )
        if is_braket_image(uri):
            # As a job instance waits for its image: the stack may still be publishing Braket's.
            reason = self._braket.wait() if self._braket else "the stack was started without them"
            if reason:
                raise JobError(f"CannotPullContainerError: {uri} is not available: {reason}")
        repository, tag = local_image_reference(uri, self._registry_address)
        try:
            return self._client.images.pull(repository, tag=tag or None)
        except docker.errors.APIError as exc:
            raise JobError(
                f"CannotPullContainerError: the image {uri} was not found in the registry "
                f"({repository}{':' + tag if tag else ''}): {exc.explanation or exc}"
            ) from exc

    def _mounts(self, job: Mapping[str, Any], layout: JobLayout) -> list[Mount]:
        mounts = []
        for name in ("input", "model", "output"):
            source = str(layout.root / name)
            mounts.append(Mount(str(CONTAINER_ML_ROOT / name), source, type="bind"))
            mounts.append(Mount(str(CONTAINER_BRAKET_ROOT / name), source, type="bind"))
        mounts.append(Mount(container_checkpoint_path(job), str(layout.checkpoints), type="bind"))
        return mounts

    def start(self, job: Mapping[str, Any], layout: JobLayout, env: Mapping[str, str]) -> DockerExecution:
        uri = job["algorithmSpecification"]["containerImage"]["uri"]
        image = self._pull(uri)
        program = sagemaker_program(image)
        if not program:
            raise JobError(
                f"ClientError: the image {uri} does not set SAGEMAKER_PROGRAM; a Braket job image must name "
                "its program with ENV SAGEMAKER_PROGRAM (Braket's images use braket_container.py)"
            )
        try:
            container = self._client.containers.run(
                image.id,
                command=[TRAIN_COMMAND],
                detach=True,
                network_mode="host",
                extra_hosts=instances.host_addresses(job),
                environment=dict(env),
                mounts=self._mounts(job, layout),
                labels={JOB_LABEL: job["jobArn"], OWNER_LABEL: self._owner},
            )
        except docker.errors.APIError as exc:
            self.remove_all(job["jobArn"])
            raise JobError(start_failure(uri, exc)) from exc
        except requests.exceptions.RequestException as exc:
            # The engine may have created the container before the error (a timed-out request).
            self.remove_all(job["jobArn"])
            raise JobError(f"InternalError: the container of image {uri} did not start: {exc}") from exc
        return DockerExecution(container)


def start_failure(uri: str, exc: docker.errors.APIError) -> str:
    """The failure reason of a container the engine could not start, naming what was missing when the
    image has no ``train`` (Braket's command for every job container)."""
    explanation = str(exc.explanation or exc)
    if f'"{TRAIN_COMMAND}"' in explanation and "executable file not found" in explanation:
        return (
            f'CannotStartContainerError: the image {uri} has no executable "{TRAIN_COMMAND}" on its PATH '
            f'(exec: "{TRAIN_COMMAND}": executable file not found in $PATH). Amazon Braket starts every '
            f'job container as "docker run IMAGE {TRAIN_COMMAND}"; install the sagemaker-training toolkit '
            "in the image, which provides it"
        )
    return f"CannotStartContainerError: the container of image {uri} did not start: {explanation}"
