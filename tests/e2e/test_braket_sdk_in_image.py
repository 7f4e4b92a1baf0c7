"""The Braket SDK in every job image: an electron on a plain Debian base image, with no pip_packages,
runs a Bell circuit through the SDK, on the SDK's LocalSimulator and on the stack's SV1.

The Debian base image (``job_base_image``) has no Braket SDK; the job image built on it must have
the client's. Run as a script, this file is the client that dispatches the workflow and prints what
came back as JSON (see conftest.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

import covalent as ct
import docker
import pytest

from covalent_braket_plugin.executor.images import BRAKET_SDK_LABEL
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.testing.covalent_server import CovalentServer

SHOTS = 100


@ct.electron(executor="braket")
def bell(shots: int) -> dict[str, Any]:
    """A Bell pair on the SDK's LocalSimulator and on the job's device, with the SDK's version."""
    import os
    from importlib import metadata

    from braket.aws import AwsDevice
    from braket.circuits import Circuit
    from braket.devices import LocalSimulator

    circuit = Circuit().h(0).cnot(0, 1)
    return {
        "sdk": metadata.version("amazon-braket-sdk"),
        "local": dict(LocalSimulator().run(circuit, shots=shots).result().measurement_counts),
        "sv1": dict(AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"]).run(circuit, shots=shots)
                    .result().measurement_counts),
    }


@ct.lattice
def workflow(shots: int) -> dict[str, Any]:
    return bell(shots)


if __name__ == "__main__":
    result = ct.get_result(ct.dispatch(workflow)(SHOTS), wait=True)
    print(json.dumps({"status": str(result.status), "result": result.result, "error": result.error or ""}))
    sys.exit(0)


@pytest.fixture(scope="module")
def covalent_server(
    docker_stack: LocalStack, job_base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CovalentServer]:
    """This module's server: the Debian base image and no pip_packages at all."""
    from .conftest import BUCKET, REPOSITORY  # here: the client script runs outside the package

    braket = {
        "s3_bucket_name": BUCKET,
        "region": "us-east-1",
        "ecr_repo_name": REPOSITORY,
        "base_image": job_base_image,
        "poll_freq": 2.0,
        "initial_poll_freq": 0.5,
        "time_limit": 3600,
    }
    with CovalentServer(
        tmp_path_factory.mktemp("covalent-home"),
        executors={"braket": braket},
        environment=docker_stack.environment(),
    ) as server:
        yield server


def test_an_electron_on_a_debian_base_image_without_packages_runs_a_bell_circuit(
    covalent_server: CovalentServer,
    run_client: Callable[..., dict[str, Any]],
    docker_engine: docker.DockerClient,
) -> None:
    outcome = run_client(__file__)
    assert outcome["status"] == "COMPLETED", json.dumps(outcome, indent=1)
    client_sdk = metadata.version("amazon-braket-sdk")
    assert outcome["result"]["sdk"] == client_sdk
    for device in ("local", "sv1"):
        counts = outcome["result"][device]
        assert set(counts) <= {"00", "11"} and sum(counts.values()) == SHOTS, (device, counts)
    # The image the job ran says which SDK it holds, for covalent-braket doctor.
    built = [image for image in docker_engine.images.list(name="covalent-braket-job")
             if image.labels.get(BRAKET_SDK_LABEL)]
    assert built and all(image.labels[BRAKET_SDK_LABEL] == client_sdk for image in built)
