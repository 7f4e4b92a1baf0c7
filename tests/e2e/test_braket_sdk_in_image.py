"""The Braket SDK in every job image: an electron on a plain Debian base image, with no pip_packages,
runs a Bell circuit through the SDK, on the SDK's LocalSimulator and on the stack's SV1; and Covalent's
own electron dependencies (deps_bash, deps_pip, call_before, call_after) run inside the job.

The Debian base image (``job_base_image``) has no Braket SDK; the job image built on it must have
the client's. Run as a script, this file is the client that dispatches the workflow and prints what
came back as JSON (see conftest.py).
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

import covalent as ct
import docker
import pytest

from covalent_braket_plugin.images import BRAKET_SDK_LABEL
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


def _before() -> None:
    print("call_before ran in the job", flush=True)


def _after() -> None:
    print("call_after ran in the job", flush=True)


# deps_bash writes a wheel that deps_pip installs, beside a package deps_pip takes from the index: the
# job's pip reaches the index the build reached, with the CA bundle the build needed (if it needed one).
WHEEL = "/tmp/covdemo-1.0-py3-none-any.whl"
MAKE_WHEEL = (
    "import zipfile\n"
    f"with zipfile.ZipFile({WHEEL!r}, 'w') as wheel:\n"
    "    wheel.writestr('covdemo/__init__.py', 'VALUE = 7\\n')\n"
    "    wheel.writestr('covdemo-1.0.dist-info/METADATA', "
    "'Metadata-Version: 2.1\\nName: covdemo\\nVersion: 1.0\\n')\n"
    "    wheel.writestr('covdemo-1.0.dist-info/WHEEL', "
    "'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')\n"
    "    wheel.writestr('covdemo-1.0.dist-info/RECORD', '')\n"
)


@ct.electron(
    executor="braket",
    deps_bash=ct.DepsBash([f"python3 -c {shlex.quote(MAKE_WHEEL)}"]),
    deps_pip=ct.DepsPip([WHEEL, "six"]),
    call_before=[ct.DepsCall(_before)],
    call_after=[ct.DepsCall(_after)],
)
def with_dependencies() -> dict[str, Any]:
    """What the electron's dependencies left in the job: a package deps_bash made and deps_pip installed,
    and one deps_pip took from the package index."""
    from importlib import metadata

    import covdemo

    return {"pip": metadata.version("covdemo"), "value": covdemo.VALUE, "from_index": metadata.version("six")}


@ct.lattice
def dependencies() -> dict[str, str]:
    return with_dependencies()


if __name__ == "__main__":
    dispatched = ct.dispatch(dependencies)() if sys.argv[1:] == ["deps"] else ct.dispatch(workflow)(SHOTS)
    result = ct.get_result(dispatched, wait=True)
    node = result.get_node_result(0)
    print(json.dumps({"status": str(result.status), "result": result.result, "error": result.error or "",
                      "stdout": node["stdout"] or "", "node_error": node["error"] or "",
                      "stderr": node["stderr"] or ""}))
    sys.exit(0)


@pytest.fixture(scope="module")
def covalent_server(
    docker_stack: LocalStack, job_base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CovalentServer]:
    """This module's server: the Debian base image and no pip_packages at all."""
    from .conftest import braket_server  # here: the client script runs outside the package

    with braket_server(docker_stack, tmp_path_factory.mktemp("covalent-home"), job_base_image) as server:
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


def test_covalents_electron_dependencies_run_inside_the_job(
    run_client: Callable[..., dict[str, Any]],
) -> None:
    outcome = run_client(__file__, "deps")
    assert outcome["status"] == "COMPLETED", json.dumps(outcome, indent=1)
    assert {key: outcome["result"][key] for key in ("pip", "value")} == {"pip": "1.0", "value": 7}
    assert outcome["result"]["from_index"]
    stdout = outcome["stdout"]
    assert stdout.index("call_before ran in the job") < stdout.index("call_after ran in the job"), stdout
