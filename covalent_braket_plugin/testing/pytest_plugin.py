"""pytest fixtures for testing against the local Braket stack.

Installed as the ``braket_local_stack`` pytest11 plugin, so any project that installs
``covalent-braket-plugin[local]`` gets them without a conftest:

- ``braket_local_stack`` (session): a running ``LocalStack`` on a free port. Its job runner is
  ``process`` unless ``--braket-local-runner`` says otherwise, so the fixture needs no Docker engine.
- ``braket_local_env`` (function): points boto3 and the Braket SDK at that stack for one test by
  setting ``AWS_ENDPOINT_URL``, the stack's credentials and the region, and hiding any profile or
  session token that would otherwise win over them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from covalent_braket_plugin.local.stack import CONFLICTING_VARIABLES, LocalStack

RUNNERS = ("process", "docker", "auto")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("braket-local", "local Braket stack")
    group.addoption(
        "--braket-local-runner",
        choices=RUNNERS,
        default="process",
        help="how the braket_local_stack fixture runs hybrid jobs (default: process)",
    )


@pytest.fixture(scope="session")
def braket_local_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """One local Braket stack for the whole test session."""
    runner = request.config.getoption("--braket-local-runner")
    with LocalStack(port=0, runner=runner, state_dir=tmp_path_factory.mktemp("braket-local")) as stack:
        yield stack


def point_at(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """Point boto3 and the Braket SDK in this process at ``stack`` until ``monkeypatch`` undoes it.

    For fixtures of a wider scope than a test: ``with pytest.MonkeyPatch.context() as patch:
    yield point_at(stack, patch)``.
    """
    for name in CONFLICTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")]:
        monkeypatch.delenv(name)
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    # boto3.client() reuses one default session, which keeps the credentials it first found; each
    # stack has a key of its own, so the next boto3.client() must read this stack's from the environment.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return stack


@pytest.fixture
def braket_local_env(braket_local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """Point every boto3 client and Braket SDK call made during the test at the local stack."""
    return point_at(braket_local_stack, monkeypatch)
