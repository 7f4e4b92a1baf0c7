"""An electron on the executor's default base image, Braket's own base jobs image, through a real
Covalent server: the job image is built FROM the stack's copy of Braket's image, and the job runs in
a container started as Braket starts it, ``train`` running the program with the hyperparameters as
arguments. Run as a script, this file is the client that dispatches the workflow and prints what came
back as JSON (see conftest.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import covalent as ct
import docker
import pytest

from covalent_braket_plugin.local import braket_images
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.testing.covalent_server import CovalentServer

IMAGES_TIMEOUT_S = 900.0
BRAKET_IMAGES = True
"""This module's stack makes Braket's own job images (see conftest.docker_stack)."""


@ct.electron(executor="braket")
def started_by() -> dict[str, Any]:
    """How the job's program was started: its command line (the electron runs in a child of the
    program) and the variables of the training toolkit."""
    import os
    from pathlib import Path

    command = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode().split("\0")[:-1]
    return {"command": command, "current_host": os.environ.get("SM_CURRENT_HOST"),
            "task_uri": os.environ.get("SM_HP_COVALENT_TASK_URI")}


@ct.lattice
def workflow() -> dict[str, Any]:
    return started_by()


@pytest.fixture(scope="module")
def covalent_server(
    docker_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CovalentServer]:
    """This module's server: no base_image, so the executor's default, Braket's base jobs image."""
    from .conftest import braket_server  # here: the client script runs outside the package

    assert docker_stack.wait_for_braket_images(IMAGES_TIMEOUT_S) == "ready"
    with braket_server(docker_stack, tmp_path_factory.mktemp("covalent-home"), base_image="") as server:
        yield server


def test_an_electron_on_the_default_base_runs_under_the_training_toolkit(
    covalent_server: CovalentServer,
    run_client: Callable[..., dict[str, Any]],
    docker_engine: docker.DockerClient,
) -> None:
    outcome = run_client(__file__)
    assert outcome["status"] == "COMPLETED", json.dumps(outcome, indent=1) + covalent_server.log[-4000:]
    result = outcome["result"]
    command = result["command"]
    program = command.index("braket_container.py")
    assert command[program - 1] == "--"  # the toolkit's python -- program --name value ...
    arguments = dict(zip(command[program + 1::2], command[program + 2::2], strict=True))
    assert arguments["--COVALENT_TASK_URI"] == result["task_uri"]
    assert result["current_host"] == "algo-1"
    # The job image was built FROM the stack's copy of Braket's base image: its layers are the base's.
    base = braket_images.repository("amazon-braket-base-jobs")
    assert base is not None
    stand_in = docker_engine.images.get(base.uri("us-east-1"))
    built = docker_engine.images.list(name="covalent-braket-job")
    assert any(stand_in.id in {entry["Id"] for entry in image.history()} for image in built)


if __name__ == "__main__":
    dispatch_id = ct.dispatch(workflow)()
    result = ct.get_result(dispatch_id, wait=True)
    node = result.get_node_result(0)
    print(json.dumps({"status": str(result.status), "result": result.result, "error": result.error or "",
                      "node_error": node["error"] or "", "stderr": node["stderr"] or ""}))
    sys.exit(0)
