"""Input channels of an electron's job (the ``input_data`` setting), as Braket's ``inputDataConfig``.

A channel is an S3 URI, used as it is, or a local file or folder. A local one is uploaded once,
named by the SHA-256 of its content (``covalent-braket/input/<digest>/``), so every electron and
every dispatch that names the same data reuses the same objects, and changed data gets new ones.
Braket downloads each channel into ``$AMZN_BRAKET_INPUT_DIR/<channel>/`` before the electron
starts (a file under its own name, a folder's content as it is), which
``covalent_braket_plugin.input_path(channel)`` names inside the electron.

The input objects are shared by electrons, so an electron's clean-up leaves them; the bucket's
lifecycle rule for the plugin's prefix expires them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from covalent_braket_plugin.s3_layout import INPUT_PREFIX

_READ_BYTES = 1 << 20


def local_files(path: Path) -> list[tuple[str, Path]]:
    """The files of a local channel, as (name inside the channel, path), in a stable order."""
    if path.is_file():
        return [(path.name, path)]
    return sorted((file.relative_to(path).as_posix(), file) for file in path.rglob("*") if file.is_file())


def content_digest(files: list[tuple[str, Path]]) -> str:
    """The SHA-256 of the names and contents of ``files``, read in chunks."""
    digest = hashlib.sha256()
    for name, file in files:
        digest.update(f"{name}\0{file.stat().st_size}\0".encode())
        with file.open("rb") as stream:
            while chunk := stream.read(_READ_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


def stage_channels(s3: Any, bucket: str, owner: str, channels: Mapping[str, str]) -> dict[str, str]:
    """Each channel's S3 URI for CreateJob, uploading local data that is not in the bucket yet.

    An upload ends with a manifest (``<digest>.json``, beside the data so no channel downloads it);
    data whose manifest exists is complete and is not sent again.
    """
    staged: dict[str, str] = {}
    for name, source in channels.items():
        if source.startswith("s3://"):
            staged[name] = source
            continue
        path = Path(source)
        files = local_files(path)
        digest = content_digest(files)
        prefix = f"{INPUT_PREFIX}/{digest}/"
        manifest = f"{INPUT_PREFIX}/{digest}.json"
        if not _exists(s3, bucket, manifest, owner):
            for relative, file in files:
                s3.upload_file(str(file), bucket, prefix + relative, ExtraArgs={"ExpectedBucketOwner": owner})
            body = json.dumps({"source": source, "files": [relative for relative, _ in files]}).encode()
            s3.put_object(Bucket=bucket, Key=manifest, Body=body, ExpectedBucketOwner=owner)
        staged[name] = f"s3://{bucket}/{prefix}{path.name if path.is_file() else ''}"
    return staged


def _exists(s3: Any, bucket: str, key: str, owner: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner)
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True
