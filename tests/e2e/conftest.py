"""What the workflow tests share: the local stack running jobs in Docker, a Covalent server of their own
pointed at it, and a way to run a workflow as a client process of that server, as a user would.

Each test module gets its own stack and server (module scope): a module's assertions about image
builds count only the builds of its own workflows.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.testing.covalent_server import CovalentServer

BUCKET = "amazon-braket-covalent-e2e"
REPOSITORY = "amazon-braket-covalent-e2e"
CLIENT_TIMEOUT_S = 2400


@pytest.fixture(scope="module")
def docker_stack(
    request: pytest.FixtureRequest, docker_engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """The local stack running jobs as Docker containers, with the bucket and role of the workflows.

    It makes Braket's own job images only for a module that sets ``BRAKET_IMAGES = True``: publishing
    them pushes an image of about 1 GB into the stack's registry, which the other modules never use.
    """
    braket_images = getattr(request.module, "BRAKET_IMAGES", False)
    with LocalStack(port=0, runner="docker", state_dir=tmp_path_factory.mktemp("stack"),
                    braket_images=braket_images) as stack:
        assert stack.info.get("runner", "docker") in ("docker", "auto"), stack.info
        boto3.client("s3", **stack.client_kwargs()).create_bucket(Bucket=BUCKET)
        stack.create_jobs_role()
        yield stack


@contextlib.contextmanager
def braket_server(
    stack: LocalStack, home: Path, base_image: str, **settings: Any
) -> Iterator[CovalentServer]:
    """A Covalent server in ``home`` whose ``[executors.braket]`` points at ``stack``'s bucket and
    repository, builds FROM ``base_image``, polls quickly, and has ``settings`` besides."""
    braket = {
        "s3_bucket_name": BUCKET,
        "region": "us-east-1",
        "ecr_repo_name": REPOSITORY,
        "base_image": base_image,
        "poll_freq": 2.0,
        "initial_poll_freq": 0.5,
        "time_limit": 3600,
        **settings,
    }
    with CovalentServer(home, executors={"braket": braket}, environment=stack.environment()) as server:
        yield server


@pytest.fixture(scope="module")
def covalent_server(
    docker_stack: LocalStack, job_base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CovalentServer]:
    """A Covalent server in a home of its own, its ``[executors.braket]`` pointing at the local stack,
    its jobs' images with the Braket SDK."""
    home = tmp_path_factory.mktemp("covalent-home")
    with braket_server(docker_stack, home, job_base_image, pip_packages=["amazon-braket-sdk"]) as server:
        yield server


@pytest.fixture(scope="module")
def run_client(covalent_server: CovalentServer) -> Callable[..., dict[str, Any]]:
    """Run a client script with the server's environment; return the JSON its last line printed.

    The script dispatches its workflow from ``__main__``, which makes Covalent pickle the electrons
    by value: neither the server nor the job needs the test's file.
    """

    def run(script: str, *args: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, script, *args],
            env=covalent_server.env,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT_S,
            cwd=covalent_server.home,
        )
        assert done.returncode == 0, f"{done.stderr}\n--- server log ---\n{covalent_server.log[-5000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run
