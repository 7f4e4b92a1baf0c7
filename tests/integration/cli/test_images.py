"""``covalent-braket images list | prune`` against the local stack's ECR and its real image registry.

Images are pushed with ``docker push`` to the registry GetAuthorizationToken names, one of them under
the tag this client's environment would use (what ``make_recipe`` computes for the settings), and
pruned by the push dates ECR reports.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest

from covalent_braket_plugin import cli
from covalent_braket_plugin.cli.common import load_settings
from covalent_braket_plugin.inventory import image_listing as job_images
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.local.test_ecr import push_tiny_image

BASE_IMAGE = "covalent-braket/base:ops-test"


@pytest.fixture
def repository(braket_local_env: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh repository named in a covalent.conf of the test's own, with the settings' base image."""
    name = f"amazon-braket-ops-{uuid.uuid4().hex[:8]}"
    (tmp_path / "covalent.conf").write_text(
        f'[executors.braket]\necr_repo_name = "{name}"\nbase_image = "{BASE_IMAGE}"\npip_packages = ["six"]\n'
    )
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(tmp_path))
    return name


def _command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    status, out, err = _command(capsys, "images", "list", "--json")
    assert status == 0, err
    return json.loads(out)


def test_list_marks_the_current_image_and_prune_deletes_by_age_but_never_it(
    braket_local_env: LocalStack,
    repository: str,
    docker_engine: docker.DockerClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ecr: Any = boto3.client("ecr", region_name=braket_local_env.region)
    current = job_images.current_tag(load_settings(), braket_local_env.region)

    status, out, _ = _command(capsys, "images", "list")
    assert (status, out.strip()) == (0, f"(no job images in {repository})")  # not even a repository yet

    ecr.create_repository(repositoryName=repository)
    oldest = push_tiny_image(docker_engine, ecr, repository, ["oldest"])
    in_use = push_tiny_image(docker_engine, ecr, repository, [current, "alias"])
    newest = push_tiny_image(docker_engine, ecr, repository, ["newest"])

    listed = _listed(capsys)
    assert [image["digest"] for image in listed] == [newest, in_use, oldest]  # newest push first
    assert [image["tags"] for image in listed] == [["newest"], sorted(["alias", current]), ["oldest"]]
    assert [image["current"] for image in listed] == [False, True, False]
    assert all(image["size_bytes"] > 0 for image in listed)
    pushed = {image["digest"]: datetime.fromisoformat(image["pushed_at"]) for image in listed}
    assert pushed[oldest] < pushed[in_use] < pushed[newest]

    status, table, _ = _command(capsys, "images", "list")
    header, *rows = table.splitlines()
    assert header.split() == ["TAG", "SIZE", "PUSHED", "(UTC)", "CURRENT", "DIGEST"]
    assert [row.split()[0] for row in rows] == ["newest", f"{min('alias', current)},", "oldest"]
    assert [("*" in row.split()) for row in rows] == [False, True, False]

    # Nothing is 30 days old.
    status, out, _ = _command(capsys, "images", "prune", "--older-than", "30d", "--json")
    assert status == 0 and json.loads(out)["chosen"] == [] and json.loads(out)["deleted"] == []

    # Pushed before the newest image: the oldest goes, the one in use stays although older too.
    images = job_images.list_images(ecr, repository, {current})
    report = job_images.prune(ecr, repository, images, pushed[newest], dry_run=False)
    assert report.deleted == [oldest] and report.ok
    assert [image.digest for image in report.kept_current] == [in_use]
    assert [image["digest"] for image in _listed(capsys)] == [newest, in_use]
    gone = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": oldest}])
    assert gone["failures"][0]["failureCode"] == "ImageNotFound"

    # Everything is older than 0 s: a dry run names the newest image and deletes nothing.
    status, out, _ = _command(capsys, "images", "prune", "--older-than", "0s", "--dry-run", "--json")
    dry = json.loads(out)
    assert status == 0 and dry["dry_run"] is True and dry["deleted"] == []
    assert [image["digest"] for image in dry["chosen"]] == [newest]
    assert [image["digest"] for image in dry["kept_current"]] == [in_use]
    assert len(_listed(capsys)) == 2

    status, out, _ = _command(capsys, "images", "prune", "--older-than", "0s")
    assert status == 0
    assert out.splitlines()[0].startswith("deleted 1 image(s) pushed before ")
    assert "  newest" in out.splitlines() and any(
        "this environment's image" in line for line in out.splitlines()
    )
    assert [(image["digest"], image["current"]) for image in _listed(capsys)] == [(in_use, True)]
