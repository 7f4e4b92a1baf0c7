"""Job images: the rendered Dockerfile, its content tag, and one build per tag (Docker and ECR stubbed)."""

from __future__ import annotations

import asyncio
import base64
import io
import sys
import tarfile
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import docker.errors
import pytest
from botocore.stub import Stubber

from covalent_braket_plugin import images
from covalent_braket_plugin.executor import image_builds, runtime
from covalent_braket_plugin.executor.image_builds import ImageBuilder
from covalent_braket_plugin.executor.progress import Progress
from covalent_braket_plugin.images import (
    JobImageError,
    PythonVersionMismatchError,
    image_tag,
    make_recipe,
    render_dockerfile,
)
from covalent_braket_plugin.job import script_mode
from covalent_braket_plugin.settings import BraketExecutorSettings

BASE = "covalent-braket/base:bookworm"
ACCOUNT = "123456789012"
REPOSITORY = "amazon-braket-covalent-job-images"
REPOSITORY_URI = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{REPOSITORY}"
TOKEN = base64.b64encode(b"AWS:secret-password").decode()


# --- rendering and tags -----------------------------------------------------------------------------

def test_rendered_dockerfile_pins_the_client_environment_and_keeps_the_job_contract() -> None:
    rendered = render_dockerfile(BASE, ["scipy", "numpy>=1.26", "scipy"])
    python_minor = "{}.{}".format(*sys.version_info[:2])

    assert rendered.count(f"FROM {BASE}") == 2  # the toolkit's stage, then the job image
    assert f"FROM {BASE} AS toolkit\n" in rendered
    assert rendered.rstrip().splitlines()[-1].startswith("RUN ")  # the job image is the last stage
    assert f"covalent=={metadata.version('covalent')}" in rendered
    assert f"cloudpickle=={metadata.version('cloudpickle')}" in rendered
    assert " boto3" in rendered
    assert f"amazon-braket-sdk=={metadata.version('amazon-braket-sdk')}" in rendered
    assert "install 'numpy>=1.26' scipy\n" in rendered  # sorted, deduplicated, quoted for the shell
    assert f"v == '{python_minor}'" in rendered
    assert "COPY braket_container.py /opt/ml/code/braket_container.py" in rendered
    assert "ENV SAGEMAKER_PROGRAM=braket_container.py" in rendered
    assert "{{" not in rendered and "}}" not in rendered


def test_environment_without_packages_adds_no_install_step() -> None:
    rendered = render_dockerfile(BASE)
    assert rendered.count("pip install") == 1


def test_every_image_has_the_clients_braket_sdk_in_the_shared_layer_and_says_so_in_a_label() -> None:
    sdk = metadata.version("amazon-braket-sdk")
    rendered = render_dockerfile(BASE, ["numpy"])
    toolkit, shared, electron = rendered.split("RUN ")[1:]  # toolkit stage, shared layer, its own
    assert "amazon-braket-sdk" not in toolkit
    assert f"amazon-braket-sdk=={sdk}" in shared
    assert "amazon-braket-sdk" not in electron
    assert f'{images.BRAKET_SDK_LABEL}="{sdk}"' in rendered
    # Environments of one client share every layer up to the electron's packages.
    other = render_dockerfile(BASE, ["scipy"])
    assert other.split("RUN ")[:3] == rendered.split("RUN ")[:3]


def test_the_jobs_pip_gets_the_ca_bundle_the_build_needed() -> None:
    """Covalent's deps_pip runs pip in the job: behind a TLS-intercepting proxy it needs the bundle
    the build used, which stays out of the tag, so the shared layer writes pip's config only when the
    build had one."""
    rendered = render_dockerfile(BASE, ["numpy"])
    shared = rendered.split("RUN ")[2]
    assert f"PIP_CONFIG_FILE={images.JOB_PIP_CONFIG}" in rendered
    assert f"if [ -s /tmp/covalent-braket-{images.CA_BUNDLE_NAME} ]; then printf '[global]" in shared
    assert f"> {images.JOB_PIP_CONFIG}; fi" in shared


def test_every_image_gets_the_training_toolkit_that_braket_starts_jobs_with() -> None:
    """Braket runs ``docker run IMAGE train``: the toolkit is built in a stage of its own when the base
    lacks it, installed in the shared layer, and the shared layer ends by checking ``train``."""
    rendered = render_dockerfile(BASE, ["numpy"])
    toolkit, shared, electron = rendered.split("RUN ")[1:]
    assert f'pip wheel --no-deps --wheel-dir {images.TOOLKIT_WHEELS_DIR} "sagemaker-training==' in toolkit
    assert "import sagemaker_training.cli.train" in toolkit  # a base with its own toolkit keeps it
    assert "apt-get install" in toolkit and "gcc" in toolkit  # only where the base cannot compile
    assert f"COPY --from=toolkit {images.TOOLKIT_WHEELS_DIR} {images.TOOLKIT_WHEELS_DIR}" in rendered
    assert f"$(find {images.TOOLKIT_WHEELS_DIR} -name '*.whl')" in shared
    assert shared.split("\n\n")[0].endswith(images.TOOLKIT_CHECK)  # the instruction ends with the check
    assert "sagemaker" not in electron
    assert f'{images.TOOLKIT_LABEL}="{images.TOOLKIT_VERSION}"' in rendered


def test_the_template_ships_with_the_package_and_at_the_top_level() -> None:
    packaged = Path(script_mode.__file__).with_name(images.TEMPLATE_NAME)
    top_level = Path(__file__).parents[3] / images.TEMPLATE_NAME
    assert packaged.is_file()
    assert top_level.resolve() == packaged.resolve()


def test_tag_is_stable_for_one_environment() -> None:
    first = make_recipe(BASE, ["numpy", "scipy"])
    again = make_recipe(BASE, ["scipy", "numpy", "numpy"])
    assert first.tag == again.tag
    assert len(first.tag) == images.TAG_LENGTH
    assert int(first.tag, 16) >= 0


@pytest.mark.parametrize(
    "changed",
    [
        {"base_image": "debian-python:3.11"},
        {"pip_packages": ["numpy", "scipy", "pandas"]},
        {"python_minor": "3.12"},
        {"covalent_version": "0.239.0"},
        {"cloudpickle_version": "3.0.0"},
        {"braket_sdk_version": "1.80.0"},
    ],
)
def test_tag_changes_with_anything_the_image_holds(changed: dict[str, Any]) -> None:
    values: dict[str, Any] = {"base_image": BASE, "pip_packages": ["numpy", "scipy"]}
    context = {images.SCRIPT_MODE_PROGRAM: b"program"}
    reference = image_tag(render_dockerfile(**values), context)
    assert image_tag(render_dockerfile(**{**values, **changed}), context) != reference


def test_tag_changes_with_the_script_mode_program() -> None:
    rendered = render_dockerfile(BASE)
    first = image_tag(rendered, {"braket_container.py": b"v1"})
    assert image_tag(rendered, {"braket_container.py": b"v2"}) != first


def test_recipe_carries_the_packaged_script_mode_program() -> None:
    recipe = make_recipe(BASE)
    program = Path(script_mode.__file__).read_bytes()
    assert recipe.context == {images.SCRIPT_MODE_PROGRAM: program}


def test_pip_settings_of_this_machine_become_build_args(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    environ = {
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_TRUSTED_HOST": "",
        "PIP_DEFAULT_TIMEOUT": "180",
        "PIP_CERT": str(bundle),
        "HOME": "/root",
    }
    assert images.pip_build_args(environ) == {
        "PIP_INDEX_URL": "https://mirror.example/simple",
        "PIP_DEFAULT_TIMEOUT": "180",
    }
    assert images.pip_ca_bundle(environ) == b"-----BEGIN CERTIFICATE-----\n"
    assert images.pip_ca_bundle({"REQUESTS_CA_BUNDLE": str(bundle)}) == b"-----BEGIN CERTIFICATE-----\n"
    assert images.pip_ca_bundle({"PIP_CERT": str(tmp_path / "missing.pem")}) == b""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PIP_INDEX_URL", "https://alice:s3cret@pypi.corp.example/simple"),
        ("PIP_INDEX_URL", "https://s3cret@pypi.corp.example/simple"),  # a token as the user name
        ("PIP_EXTRA_INDEX_URL", "https://pypi.org/simple https://__token__:s3cret@extra.example/simple"),
    ],
)
def test_credentials_in_an_index_url_are_refused_without_showing_them(name: str, value: str) -> None:
    with pytest.raises(images.BuildSecretError) as refused:
        images.pip_build_args({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name} carries credentials")
    assert "s3cret" not in message and "alice" not in message
    assert "docker history" in message and "ecr_image_uri" in message and "--secret" in message


def test_a_build_with_credentials_in_the_index_url_never_reaches_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://alice:s3cret@pypi.corp.example/simple")
    session, engine = FakeSession(), FakeDocker()
    tag = make_recipe(BASE, ["numpy"]).tag
    expect_repository(session.stubber)
    expect_image_missing(session.stubber, tag)
    builder = make_builder(session, engine)
    with session.stubber, pytest.raises(images.BuildSecretError, match="PIP_INDEX_URL carries credentials"):
        asyncio.run(builder.ensure_image(["numpy"]))
    assert engine.created == 0 and engine.api.builds == []


def test_build_context_holds_dockerfile_program_and_ca_bundle() -> None:
    recipe = make_recipe(BASE, ["numpy"])
    with tarfile.open(fileobj=images.build_context(recipe, b"certs"), mode="r") as tar:
        files = {member.name: tar.extractfile(member).read() for member in tar.getmembers()}  # type: ignore[union-attr]
    assert files["Dockerfile"] == recipe.dockerfile.encode()
    assert files[images.SCRIPT_MODE_PROGRAM] == recipe.context[images.SCRIPT_MODE_PROGRAM]
    assert files[images.CA_BUNDLE_NAME] == b"certs"


# --- ensure_image with a stubbed ECR and Docker engine --------------------------------------------------

class FakeApi:
    """The low-level Docker API calls the builder makes, recorded; build and push stream chunks."""

    def __init__(
        self, build_chunks: list[dict[str, Any]], push_chunks: list[dict[str, Any]] | None = None
    ) -> None:
        self.build_chunks = build_chunks
        self.push_chunks = push_chunks
        self.builds: list[dict[str, Any]] = []
        self.tags: list[tuple[str, str, str]] = []
        self.pushes: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        with self._lock:
            self.builds.append(kwargs)
        return iter(self.build_chunks)

    def tag(self, image_name: str, repository: str, tag: str) -> bool:
        self.tags.append((image_name, repository, tag))
        return True

    def push(self, repository: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.pushes.append({"repository": repository, **kwargs})
        if self.push_chunks is not None:
            return iter(self.push_chunks)
        return iter([
            {"status": "Pushing", "id": "abc"},
            {"status": "Pushed", "id": "abc"},
            {"status": "Layer already exists", "id": "def"},
            {"aux": {"Tag": kwargs["tag"], "Digest": "sha256:" + "0" * 64}},
        ])


class FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, name: str) -> object:
        if name not in self.present:
            raise docker.errors.ImageNotFound(name)
        return object()


class FakeDocker:
    def __init__(
        self,
        build_chunks: list[dict[str, Any]] | None = None,
        push_chunks: list[dict[str, Any]] | None = None,
    ) -> None:
        self.api = FakeApi(
            build_chunks or [{"stream": "Step 1/2 : FROM base\n"}, {"stream": "Built"}], push_chunks
        )
        self.images = FakeImages(set())
        self.logins: list[dict[str, str]] = []
        self.created = 0

    def factory(self) -> FakeDocker:
        self.created += 1
        return self

    def login(self, **kwargs: str) -> None:
        self.logins.append(kwargs)


class FakeSession:
    """Hands out one stubbed ECR client, as an ``AwsSession`` would hand out a real one."""

    region = "us-east-1"

    def __init__(self) -> None:
        self.ecr = boto3.client(
            "ecr", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing",
            endpoint_url="https://ecr.stubbed.invalid",
        )
        self.stubber = Stubber(self.ecr)

    def client(self, service: str, region: str | None = None) -> Any:
        assert service == "ecr" and region is None
        return self.ecr


def make_builder(
    session: FakeSession,
    engine: FakeDocker,
    options: dict[str, Any] | None = None,
    lines: list[str] | None = None,
    progress: Progress | None = None,
) -> ImageBuilder:
    builder_settings = settings(**(options or {}))
    if progress is None:
        progress = Progress.quiet(lines.append if lines is not None else (lambda line: None))
    return ImageBuilder(session, builder_settings, runtime.current().images,  # type: ignore[arg-type]
                        docker_client_factory=engine.factory, progress=progress)


def settings(**options: Any) -> BraketExecutorSettings:
    return BraketExecutorSettings.from_options(region="us-east-1", **{"base_image": BASE, **options})


def expect_repository(stubber: Stubber) -> None:
    stubber.add_response(
        "describe_repositories",
        {"repositories": [{"repositoryName": REPOSITORY, "repositoryUri": REPOSITORY_URI}]},
        {"repositoryNames": [REPOSITORY]},
    )


def expect_image_missing(stubber: Stubber, tag: str) -> None:
    stubber.add_client_error(
        "describe_images", service_error_code="ImageNotFoundException", http_status_code=400,
        expected_params={"repositoryName": REPOSITORY, "imageIds": [{"imageTag": tag}]},
    )


def expect_token(
    stubber: Stubber, proxy: str = "http://127.0.0.1:5999", registry_ids: list[str] | None = None
) -> None:
    stubber.add_response(
        "get_authorization_token",
        {"authorizationData": [{"authorizationToken": TOKEN, "proxyEndpoint": proxy}]},
        {"registryIds": registry_ids} if registry_ids else {},
    )


async def gather(builder: ImageBuilder, count: int, packages: list[str]) -> list[str | BaseException]:
    requests = (builder.ensure_image(packages) for _ in range(count))
    return await asyncio.gather(*requests, return_exceptions=True)


def test_concurrent_requests_for_one_environment_make_one_build_and_one_push() -> None:
    session, engine, lines = FakeSession(), FakeDocker(), []
    tag = make_recipe(BASE, ["numpy"]).tag
    expect_repository(session.stubber)
    expect_image_missing(session.stubber, tag)
    expect_token(session.stubber)
    builder = make_builder(session, engine, lines=lines)

    with session.stubber:
        uris = asyncio.run(gather(builder, 12, ["numpy"]))
        again = asyncio.run(builder.ensure_image(["numpy"]))  # known in this process: no AWS call
        session.stubber.assert_no_pending_responses()

    assert uris == [f"{REPOSITORY_URI}:{tag}"] * 12
    assert again == uris[0]
    assert len(engine.api.builds) == 1
    build = engine.api.builds[0]
    assert build["network_mode"] == "host"
    assert build["custom_context"] is True
    assert build["tag"] == f"{image_builds.LOCAL_REPOSITORY}:{tag}"
    local = f"{image_builds.LOCAL_REPOSITORY}:{tag}"
    assert engine.api.tags == [(local, f"127.0.0.1:5999/{REPOSITORY}", tag)]
    [push] = engine.api.pushes
    assert push["repository"] == f"127.0.0.1:5999/{REPOSITORY}"
    assert push["auth_config"] == {"username": "AWS", "password": "secret-password"}
    assert any("Step 1/2" in line for line in lines)
    assert any("layer abc: pushed" in line for line in lines)


def test_settings_packages_join_the_electrons() -> None:
    session, engine = FakeSession(), FakeDocker()
    tag = make_recipe(BASE, ["numpy", "scipy"]).tag
    expect_repository(session.stubber)
    expect_image_missing(session.stubber, tag)
    expect_token(session.stubber)
    builder = make_builder(session, engine, {"pip_packages": "scipy"})

    with session.stubber:
        uri = asyncio.run(builder.ensure_image(["numpy"]))

    assert uri == f"{REPOSITORY_URI}:{tag}"


def test_image_already_in_ecr_is_not_built() -> None:
    session, engine = FakeSession(), FakeDocker()
    tag = make_recipe(BASE, []).tag
    expect_repository(session.stubber)
    session.stubber.add_response(
        "describe_images",
        {"imageDetails": [{"imageTags": [tag]}]},
        {"repositoryName": REPOSITORY, "imageIds": [{"imageTag": tag}]},
    )
    builder = make_builder(session, engine)

    with session.stubber:
        uris = asyncio.run(gather(builder, 5, []))

    assert uris == [f"{REPOSITORY_URI}:{tag}"] * 5
    assert engine.created == 0  # not even a Docker client


def test_missing_repository_is_created() -> None:
    session, engine = FakeSession(), FakeDocker()
    tag = make_recipe(BASE, []).tag
    session.stubber.add_client_error(
        "describe_repositories", service_error_code="RepositoryNotFoundException"
    )
    session.stubber.add_response(
        "create_repository",
        {"repository": {"repositoryName": REPOSITORY, "repositoryUri": REPOSITORY_URI}},
        {"repositoryName": REPOSITORY},
    )
    expect_image_missing(session.stubber, tag)
    expect_token(session.stubber)
    builder = make_builder(session, engine)

    with session.stubber:
        assert asyncio.run(builder.ensure_image([])) == f"{REPOSITORY_URI}:{tag}"
        session.stubber.assert_no_pending_responses()


def test_ecr_image_uri_is_used_as_is() -> None:
    session, engine = FakeSession(), FakeDocker()
    uri = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-mine:v3"
    builder = make_builder(session, engine, {"ecr_image_uri": uri})

    with session.stubber:  # no AWS call is expected
        assert asyncio.run(builder.ensure_image(["numpy"])) == uri
    assert engine.created == 0


def test_a_failed_build_fails_every_waiter_once_and_is_retried_later() -> None:
    error_chunks = [{"stream": "Step 3/6 : RUN pip install nosuchpackage\n"},
                    {"stream": "ERROR: No matching distribution found for nosuchpackage\n"},
                    {"error": "The command returned a non-zero code: 1"}]
    session, engine = FakeSession(), FakeDocker(error_chunks)
    tag = make_recipe(BASE, ["nosuchpackage"]).tag
    for _ in range(2):
        expect_repository(session.stubber)
        expect_image_missing(session.stubber, tag)
    builder = make_builder(session, engine)

    with session.stubber:
        results = asyncio.run(gather(builder, 6, ["nosuchpackage"]))
        assert len(engine.api.builds) == 1
        with pytest.raises(JobImageError, match="No matching distribution found for nosuchpackage"):
            asyncio.run(builder.ensure_image(["nosuchpackage"]))

    assert len(engine.api.builds) == 2
    assert all(isinstance(result, JobImageError) for result in results)
    assert engine.api.pushes == []


def test_python_mismatch_is_named_before_anything_is_pushed() -> None:
    chunks = [{"stream": "Step 4/6 : RUN python3 -c ...\n"},
              {"stream": "covalent-braket: python mismatch: image 3.12, client 3.11\n"},
              {"error": "The command '/bin/sh -c python3 -c ...' returned a non-zero code: 1"}]
    session, engine = FakeSession(), FakeDocker(chunks)
    tag = make_recipe(BASE, []).tag
    expect_repository(session.stubber)
    expect_image_missing(session.stubber, tag)
    builder = make_builder(session, engine)

    with session.stubber, pytest.raises(PythonVersionMismatchError) as raised:
        asyncio.run(builder.ensure_image([]))

    message = str(raised.value)
    assert "Python 3.12" in message and "Python 3.11" in message and "base_image" in message
    assert engine.api.pushes == []


@pytest.mark.parametrize("toolkit_said", [True, False])
def test_a_base_that_cannot_get_the_toolkit_is_named_with_the_fix(toolkit_said: bool) -> None:
    """Only the toolkit stage's own line names the toolkit: the echo of its command, which holds the
    same words, is no reason to blame the toolkit for another failure."""
    step = ("Step 5/13 : RUN ... || { echo \"covalent-braket: no training toolkit: the base image has no gcc "
            "and Python headers to build it with\" >&2; exit 1; }\n")
    said = ["covalent-braket: no training toolkit: the base image has no gcc and Python headers to build it "
            "with, and no apt-get that could install them\n"] if toolkit_said else []
    chunks = [{"stream": step}, *({"stream": line} for line in said),
              {"error": "COPY failed: file not found in build context"}]
    session, engine = FakeSession(), FakeDocker(chunks)
    expect_repository(session.stubber)
    expect_image_missing(session.stubber, make_recipe(BASE, []).tag)
    builder = make_builder(session, engine)

    with session.stubber, pytest.raises(images.JobImageError) as raised:
        asyncio.run(builder.ensure_image([]))

    message = str(raised.value)
    if toolkit_said:
        assert message.startswith(f"The job image's base ({BASE}) cannot get the training toolkit")
        assert "no apt-get that could install them. Set base_image to an image that has sagemaker-training" \
            in message
    else:
        assert "cannot get the training toolkit" not in message
        assert "COPY failed: file not found in build context" in message


def test_braket_base_image_in_ecr_logs_the_engine_in_to_its_registry() -> None:
    session, engine = FakeSession(), FakeDocker()
    builder_settings = BraketExecutorSettings.from_options(region="us-east-1")
    base = builder_settings.resolve_base_image("us-east-1")
    tag = make_recipe(base, []).tag
    expect_repository(session.stubber)
    expect_image_missing(session.stubber, tag)
    expect_token(session.stubber, "https://292282985366.dkr.ecr.us-east-1.amazonaws.com", ["292282985366"])
    expect_token(session.stubber, f"https://{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com")
    builder = ImageBuilder(session, builder_settings, runtime.current().images,  # type: ignore[arg-type]
                           docker_client_factory=engine.factory,
                           progress=lambda line: None)

    with session.stubber:
        uri = asyncio.run(builder.ensure_image([]))

    assert base == "292282985366.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-base-jobs:latest"
    assert uri == f"{REPOSITORY_URI}:{tag}"
    assert engine.logins == [{"username": "AWS", "password": "secret-password",
                              "registry": "https://292282985366.dkr.ecr.us-east-1.amazonaws.com"}]
    assert engine.api.pushes[0]["repository"] == REPOSITORY_URI


def test_build_context_is_sent_as_an_uncompressed_tar() -> None:
    buffer = images.build_context(make_recipe(BASE), b"")
    assert isinstance(buffer, io.BytesIO)
    assert tarfile.is_tarfile(buffer)


# --- progress of the build and the push -----------------------------------------------------------------

BUILD_STEPS = [
    {"stream": "Step 1/3 : FROM base\n"},
    {"stream": " ---> 1234\n"},
    {"stream": "Step 2/3 : RUN python3 -m pip install numpy\n"},
    {"stream": "Successfully installed numpy-2.1.0\n"},
    {"stream": "Step 3/3 : ENV SAGEMAKER_PROGRAM=braket_container.py\n"},
    {"stream": "Successfully built 5678\n"},
]
PUSH_STREAM = [
    {"status": "The push refers to repository [127.0.0.1:5999/amazon-braket-covalent-job-images]"},
    {"status": "Preparing", "id": "aaa"},
    {"status": "Preparing", "id": "bbb"},
    {"status": "Layer already exists", "id": "bbb"},
    {"status": "Pushing", "id": "aaa", "progressDetail": {"current": 512_000, "total": 2_000_000}},
    {"status": "Pushing", "id": "aaa", "progressDetail": {"current": 2_000_000, "total": 2_000_000}},
    {"status": "Pushed", "id": "aaa"},
    {"status": "tag: digest: sha256:" + "1" * 64 + " size: 1234"},
    {"aux": {"Tag": "tag", "Digest": "sha256:" + "1" * 64}},
]


def _build_and_push(progress: Progress, push_chunks: list[dict[str, Any]]) -> str:
    session, engine = FakeSession(), FakeDocker(BUILD_STEPS, push_chunks)
    tag = make_recipe(BASE, []).tag
    expect_repository(session.stubber)
    expect_image_missing(session.stubber, tag)
    expect_token(session.stubber)
    builder = make_builder(session, engine, progress=progress)
    with session.stubber:
        asyncio.run(builder.ensure_image([]))
    return tag


def test_quiet_progress_is_one_line_per_step_and_layer() -> None:
    lines: list[str] = []
    tag = _build_and_push(Progress.quiet(lines.append), PUSH_STREAM)
    target = f"127.0.0.1:5999/{REPOSITORY}"
    assert lines == [
        f"building job image {tag}...",
        f"building job image {tag}: Step 1/3 : FROM base",
        f"building job image {tag}: Step 2/3 : RUN python3 -m pip install numpy",
        f"build {tag}: Successfully installed numpy-2.1.0",
        f"building job image {tag}: Step 3/3 : ENV SAGEMAKER_PROGRAM=braket_container.py",
        f"building job image {tag}: done (3 steps)",
        f"pushing job image {tag} to {target}...",
        f"push {tag}: layer bbb: layer already exists",
        f"push {tag}: layer aaa...",
        f"push {tag}: layer aaa: done (2.0 MB)",
        f"push {tag}: digest sha256:{'1' * 64}",
        f"pushing job image {tag} to {target}: done (2 layers)",
    ]


def test_a_plain_function_gets_the_quiet_lines() -> None:
    session, engine, lines = FakeSession(), FakeDocker(), []
    builder = ImageBuilder(session, settings(), runtime.current().images,  # type: ignore[arg-type]
                           docker_client_factory=engine.factory, progress=lines.append)
    assert builder._progress.interactive is False
    builder._progress.note("hello")
    assert lines == ["hello"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_shows_the_build_and_each_layer_as_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    terminal = _Terminal()
    tag = _build_and_push(Progress.for_stream(terminal), PUSH_STREAM)
    output = terminal.getvalue()
    assert "\x1b[" in output
    assert f"building job image {tag}" in output
    assert "3/3 steps" in output
    assert f"push {tag}: layer aaa" in output
    assert "2.0 MB/2.0 MB" in output
    assert f"building job image {tag}..." not in output  # no quiet lines on a terminal


def test_a_failed_push_ends_its_open_layers_as_failed() -> None:
    failing = [
        {"status": "Pushing", "id": "aaa", "progressDetail": {"current": 1000, "total": 2_000_000}},
        {"errorDetail": {"message": "denied"}, "error": "denied: not allowed"},
    ]
    lines: list[str] = []
    with pytest.raises(JobImageError, match="denied: not allowed"):
        _build_and_push(Progress.quiet(lines.append), failing)
    tag = make_recipe(BASE, []).tag
    assert lines[-2:] == [f"push {tag}: layer aaa: failed",
                          f"pushing job image {tag} to 127.0.0.1:5999/{REPOSITORY}: failed"]
