"""(2) **Image builds** for ``--build-electrons`` electrons of one environment, and the **cold build
time**.

The electrons run at once on a stack with the docker runner (jobs run as containers of the built
image); the job image is built ``FROM`` the local base image of ``ensure_base_image()``. Builds and
pushes are counted where they happen, at the Docker engine API (``APIClient.build`` and
``APIClient.push``, wrapped for this section), and the stack's registry is asked which tags it
holds. The wrapper also passes ``nocache``, so the build is cold even when the engine kept layers
from an earlier run. Minutes on the vfs storage driver; ``--skip-build`` leaves it out. The baseline
is the 0.3 plugin's, one build per electron. Target: 1 build.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import boto3
import docker
import docker.api.client
import docker.errors
from electrons import Bench, JobLedger, add_one
from harness import Row

from covalent_braket_plugin.local.base_image import ensure_base_image
from covalent_braket_plugin.local.stack import LocalStack


@dataclass
class EngineCalls:
    build_s: list[float]
    push_s: list[float]


@contextmanager
def counted_engine() -> Iterator[EngineCalls]:
    """Count and time every ``docker build`` and ``docker push`` this process asks the engine for.

    Both return streams the caller reads to the end, so each is timed until its stream is done.
    Builds get ``nocache``: the figure is a cold build whatever layers the engine kept.
    """
    calls = EngineCalls([], [])
    api = docker.api.client.APIClient
    build, push = api.build, api.push

    def timed(stream: Iterator[Any], into: list[float], start: float) -> Iterator[Any]:
        try:
            yield from stream
        finally:
            into.append(time.perf_counter() - start)

    def counted_build(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        return timed(build(self, *args, **{**kwargs, "nocache": True}), calls.build_s, start)

    def counted_push(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        return timed(push(self, *args, **kwargs), calls.push_s, start)

    api.build, api.push = counted_build, counted_push
    try:
        yield calls
    finally:
        api.build, api.push = build, push


def forget_registry_names(registry: str) -> None:
    """Untag the engine's names of images in a stack registry that is about to go away."""
    engine = docker.from_env()
    for image in engine.images.list():
        for name in image.tags:
            if name.startswith(f"{registry}/"):
                with suppress(docker.errors.DockerException):
                    engine.images.remove(name)


def image_builds(electrons: int, ledger: JobLedger) -> list[Row]:
    base = ensure_base_image()
    with LocalStack(port=0, runner="docker") as stack:
        bench = Bench(stack, ledger, "amazon-braket-covalent-bench-build")
        executor = bench.executor(0.5, 5.0, ecr_image_uri="", base_image=base)
        settings = executor.settings()

        async def all_at_once() -> None:
            await asyncio.gather(*(bench.run(executor, add_one, [1], 2) for _ in range(electrons)))

        start = time.perf_counter()
        try:
            with counted_engine() as calls:
                asyncio.run(all_at_once())
            wall = time.perf_counter() - start
            ecr = boto3.client("ecr")
            tags = [i["imageTag"] for i in ecr.list_images(repositoryName=settings.ecr_repo_name)["imageIds"]]
        finally:
            forget_registry_names(str(stack.registry_address))
    builds, pushes = len(calls.build_s), len(calls.push_s)
    build_s, push_s = sum(calls.build_s), sum(calls.push_s)
    print(
        f"(2) {electrons} electrons: {builds} docker build(s), {pushes} push(es), {len(tags)} tag(s) in the"
        f" registry; build {build_s:.0f} s + push {push_s:.0f} s; all {electrons} in {wall:.0f} s"
    )
    return [
        Row(
            f"image builds for {electrons} electrons in one environment",
            f"{builds} build(s), {pushes} push(es), {len(tags)} registry tag(s)",
            f"0.3 plugin: {electrons} (one per electron)",
            "1 build",
            builds == 1,
        ),
        Row(
            f"cold job image build + push (FROM {base}, no layer cache)",
            f"build {build_s:.0f} s + push {push_s:.0f} s",
            f"0.3 plugin: a build per electron, {electrons} x",
            "",
            None,
        ),
    ]
