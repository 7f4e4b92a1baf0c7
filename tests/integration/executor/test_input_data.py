"""input_data on the local stack: an electron reads a local file and folder through its job's input
channels, with the data uploaded once however many electrons name it (process runner)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import boto3

from covalent_braket_plugin import input_path, s3_layout
from covalent_braket_plugin.executor import input_data
from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import electron_metadata, executor_for
from tests.integration.executor.conftest import BUCKET


def test_an_electron_reads_local_data_through_its_input_channels(stack: LocalStack, tmp_path: Path) -> None:
    angles = tmp_path / "angles.txt"
    angles.write_text(f"0.1 0.2 {uuid.uuid4()}")  # new content each run: a new upload
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("1")
    (folder / "sub" / "b.csv").write_text("2")

    def read_channels() -> dict[str, Any]:
        return {
            "angles": (input_path("angles") / "angles.txt").read_text(),
            "folder": sorted(p.relative_to(input_path("folder")).as_posix()
                             for p in input_path("folder").rglob("*") if p.is_file()),
        }

    def run() -> dict[str, Any]:
        executor = executor_for(BUCKET, input_data={"angles": str(angles), "folder": str(folder)})
        return asyncio.run(executor.run(read_channels, [], {}, electron_metadata()))

    assert run() == {"angles": angles.read_text(), "folder": ["a.csv", "sub/b.csv"]}
    s3 = boto3.client("s3", **stack.client_kwargs())
    digest = input_data.content_digest(input_data.local_files(angles))

    def stored() -> list[tuple[str, Any]]:
        listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{s3_layout.INPUT_PREFIX}/{digest}")
        return [(item["Key"], item["LastModified"]) for item in listing.get("Contents", [])]

    first = stored()
    assert [key for key, _ in first] == [
        f"{s3_layout.INPUT_PREFIX}/{digest}.json", f"{s3_layout.INPUT_PREFIX}/{digest}/angles.txt"
    ]
    # A second electron with the same data: the same objects, not uploaded again; kept after clean-up.
    assert run()["angles"] == angles.read_text()
    assert stored() == first
