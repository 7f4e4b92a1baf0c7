"""Checkpoints across attempts: the newest earlier attempt's files copied into the next attempt's
prefix, renamed for the SDK's load_job_checkpoint() (S3 faked in memory)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.executor import checkpoints
from covalent_braket_plugin.s3_layout import ElectronLocation
from covalent_braket_plugin.settings import BraketExecutorSettings

BUCKET = "amazon-braket-b"
OWNER = "123456789012"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryS3:
    """ListObjectsV2 (with Delimiter) and CopyObject over a dict of key -> LastModified."""

    def __init__(self, objects: dict[str, datetime]) -> None:
        self.objects = dict(objects)
        self.copies: list[tuple[str, str]] = []

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, Prefix: str, ExpectedBucketOwner: str, Delimiter: str = "") -> Any:
        assert Bucket == BUCKET and ExpectedBucketOwner == OWNER
        keys = sorted(key for key in self.objects if key.startswith(Prefix))
        if Delimiter:
            common = sorted({Prefix + key[len(Prefix):].split(Delimiter)[0] + Delimiter
                             for key in keys if Delimiter in key[len(Prefix):]})
            return [{"CommonPrefixes": [{"Prefix": prefix} for prefix in common]}]
        return [{"Contents": [{"Key": key, "LastModified": self.objects[key]} for key in keys]}]

    def copy_object(self, Bucket: str, Key: str, CopySource: dict[str, str], **owners: str) -> None:
        assert owners == {"ExpectedBucketOwner": OWNER, "ExpectedSourceBucketOwner": OWNER}
        self.copies.append((CopySource["Key"], Key))
        self.objects[Key] = T0 + timedelta(days=1)


def _location(job: str) -> ElectronLocation:
    return ElectronLocation.for_electron(BUCKET, "d1", 7, job)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("job-a1.json", "job-a2.json"), ("job-a1_params.json", "job-a2_params.json"),
     ("sub/job-a1.json", "sub/job-a2.json"), ("weights.npy", "weights.npy"),
     ("job-a10.json", "job-a10.json")],
)
def test_the_sdks_checkpoint_files_follow_the_job(name: str, expected: str) -> None:
    assert checkpoints.renamed(name, "job-a1", "job-a2") == expected


def test_the_next_attempt_starts_with_the_newest_earlier_checkpoints() -> None:
    first, second, third = (
        checkpoints.checkpoint_prefix(_location(job)) for job in ("job-a1", "job-a2", "job-a3")
    )
    s3 = MemoryS3({
        f"{_location('job-a1').call_key}": T0,
        f"{first}job-a1.json": T0,
        f"{second}job-a2.json": T0 + timedelta(hours=1),
        f"{second}extra/state.bin": T0 + timedelta(minutes=5),
    })
    uri = checkpoints.prepare(s3, _location("job-a3"), "job-a3", OWNER)
    assert uri == f"s3://{BUCKET}/{third}"
    assert sorted(s3.copies) == [(f"{second}extra/state.bin", f"{third}extra/state.bin"),
                                 (f"{second}job-a2.json", f"{third}job-a3.json")]
    # Repeated for the same attempt (a CreateJob sent again): its own checkpoints are kept.
    s3.copies.clear()
    assert checkpoints.prepare(s3, _location("job-a3"), "job-a3", OWNER) == uri
    assert s3.copies == []


def test_a_first_attempt_starts_empty_and_the_setting_is_off_by_default() -> None:
    s3 = MemoryS3({})
    assert checkpoints.prepare(s3, _location("job-a1"), "job-a1", OWNER).endswith("/job/checkpoints/")
    assert s3.copies == []
    assert checkpoints.prepare(s3, _location("job-a1"), "job-a1", OWNER, enabled=False) == ""
    assert BraketExecutorSettings.from_options().checkpoints is False


def test_the_request_names_the_checkpoint_location() -> None:
    spec = hybrid_jobs.JobSpec(
        name="n", role_arn="r", image_uri="i", source_uri="s", device="d", instance_type="ml.m5.large",
        volume_size_gb=30, max_runtime_s=60, output_s3_path="s3://b/o/", checkpoint_uri="s3://b/o/checkpoints/",
    )
    assert spec.create_job_request()["checkpointConfig"] == {"s3Uri": "s3://b/o/checkpoints/"}
    without = hybrid_jobs.JobSpec(**{**spec.__dict__, "checkpoint_uri": ""})
    assert "checkpointConfig" not in without.create_job_request()
