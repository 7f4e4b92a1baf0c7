"""The job base image, really built by debootstrap and imported into the real Docker engine."""

from __future__ import annotations

import docker

from covalent_braket_plugin.images import image_python_version
from covalent_braket_plugin.local.base_image import DEFAULT_BASE_IMAGE, ensure_base_image


def run(client: docker.DockerClient, image: str, script: str) -> str:
    output = client.containers.run(image, ["bash", "-c", script], network_mode="host", remove=True)
    return output.decode().strip()


def test_base_image_runs_bookworm_python_311(job_base_image: str, docker_engine: docker.DockerClient) -> None:
    assert job_base_image == DEFAULT_BASE_IMAGE

    assert image_python_version(job_base_image, client=docker_engine) == "3.11"
    assert run(docker_engine, job_base_image, ". /etc/os-release && echo $VERSION_CODENAME") == "bookworm"


def test_base_image_can_install_packages_and_make_venvs(
    job_base_image: str, docker_engine: docker.DockerClient
) -> None:
    """What a job image's Dockerfile does on top of it: pip install globally, or in a venv."""
    output = run(
        docker_engine,
        job_base_image,
        " && ".join(
            [
                "python3 -m pip --version",
                "python3 -m venv /tmp/env",
                "/tmp/env/bin/python -c 'import ssl, sys; print(sys.prefix)'",
                "ls /etc/ssl/certs/ca-certificates.crt",
            ]
        ),
    )

    pip_version, venv_prefix, ca_bundle = output.splitlines()
    assert pip_version.startswith("pip ") and pip_version.endswith("(python 3.11)")
    assert venv_prefix == "/tmp/env"
    assert ca_bundle == "/etc/ssl/certs/ca-certificates.crt"


def test_base_image_config(job_base_image: str, docker_engine: docker.DockerClient) -> None:
    config = docker_engine.images.get(job_base_image).attrs["Config"]

    assert "LANG=C.UTF-8" in config["Env"]
    assert "PIP_BREAK_SYSTEM_PACKAGES=1" in config["Env"]
    assert any(variable.startswith("PATH=/usr/local/sbin:/usr/local/bin:") for variable in config["Env"])
    assert config["Cmd"] == ["/bin/bash"]


def test_existing_image_is_returned_without_a_build(
    job_base_image: str, docker_engine: docker.DockerClient
) -> None:
    image_id = docker_engine.images.get(job_base_image).id
    messages: list[str] = []

    assert ensure_base_image(progress=messages.append, client=docker_engine) == job_base_image

    assert messages == []
    assert docker_engine.images.get(job_base_image).id == image_id
