"""A real job image: built by the Docker engine FROM the Debian base image, pushed to the local stack's
registry through the ECR API, found there by the next request instead of being built again."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import docker
import pytest

from covalent_braket_plugin.executor import runtime
from covalent_braket_plugin.executor.image_builds import LOCAL_REPOSITORY, ImageBuilder
from covalent_braket_plugin.images import (
    PythonVersionMismatchError,
    image_python_version,
    make_recipe,
    recipe,
)
from covalent_braket_plugin.job import runner
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.settings import BraketExecutorSettings

ACCOUNT = "123456789012"


class CountingFactory:
    """Hands out the test's Docker client and counts how often the builder asked for one."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.calls = 0

    def __call__(self) -> docker.DockerClient:
        self.calls += 1
        return self.client


def run_runner_in_image(stack: LocalStack, engine: docker.DockerClient, image_name: str, work: Path) -> Any:
    """Run the runner in a container of ``image_name`` as a job would, against the stack's S3."""
    s3: Any = boto3.client("s3", region_name=stack.region)
    bucket = "amazon-braket-image-test"
    s3.create_bucket(Bucket=bucket)

    def electron() -> dict[str, Any]:
        import os

        import cloudpickle
        import covalent  # noqa: F401 - the job needs covalent to load covalent's wrappers
        import six

        program = os.path.isfile("/opt/ml/code/" + os.environ["SAGEMAKER_PROGRAM"])
        return {"six": six.__version__, "program": program, "cloudpickle": cloudpickle.__version__}

    task = cloudpickle.dumps((electron, (), {}))
    s3.put_object(Bucket=bucket, Key="task.pkl", Body=task)
    shutil.copy(runner.source_path(), work / f"{runner.RUNNER_MODULE}.py")
    (work / "hyperparameters.json").write_text(json.dumps({
        runner.TASK_URI_KEY: f"s3://{bucket}/task.pkl",
        runner.TASK_SHA256_KEY: hashlib.sha256(task).hexdigest(),
        runner.OUTPUT_URI_KEY: f"s3://{bucket}/output/",
        runner.BUCKET_OWNER_KEY: ACCOUNT,
    }))
    engine.containers.run(
        image_name,
        ["python3", "-c", f"import {runner.RUNNER_MODULE} as job; job.main()"],
        environment={**stack.environment(), "AMZN_BRAKET_HP_FILE": "/job/hyperparameters.json",
                     "AMZN_BRAKET_JOB_RESULTS_DIR": "/job/model"},
        volumes={str(work): {"bind": "/job", "mode": "rw"}},
        working_dir="/job",
        network_mode="host",
        remove=True,
    )
    return cloudpickle.loads(s3.get_object(Bucket=bucket, Key=f"output/{runner.RESULT_FILE}")["Body"].read())


@pytest.mark.timeout(2400)
def test_image_is_built_once_pushed_and_then_found_in_ecr(
    braket_local_env: LocalStack, job_base_image: str, docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    settings = BraketExecutorSettings.from_options(base_image=job_base_image, pip_packages=["six"])
    session = settings.aws_session()
    lines: list[str] = []
    factory = CountingFactory(docker_engine)

    async def three_electrons() -> list[str]:
        with runtime.fresh() as process:
            builder = ImageBuilder(session, settings, process.images, factory, progress=lines.append)
            return list(await asyncio.gather(*(builder.ensure_image(["six"]) for _ in range(3))))

    uris = asyncio.run(three_electrons())

    tag = make_recipe(job_base_image, ["six"]).tag
    expected = f"{ACCOUNT}.dkr.ecr.{session.region}.amazonaws.com/{settings.ecr_repo_name}:{tag}"
    assert uris == [expected] * 3
    assert factory.calls == 1
    # One build, shown step by step (the engine's "Step k/N"), and one push, layer by layer.
    assert lines.count(f"building job image {tag}...") == 1
    steps = [line for line in lines if line.startswith(f"building job image {tag}: Step ")]
    assert steps and steps[0].startswith(f"building job image {tag}: Step 1/")
    assert f"building job image {tag}: done ({len(steps)} steps)" in lines
    pushes = [line for line in lines if line.startswith(f"pushing job image {tag} to ")]
    assert len(pushes) == 2 and pushes[0].endswith("...") and pushes[1].endswith(" layers)")
    assert any(line.startswith(f"push {tag}: layer ") and "done (" in line for line in lines)
    assert any(line.startswith(f"push {tag}: digest sha256:") for line in lines)

    # The registry holds it, as the ECR API reports.
    ecr: Any = boto3.client("ecr", region_name=session.region)
    details = ecr.describe_images(repositoryName=settings.ecr_repo_name, imageIds=[{"imageTag": tag}])
    assert details["imageDetails"][0]["imageTags"] == [tag]
    assert details["imageDetails"][0]["imageSizeInBytes"] > 0

    # The image keeps the job contract, and the job-side runner works in it: it loads an electron
    # pickled here, runs it with the image's packages and returns its result through the stack's S3.
    config = docker_engine.api.inspect_image(f"{LOCAL_REPOSITORY}:{tag}")["Config"]
    assert "SAGEMAKER_PROGRAM=braket_container.py" in config["Env"]
    result = run_runner_in_image(braket_local_env, docker_engine, f"{LOCAL_REPOSITORY}:{tag}", tmp_path)
    assert result["program"] is True
    assert result["cloudpickle"] == cloudpickle.__version__  # pinned to the client's
    assert result["six"].count(".") >= 1  # the electron's package is installed

    # A new process (no memory of the push) finds the tag in ECR and builds nothing.
    again_lines: list[str] = []
    again_factory = CountingFactory(docker_engine)
    with runtime.fresh() as process:
        again = ImageBuilder(settings.aws_session(), settings, process.images, again_factory,
                             progress=again_lines.append)
        assert asyncio.run(again.ensure_image(["six"])) == expected
    assert again_factory.calls == 0
    assert again_lines == [f"job image {expected} is in ECR already; nothing to build"]


@pytest.mark.timeout(1200)
def test_python_mismatch_stops_the_build_before_any_push(
    braket_local_env: LocalStack,
    job_base_image: str,
    docker_engine: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The base image runs Debian's Python; a client on another minor version must not get an image.
    monkeypatch.setattr(recipe, "client_python_minor", lambda: "3.99")
    settings = BraketExecutorSettings.from_options(base_image=job_base_image)

    with runtime.fresh() as process, pytest.raises(PythonVersionMismatchError) as raised:
        builder = ImageBuilder(settings.aws_session(), settings, process.images,
                               lambda: docker_engine, progress=lambda line: None)
        asyncio.run(builder.ensure_image([]))

    base_python = image_python_version(job_base_image, docker_engine)
    assert f"runs Python {base_python}, but this client runs Python 3.99" in str(raised.value)
    tag = make_recipe(job_base_image, []).tag
    ecr: Any = boto3.client("ecr", region_name=settings.resolve_region())
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName=settings.ecr_repo_name, imageIds=[{"imageTag": tag}])
