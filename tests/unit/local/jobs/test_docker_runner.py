"""The image rules of the docker runner: where an ECR image is pulled from, and which images are
Braket's own (those run in script mode without a container)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from covalent_braket_plugin.local.jobs.contract import JobError
from covalent_braket_plugin.local.jobs.docker_runner import (
    is_braket_image,
    local_image_reference,
    sagemaker_program,
)

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def test_ecr_uri_maps_to_the_local_registry():
    assert local_image_reference(f"{ECR}/amazon-braket-x:v1", "127.0.0.1:5001") == (
        "127.0.0.1:5001/amazon-braket-x", "v1",
    )
    assert local_image_reference(f"{ECR}/team/img", "127.0.0.1:5001") == (
        "127.0.0.1:5001/team/img", "latest",
    )
    digest = "sha256:" + "a" * 64
    assert local_image_reference(f"{ECR}/img@{digest}", "r:1") == (f"r:1/img@{digest}", "")


def test_non_ecr_uri_is_refused():
    with pytest.raises(JobError, match="not an ECR image"):
        local_image_reference("docker.io/library/python:3.11", "127.0.0.1:5001")


def test_braket_images_are_recognised_and_kept_under_their_account():
    braket = "292282985366.dkr.ecr.us-west-2.amazonaws.com/amazon-braket-base-jobs:latest"
    assert is_braket_image(braket)
    assert not is_braket_image(f"{ECR}/amazon-braket-base-jobs:latest")
    # A repository of the same name in the stack's own account is another repository.
    assert local_image_reference(braket, "127.0.0.1:5001") == (
        "127.0.0.1:5001/292282985366/amazon-braket-base-jobs", "latest")
    assert local_image_reference(f"{ECR}/amazon-braket-base-jobs:latest", "127.0.0.1:5001") == (
        "127.0.0.1:5001/amazon-braket-base-jobs", "latest")


def test_sagemaker_program_comes_from_the_image_environment():
    env = ["PATH=/usr/bin", "SAGEMAKER_PROGRAM=braket_container.py"]
    image = SimpleNamespace(attrs={"Config": {"Env": env}})
    assert sagemaker_program(image) == "braket_container.py"
    assert sagemaker_program(SimpleNamespace(attrs={"Config": {"Env": ["PATH=/usr/bin"]}})) is None
    assert sagemaker_program(SimpleNamespace(attrs={"Config": {"Env": None}})) is None
