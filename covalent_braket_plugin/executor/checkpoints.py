"""Checkpoints that survive an electron's attempts (the ``checkpoints`` setting).

Each attempt's job gets Braket's ``checkpointConfig``: an S3 prefix, downloaded into
``$AMZN_BRAKET_CHECKPOINT_DIR`` when the job starts and uploaded from it as the job runs and when it
ends, however it ends. The prefix lies inside the attempt's own objects
(``covalent-braket/<dispatch>/<node>/<job name>/job/checkpoints/``), where the job may write and
which the electron's clean-up leaves (it deletes only the keys it knows).

Before the next attempt of the same electron (Covalent's ``retries``, or the node run again) is
created, the newest checkpoints of an earlier attempt are copied into its prefix, as the SDK's
``copy_checkpoints_from_job`` does. The SDK names a checkpoint file after the job that saved it
(``<job name>[_<suffix>].json``) and ``load_job_checkpoint()`` looks for the current job's name, so
the copies are renamed to the new job: the electron resumes with a plain ``load_job_checkpoint()``.
"""

from __future__ import annotations

from typing import Any

from covalent_braket_plugin.s3_layout import ElectronLocation

CHECKPOINTS = "checkpoints/"


def checkpoint_prefix(location: ElectronLocation) -> str:
    """The attempt's checkpoint prefix (inside its job output, where the job may write)."""
    return f"{location.job_output_prefix}{CHECKPOINTS}"


def prepare(s3: Any, location: ElectronLocation, job_name: str, owner: str, enabled: bool = True) -> str:
    """The attempt's checkpoint S3 URI, holding the newest earlier attempt's checkpoints; empty when
    not ``enabled`` (the ``checkpoints`` setting).

    An attempt that has checkpoints of its own already (its CreateJob repeated) keeps them.
    """
    if not enabled:
        return ""
    own = checkpoint_prefix(location)
    uri = location.uri(own)
    if _objects(s3, location.bucket, own, owner):
        return uri
    node = location.prefix.rstrip("/").rsplit("/", 1)[0] + "/"
    newest: tuple[Any, str, list[dict[str, Any]]] | None = None
    for attempt in _attempts(s3, location.bucket, node, owner):
        if attempt == location.prefix:
            continue
        earlier = checkpoint_prefix(ElectronLocation(location.bucket, attempt))
        found = _objects(s3, location.bucket, earlier, owner)
        if found:
            latest = max(item["LastModified"] for item in found)
            if newest is None or latest > newest[0]:
                newest = (latest, attempt, found)
    if newest is None:
        return uri
    _, attempt, found = newest
    previous_name = attempt.rstrip("/").rsplit("/", 1)[1]
    source = checkpoint_prefix(ElectronLocation(location.bucket, attempt))
    for item in found:
        relative = renamed(item["Key"][len(source):], previous_name, job_name)
        s3.copy_object(
            Bucket=location.bucket,
            Key=own + relative,
            CopySource={"Bucket": location.bucket, "Key": item["Key"]},
            ExpectedBucketOwner=owner,
            ExpectedSourceBucketOwner=owner,
        )
    return uri


def renamed(relative: str, previous_name: str, job_name: str) -> str:
    """A checkpoint file's name for the new job: the SDK's ``<job>[_<suffix>].json`` files follow
    the job, anything else keeps its name."""
    folder, _, name = relative.rpartition("/")
    if name == f"{previous_name}.json" or (name.startswith(f"{previous_name}_") and name.endswith(".json")):
        name = job_name + name[len(previous_name):]
    return f"{folder}/{name}" if folder else name


def _attempts(s3: Any, bucket: str, node_prefix: str, owner: str) -> list[str]:
    """The attempt prefixes (one per job) of an electron."""
    prefixes: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=bucket, Prefix=node_prefix, Delimiter="/", ExpectedBucketOwner=owner)
    for page in pages:
        prefixes.extend(entry["Prefix"] for entry in page.get("CommonPrefixes", []))
    return prefixes


def _objects(s3: Any, bucket: str, prefix: str, owner: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, ExpectedBucketOwner=owner):
        found.extend(item for item in page.get("Contents", []) if not item["Key"].endswith("/"))
    return found
