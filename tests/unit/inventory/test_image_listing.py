"""The job images in ECR (``inventory/image_listing.py``): which image this environment uses, the
listing, and what a prune deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from covalent_braket_plugin.images import make_recipe
from covalent_braket_plugin.inventory import image_listing as job_images
from covalent_braket_plugin.inventory.image_listing import JobImage
from covalent_braket_plugin.settings import BraketExecutorSettings

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
REPOSITORY = "amazon-braket-covalent-job-images"


def image(name: str, days_old: float, current: bool = False, tags: tuple[str, ...] | None = None) -> JobImage:
    return JobImage(
        digest=f"sha256:{name * 64}"[:71],
        tags=(name,) if tags is None else tags,
        size=250_000_000,
        pushed_at=NOW - timedelta(days=days_old),
        current=current,
    )


def _ecr() -> tuple[Any, Stubber]:
    client = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def test_current_tag_is_the_one_the_executor_would_build() -> None:
    settings = BraketExecutorSettings.from_options(region="us-east-1", pip_packages="scipy numpy")
    expected = make_recipe(settings.resolve_base_image("us-east-1"), ["numpy", "scipy"]).tag
    assert job_images.current_tag(settings, "us-east-1") == expected
    assert job_images.current_tag(settings, "eu-west-2") != expected  # another region's base image


def test_a_ready_image_given_as_ecr_image_uri_is_in_use_too() -> None:
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images"
    by_tag = BraketExecutorSettings.from_options(region="us-east-1", ecr_image_uri=f"{uri}:v7")
    assert job_images.images_in_use(by_tag, "us-east-1") == {
        job_images.current_tag(by_tag, "us-east-1"),
        "v7",
    }
    digest = "sha256:" + "e" * 64
    by_digest = BraketExecutorSettings.from_options(region="us-east-1", ecr_image_uri=f"{uri}@{digest}")
    assert digest in job_images.images_in_use(by_digest, "us-east-1")
    plain = BraketExecutorSettings.from_options(region="us-east-1")
    assert job_images.images_in_use(plain, "us-east-1") == {job_images.current_tag(plain, "us-east-1")}


def test_list_pages_and_marks_the_current_image() -> None:
    ecr, stubber = _ecr()
    detail = {"registryId": "123456789012", "repositoryName": REPOSITORY, "imageSizeInBytes": 1000}
    stubber.add_response(
        "describe_images",
        {
            "imageDetails": [
                {
                    **detail,
                    "imageDigest": "sha256:" + "a" * 64,
                    "imageTags": ["old"],
                    "imagePushedAt": NOW - timedelta(days=40),
                }
            ],
            "nextToken": "2",
        },
        {"repositoryName": REPOSITORY},
    )
    stubber.add_response(
        "describe_images",
        {
            "imageDetails": [
                {
                    **detail,
                    "imageDigest": "sha256:" + "b" * 64,
                    "imageTags": ["mine", "alias"],
                    "imagePushedAt": NOW - timedelta(days=1),
                },
                {**detail, "imageDigest": "sha256:" + "c" * 64, "imagePushedAt": NOW},
            ]
        },
        {"repositoryName": REPOSITORY, "nextToken": "2"},
    )
    with stubber:
        found = job_images.list_images(ecr, REPOSITORY, {"mine"})
    assert [(i.tags, i.current) for i in found] == [((), False), (("alias", "mine"), True), (("old",), False)]
    text = job_images.images_table(found, REPOSITORY)
    lines = text.splitlines()
    assert lines[0].split() == ["TAG", "SIZE", "PUSHED", "(UTC)", "CURRENT", "DIGEST"]
    assert lines[1].startswith("<untagged>")
    assert lines[2].split()[:5] == ["alias,", "mine", "1.0", "kB", "2026-11-21"]
    assert "*" in lines[2].split() and "*" not in lines[3].split()
    assert found[1].to_json()["pushed_at"] == "2026-11-21T12:00:00+00:00"


def test_an_absent_repository_holds_no_images() -> None:
    ecr, stubber = _ecr()
    stubber.add_client_error("describe_images", service_error_code="RepositoryNotFoundException")
    with stubber:
        assert job_images.list_images(ecr, REPOSITORY, {"mine"}) == []
    assert job_images.images_table([], REPOSITORY) == f"(no job images in {REPOSITORY})"


def test_prune_chooses_old_images_but_never_the_current_one() -> None:
    images = [image("a", 40), image("b", 31, current=True), image("c", 29), image("d", 100, tags=())]
    report = job_images.prune(None, REPOSITORY, images, NOW - timedelta(days=30), dry_run=True)
    assert [i.digest for i in report.chosen] == [images[0].digest, images[3].digest]
    assert report.kept_current == [images[1]]
    assert report.deleted == [] and report.ok
    text = report.describe(NOW - timedelta(days=30))
    assert text.splitlines()[0] == (
        "would delete 2 image(s) pushed before 2026-10-23 12:00:00 UTC (500.0 MB) (dry run, nothing deleted)"
    )
    assert "  kept b: this environment's image" in text


def test_prune_deletes_by_digest_in_batches_and_reports_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_images, "DELETE_BATCH", 2)
    images = [image(name, 50) for name in "abc"]
    ecr, stubber = _ecr()
    ids = [{"imageDigest": i.digest} for i in images]
    stubber.add_response(
        "batch_delete_image",
        {"imageIds": [{**ids[0], "imageTag": "a"}, {**ids[1], "imageTag": "b"}], "failures": []},
        {"repositoryName": REPOSITORY, "imageIds": ids[:2]},
    )
    stubber.add_response(
        "batch_delete_image",
        {
            "failures": [
                {
                    "imageId": ids[2],
                    "failureCode": "ImageNotFound",
                    "failureReason": "Requested image not found",
                }
            ],
        },
        {"repositoryName": REPOSITORY, "imageIds": ids[2:]},
    )
    with stubber:
        report = job_images.prune(ecr, REPOSITORY, images, NOW, dry_run=False)
    assert report.deleted == [images[0].digest, images[1].digest]
    assert report.failed == {images[2].digest: "ImageNotFound: Requested image not found"}
    assert not report.ok
    text = report.describe(NOW)
    assert text.startswith("deleted 2 image(s) pushed before 2026-11-22 12:00:00 UTC")
    assert f"  FAILED {images[2].digest}: ImageNotFound" in text
    assert report.to_json()["deleted"] == report.deleted
