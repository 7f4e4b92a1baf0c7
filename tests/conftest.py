"""Suite-wide rules and shared fixtures.

Under CI (``CI=true``) a skipped test is reported as a failure: CI is where every test must really run,
so a missing engine or tool there is a broken setup, not a reason to pass. Local runs may skip, with a
reason that says what is missing.

Tests under ``tests/integration`` and ``tests/e2e`` carry the ``integration`` and ``e2e`` markers
without declaring them, so ``pytest -m "not e2e"`` selects by directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import NoReturn

import docker
import docker.errors
import pytest

from covalent_braket_plugin.images import build_image, make_recipe, pip_build_args
from covalent_braket_plugin.local.base_image import (
    MissingPrerequisiteError,
    docker_client,
    ensure_base_image,
)

FreshPython = Callable[..., subprocess.CompletedProcess[str]]
"""The type of the ``fresh_python`` fixture, for the annotations of the tests that take it."""

_MARKER_BY_DIRECTORY = {"integration": "integration", "e2e": "e2e"}
_TESTS_DIR = Path(__file__).parent


def in_ci() -> bool:
    """True when the suite runs under CI, where skipping is not allowed."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test locally; under CI, fail it with the same reason."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this must be available, not skipped)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests_dir = _TESTS_DIR.resolve()
    for item in items:
        path = Path(item.path).resolve()
        if path.is_relative_to(tests_dir) and len(parts := path.relative_to(tests_dir).parts) > 1:
            marker = _MARKER_BY_DIRECTORY.get(parts[0])
            if marker:
                item.add_marker(marker)


def _skip_reason(longrepr: object) -> str:
    # A skip's longrepr is (file, line, "Skipped: reason").
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {_skip_reason(report.longrepr)}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if in_ci() and report.skipped:
        report.outcome = "failed"
        report.longrepr = (
            f"{collector.nodeid} skipped at collection under CI=true, where every test must run: "
            f"{_skip_reason(report.longrepr)}"
        )
    return report


@pytest.fixture
def fresh_python() -> FreshPython:
    """Run code in a new interpreter of this environment, for what only a fresh process shows
    (import order, lazy imports, import-time effects); a failure of the code fails the test with
    its stderr. Call it as ``fresh_python(code, *argv, timeout=seconds)``."""

    def run(code: str, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"exit status {done.returncode}:\n{done.stderr}"
        return done

    return run


@pytest.fixture(scope="session")
def docker_engine() -> docker.DockerClient:
    """A client of a Docker engine that answers."""
    try:
        return docker_client()
    except MissingPrerequisiteError as exc:
        skip_or_fail(str(exc))


@pytest.fixture(scope="session")
def job_base_image(docker_engine: docker.DockerClient) -> str:
    """The tag of the Debian base image job images are built FROM, built on first use."""
    try:
        return ensure_base_image(client=docker_engine)
    except MissingPrerequisiteError as exc:
        skip_or_fail(str(exc))


@pytest.fixture(scope="session")
def job_image(docker_engine: docker.DockerClient, job_base_image: str) -> str:
    """The tag of the executor's job image (no packages of an electron) on the Debian base, built in
    the local engine from ``Dockerfile.template`` as the executor builds it, training toolkit and all.
    Images the executor builds on that base later share its layers."""
    recipe = make_recipe(job_base_image)
    tag = f"covalent-braket-test-job:{recipe.tag}"
    try:
        docker_engine.images.get(tag)
    except docker.errors.ImageNotFound:
        build_image(docker_engine, recipe, tag, pip_build_args(), on_line=lambda line: None)
    return tag
