"""S3 objects of one electron: upload, the runner archive, outputs, cleanup (against moto's S3)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import pytest
from moto import mock_aws

from covalent_braket_plugin import s3_layout
from covalent_braket_plugin.executor import runtime, transfer
from covalent_braket_plugin.job import runner

OWNER = "123456789012"
BUCKET = "amazon-braket-transfer-test"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 with one bucket; every request's operation and parameters are recorded."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
        client.create_bucket(Bucket=BUCKET)
        client.requests = []

        def record(params: dict, model: Any, **_: Any) -> None:
            client.requests.append((model.name, dict(params)))

        client.meta.events.register("provide-client-params.s3.*", record)
        yield client


@pytest.fixture
def location() -> s3_layout.ElectronLocation:
    return s3_layout.ElectronLocation.for_electron(
        BUCKET, "dispatch-1", 4, "covalent-dispatch-n4-a1-0123456789"
    )


def _keys(s3: Any, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_every_object_of_a_task_lives_under_one_prefix(location: s3_layout.ElectronLocation) -> None:
    assert location.prefix == "covalent-braket/dispatch-1/4/covalent-dispatch-n4-a1-0123456789/"
    for key in (location.call_key, location.output_prefix, location.job_output_prefix):
        assert key.startswith(location.prefix)
    assert location.uri(location.output_prefix).endswith("/output/")


def _pickled(tmp_path: Path, payload: bytes, name: str = "task.pkl") -> transfer.PickledCall:
    """A pickled task's file holding ``payload`` (what upload_call sends, whatever it holds)."""
    path = tmp_path / name
    path.write_bytes(payload)
    return transfer.PickledCall(path, len(payload), hashlib.sha256(payload).hexdigest())


def test_a_task_is_pickled_into_its_file_hashed_as_written(tmp_path: Path) -> None:
    call = (len, [b"x" * 2**20], {})
    pickled = transfer.pickle_call(call, tmp_path / "task.pkl")
    written = pickled.path.read_bytes()
    assert pickled.size == len(written)
    assert pickled.sha256 == hashlib.sha256(written).hexdigest()
    fn, args, kwargs = cloudpickle.loads(written)
    assert fn(*args, **kwargs) == 2**20


def test_upload_task_stores_the_payload_and_names_the_bucket_owner(
    s3: Any, location: s3_layout.ElectronLocation, tmp_path: Path
) -> None:
    uri = transfer.upload_call(s3, location, _pickled(tmp_path, b"pickled"), OWNER)
    assert [(name, params["ExpectedBucketOwner"]) for name, params in s3.requests] == [("PutObject", OWNER)]
    assert uri == f"s3://{BUCKET}/{location.call_key}"
    assert s3.get_object(Bucket=BUCKET, Key=location.call_key)["Body"].read() == b"pickled"


def test_runner_archive_is_the_runner_under_its_module_name_and_byte_for_byte_stable() -> None:
    transfer.runner_archive.cache_clear()
    digest, archive = transfer.runner_archive()
    transfer.runner_archive.cache_clear()
    assert transfer.runner_archive() == (digest, archive)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive))) as tar:
        assert tar.getnames() == ["covalent_braket_runner.py"]
        source = tar.extractfile("covalent_braket_runner.py").read()
    assert source == runner.source_path().read_bytes()
    assert digest == hashlib.sha256(archive).hexdigest()  # what the job's script mode checks


def test_runner_source_is_put_with_a_sha256_checksum_under_its_digest(s3: Any) -> None:
    uri = transfer.upload_runner_source(s3, BUCKET, OWNER)
    digest, archive = transfer.runner_archive()
    key = uri.removeprefix(f"s3://{BUCKET}/")
    assert key == transfer.runner_archive_key() and digest[:16] in key
    assert [(name, params.get("ChecksumAlgorithm")) for name, params in s3.requests] == [
        ("HeadObject", None),
        ("PutObject", "SHA256"),
    ]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == archive
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(archive).digest()).decode()


def test_an_archive_in_place_costs_one_head_per_electron(s3: Any) -> None:
    transfer.upload_runner_source(s3, BUCKET, OWNER)
    s3.requests.clear()
    transfer.upload_runner_source(s3, BUCKET, OWNER)
    transfer.upload_runner_source(s3, BUCKET, OWNER)
    asked = [(name, params["ChecksumMode"], params["ExpectedBucketOwner"]) for name, params in s3.requests]
    assert asked == [("HeadObject", "ENABLED", OWNER)] * 2


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda s3, key: s3.delete_object(Bucket=BUCKET, Key=key), id="deleted"),
        pytest.param(
            lambda s3, key: s3.put_object(Bucket=BUCKET, Key=key, Body=b"forged", ChecksumAlgorithm="SHA256"),
            id="rewritten",
        ),
        pytest.param(
            # Same size, other bytes: the size alone does not tell them apart.
            lambda s3, key: s3.put_object(
                Bucket=BUCKET,
                Key=key,
                Body=bytes(len(transfer.runner_archive()[1])),
                ChecksumAlgorithm="SHA256",
            ),
            id="same-size",
        ),
        pytest.param(
            # Without a SHA-256 checksum the object cannot be compared: it is put again.
            lambda s3, key: s3.put_object(Bucket=BUCKET, Key=key, Body=transfer.runner_archive()[1]),
            id="no-checksum",
        ),
    ],
)
def test_a_missing_or_different_archive_is_put_again(s3: Any, damage: Any) -> None:
    key = transfer.upload_runner_source(s3, BUCKET, OWNER).removeprefix(f"s3://{BUCKET}/")
    damage(s3, key)
    s3.requests.clear()
    transfer.upload_runner_source(s3, BUCKET, OWNER)
    assert [name for name, _ in s3.requests] == ["HeadObject", "PutObject"]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == transfer.runner_archive()[1]


def _download(s3: Any, location: s3_layout.ElectronLocation, **options: Any) -> transfer.ElectronOutputs:
    """The outputs as the executor collects them: fetched side by side on the runtime's threads."""
    blocking = runtime.current().blocking
    return asyncio.run(transfer.download_outputs(s3, location, OWNER, blocking, **options))


def test_outputs_the_runner_never_wrote_come_back_empty(
    s3: Any, location: s3_layout.ElectronLocation
) -> None:
    outputs = _download(s3, location)
    assert outputs == transfer.ElectronOutputs(returned=False, result=None, stdout="", stderr="", error=None)


def test_outputs_come_back_as_written(s3: Any, location: s3_layout.ElectronLocation) -> None:
    report = {"type": "ValueError", "message": "bad", "traceback": "Traceback ...\nValueError: bad\n"}
    files = {
        runner.RESULT_FILE: b"result-bytes",
        runner.STDOUT_FILE: "hello ✓\n".encode(),
        runner.STDERR_FILE: b"warning\n",
        runner.ERROR_FILE: json.dumps(report).encode(),
    }
    for name, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=location.output_prefix + name, Body=body)
    outputs = _download(s3, location)
    assert outputs == transfer.ElectronOutputs(
        returned=True, result=None, stdout="hello ✓\n", stderr="warning\n", error=report
    )


def _requested_keys(s3: Any) -> list[str]:
    keys: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: keys.append(params["Key"])
    )
    return keys


def test_after_a_completed_job_the_result_comes_to_its_file_and_error_json_only_without_one(
    s3: Any, location: s3_layout.ElectronLocation, tmp_path: Path
) -> None:
    asked = _requested_keys(s3)
    s3.put_object(Bucket=BUCKET, Key=location.result_key, Body=cloudpickle.dumps({"answer": 42}))
    outputs = _download(s3, location, result_file=tmp_path / "result.pkl")
    assert outputs.returned and outputs.result == tmp_path / "result.pkl"
    assert transfer.load_result(outputs.result) == {"answer": 42}
    assert not any(key.endswith(runner.ERROR_FILE) for key in asked)

    s3.delete_object(Bucket=BUCKET, Key=location.result_key)
    report = {"type": "KeyError", "message": "x", "traceback": "KeyError: x"}
    s3.put_object(Bucket=BUCKET, Key=location.output_prefix + runner.ERROR_FILE, Body=json.dumps(report))
    outputs = _download(s3, location, result_file=tmp_path / "again.pkl")
    assert (outputs.returned, outputs.result, outputs.error) == (False, None, report)


def test_a_large_result_is_downloaded_in_parts_straight_to_its_file(
    s3: Any, location: s3_layout.ElectronLocation, tmp_path: Path
) -> None:
    payload = cloudpickle.dumps(b"r" * (20 * 2**20))  # above boto3's multipart threshold
    s3.put_object(Bucket=BUCKET, Key=location.result_key, Body=payload)
    ranges: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: ranges.append(params.get("Range"))
    )
    assert transfer.download_result(s3, location, OWNER, tmp_path / "result.pkl")
    assert len(ranges) > 1 and all(ranges)  # ranged parts, never one whole body
    assert transfer.load_result(tmp_path / "result.pkl") == b"r" * (20 * 2**20)


def test_a_task_uploaded_with_progress_reports_every_byte(
    s3: Any, location: s3_layout.ElectronLocation, tmp_path: Path
) -> None:
    sent: list[int] = []
    payload = b"p" * (9 * 2**20)  # above boto3's multipart threshold: sent in parts
    uri = transfer.upload_call(s3, location, _pickled(tmp_path, payload), OWNER, progress=sent.append)
    assert uri == location.uri(location.call_key)
    assert sum(sent) == len(payload) and len(sent) > 1
    assert s3.get_object(Bucket=BUCKET, Key=location.call_key)["Body"].read() == payload


def test_cleanup_removes_every_object_of_the_task_and_nothing_else(
    s3: Any, location: s3_layout.ElectronLocation, tmp_path: Path
) -> None:
    # Everything a task can leave: its pickle, the runner's four files, Braket's model.tar.gz.
    transfer.upload_call(s3, location, _pickled(tmp_path, b"pickled"), OWNER)
    for name in (runner.RESULT_FILE, runner.STDOUT_FILE, runner.STDERR_FILE, runner.ERROR_FILE):
        s3.put_object(Bucket=BUCKET, Key=location.output_prefix + name, Body=b"x")
    s3.put_object(Bucket=BUCKET, Key=f"{location.job_output_prefix}output/model.tar.gz", Body=b"x")
    other = s3_layout.ElectronLocation.for_electron(BUCKET, "dispatch-1", 40, "covalent-other")
    transfer.upload_call(s3, other, _pickled(tmp_path, b"pickled"), OWNER)
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))

    transfer.delete_electron_objects(s3, location, OWNER)
    assert calls == ["DeleteObjects"]  # the keys are known: no listing
    assert _keys(s3) == [other.call_key]
