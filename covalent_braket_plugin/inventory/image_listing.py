"""The job images in the settings' ECR repository: list them, delete the old ones.

An image is named by a hash of the environment it holds (``images.make_recipe``), so every change of
base image, packages or client versions leaves the previous image behind in ECR, where it is paid
for until someone deletes it. The image this client's environment uses (the tag ``make_recipe``
computes for the settings' base image and ``pip_packages``) is marked, and never pruned: deleting
it would only make the next electron build and push it again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from covalent_braket_plugin.executor.progress import BYTES_UNIT, format_amount
from covalent_braket_plugin.images import make_recipe
from covalent_braket_plugin.inventory.formatting import format_time, iso_time, table
from covalent_braket_plugin.settings import BraketExecutorSettings

DELETE_BATCH = 100
"""BatchDeleteImage takes at most 100 image IDs per call."""


@dataclass(frozen=True)
class JobImage:
    """One image (manifest) of the repository and whether this client's environment uses it."""

    digest: str
    tags: tuple[str, ...]
    size: int
    pushed_at: datetime
    current: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "tags": list(self.tags),
            "size_bytes": self.size,
            "pushed_at": iso_time(self.pushed_at),
            "current": self.current,
        }


def current_tag(settings: BraketExecutorSettings, region: str) -> str:
    """The tag of the image an electron without pip packages of its own would run in, from this client."""
    return make_recipe(settings.resolve_base_image(region), settings.pip_packages).tag


def images_in_use(settings: BraketExecutorSettings, region: str) -> frozenset[str]:
    """Tags and digests of the images this client's electrons run in: the environment's tag, and the
    tag or digest of ``ecr_image_uri`` when that names a ready image (which may live in this repository)."""
    in_use = {current_tag(settings, region)}
    if settings.ecr_image_uri:
        in_use.add(
            settings.ecr_image_uri.rsplit("@", 1)[-1]
            if "@" in settings.ecr_image_uri
            else settings.ecr_image_uri.rsplit(":", 1)[-1]
        )
    return frozenset(in_use)


def list_images(ecr: Any, repository: str, in_use: Collection[str]) -> list[JobImage]:
    """Every image of ``repository``, newest push first; an absent repository holds none.

    An image is ``current`` when one of its tags, or its digest, is in ``in_use``.
    """
    found: list[JobImage] = []
    try:
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository):
            for detail in page.get("imageDetails", []):
                tags = tuple(sorted(detail.get("imageTags") or []))
                found.append(
                    JobImage(
                        digest=detail["imageDigest"],
                        tags=tags,
                        size=int(detail.get("imageSizeInBytes") or 0),
                        pushed_at=detail["imagePushedAt"],
                        current=bool(set(in_use) & {*tags, detail["imageDigest"]}),
                    )
                )
    except ecr.exceptions.RepositoryNotFoundException:
        return []
    return sorted(found, key=lambda image: (image.pushed_at, image.digest), reverse=True)


def images_table(images: Sequence[JobImage], repository: str) -> str:
    """``images list`` for a terminal; the image in use is marked ``*``."""
    if not images:
        return f"(no job images in {repository})"
    header = ("TAG", "SIZE", "PUSHED (UTC)", "CURRENT", "DIGEST")
    rows = [
        (
            ", ".join(image.tags) or "<untagged>",
            format_amount(image.size, BYTES_UNIT),
            format_time(image.pushed_at),
            "*" if image.current else "",
            image.digest[:19],
        )
        for image in images
    ]
    return table(header, rows)


@dataclass
class PruneReport:
    """Which images a prune chose, deleted, or failed to delete (digest -> reason)."""

    chosen: list[JobImage]
    kept_current: list[JobImage]
    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "chosen": [image.to_json() for image in self.chosen],
            "kept_current": [image.to_json() for image in self.kept_current],
            "deleted": self.deleted,
            "failed": self.failed,
        }

    def describe(self, cutoff: datetime) -> str:
        freed = format_amount(sum(image.size for image in self.chosen), BYTES_UNIT)
        verb = "would delete" if self.dry_run else "deleted"
        count = len(self.chosen) if self.dry_run else len(self.deleted)
        lines = [
            f"{verb} {count} image(s) pushed before {format_time(cutoff)} UTC ({freed})"
            + (" (dry run, nothing deleted)" if self.dry_run else "")
        ]
        lines += [
            f"  {', '.join(image.tags) or image.digest}"
            for image in self.chosen
            if self.dry_run or image.digest in self.deleted
        ]
        lines += [f"  kept {', '.join(image.tags)}: this environment's image" for image in self.kept_current]
        lines += [f"  FAILED {digest}: {reason}" for digest, reason in self.failed.items()]
        return "\n".join(lines)


def prune(
    ecr: Any, repository: str, images: Sequence[JobImage], cutoff: datetime, dry_run: bool
) -> PruneReport:
    """Delete the images pushed before ``cutoff``, except the one the current environment uses.

    Images go by digest, so an image goes with all its tags.
    """
    old = [image for image in images if image.pushed_at < cutoff]
    report = PruneReport(
        chosen=[image for image in old if not image.current],
        kept_current=[image for image in old if image.current],
        dry_run=dry_run,
    )
    if dry_run:
        return report
    digests = [image.digest for image in report.chosen]
    for start in range(0, len(digests), DELETE_BATCH):
        batch = digests[start : start + DELETE_BATCH]
        answer = ecr.batch_delete_image(
            repositoryName=repository, imageIds=[{"imageDigest": digest} for digest in batch]
        )
        for image_id in answer.get("imageIds", []):
            if image_id.get("imageDigest") and image_id["imageDigest"] not in report.deleted:
                report.deleted.append(image_id["imageDigest"])
        for failure in answer.get("failures", []):
            digest = failure.get("imageId", {}).get("imageDigest", "?")
            report.failed[digest] = f"{failure.get('failureCode')}: {failure.get('failureReason')}"
    return report
