"""input_data: channels checked as CreateJob checks them, local data uploaded once by content, the
request's inputDataConfig, and the input_path helper the electron calls in the job (S3 stubbed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import pytest
from botocore.stub import Stubber

from covalent_braket_plugin import hybrid_jobs, input_path, s3_layout
from covalent_braket_plugin.errors import ExecutorConfigError
from covalent_braket_plugin.executor import input_data
from covalent_braket_plugin.settings import BraketExecutorSettings

BUCKET = "amazon-braket-covalent-job-resources"
OWNER = "123456789012"


def test_channels_are_checked_before_any_aws_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data.csv").write_text("1,2\n")
    monkeypatch.chdir(tmp_path)
    settings = BraketExecutorSettings.from_options(
        input_data={"table": "data.csv", "folder": ".", "remote": "s3://amazon-braket-x/inputs/"}
    )
    # Relative paths are made absolute where the executor is made.
    assert settings.input_data == {
        "table": str(tmp_path / "data.csv"), "folder": str(tmp_path), "remote": "s3://amazon-braket-x/inputs/"
    }
    assert BraketExecutorSettings.from_options(input_data=json.dumps({"t": "data.csv"})).input_data == {
        "t": str(tmp_path / "data.csv")
    }


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ({"my data": "/"}, "channel 'my data': name channels with 1-64 letters"),
        ({"x" * 65: "/"}, "name channels with 1-64 letters"),
        ({"data": "/no/such/file"}, "channel 'data': '/no/such/file' is neither an S3 URI nor an existing"),
        ({"data": "s3://Bucket/"}, "channel 'data': 's3://Bucket/' is not an S3 URI"),
        ({f"c{i}": "/" for i in range(21)}, "21 channels given; a Braket job takes at most 20"),
    ],
)
def test_bad_channels_name_the_setting_and_the_fix(channels: dict[str, str], message: str) -> None:
    with pytest.raises(ExecutorConfigError) as refused:
        BraketExecutorSettings.from_options(input_data=channels)
    assert "input_data: " in str(refused.value)
    assert message in str(refused.value)


def test_the_digest_names_content_and_names(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    files = input_data.local_files(folder)
    assert [name for name, _ in files] == ["a.txt", "sub/b.txt"]
    first = input_data.content_digest(files)
    assert input_data.content_digest(input_data.local_files(folder)) == first
    (folder / "sub" / "b.txt").write_text("B")
    assert input_data.content_digest(input_data.local_files(folder)) != first
    (folder / "sub" / "b.txt").write_text("b")
    (folder / "a.txt").rename(folder / "c.txt")
    assert input_data.content_digest(input_data.local_files(folder)) != first


def _s3() -> tuple[Any, Stubber]:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    return s3, Stubber(s3)


def test_local_data_is_uploaded_once_under_its_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "angles.json"
    data.write_text("[0.1, 0.2]")
    digest = input_data.content_digest(input_data.local_files(data))
    prefix = f"{s3_layout.KEY_ROOT}/input/{digest}/"
    manifest = f"{s3_layout.KEY_ROOT}/input/{digest}.json"
    s3, stubber = _s3()
    uploads: list[tuple[str, str, str]] = []
    monkeypatch.setattr(
        s3, "upload_file", lambda file, bucket, key, ExtraArgs: uploads.append((file, bucket, key))
    )
    head = {"Bucket": BUCKET, "Key": manifest, "ExpectedBucketOwner": OWNER}
    stubber.add_client_error("head_object", "404", http_status_code=404, expected_params=head)
    stubber.add_response("put_object", {}, {"Bucket": BUCKET, "Key": manifest, "Body": json.dumps(
        {"source": str(data), "files": ["angles.json"]}).encode(), "ExpectedBucketOwner": OWNER})
    stubber.add_response("head_object", {}, head)
    channels = {"angles": str(data), "remote": "s3://amazon-braket-x/in/"}
    with stubber:
        first = input_data.stage_channels(s3, BUCKET, OWNER, channels)
        again = input_data.stage_channels(s3, BUCKET, OWNER, channels)  # the manifest is there: no upload
        stubber.assert_no_pending_responses()
    assert first == again == {"angles": f"s3://{BUCKET}/{prefix}angles.json", "remote": "s3://amazon-braket-x/in/"}
    assert uploads == [(str(data), BUCKET, f"{prefix}angles.json")]


def test_a_folder_channel_is_its_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.txt").write_text("x")
    s3, stubber = _s3()
    monkeypatch.setattr(s3, "upload_file", lambda *args, **kwargs: None)
    stubber.add_client_error("head_object", "404", http_status_code=404)
    stubber.add_response("put_object", {})
    with stubber:
        [uri] = input_data.stage_channels(s3, BUCKET, OWNER, {"d": str(tmp_path)}).values()
    assert uri.startswith(f"s3://{BUCKET}/{s3_layout.KEY_ROOT}/input/") and uri.endswith("/")


def test_the_request_carries_the_channels() -> None:
    spec = hybrid_jobs.JobSpec(
        name="n", role_arn="r", image_uri="i", source_uri="s", device="d", instance_type="ml.m5.large",
        volume_size_gb=30, max_runtime_s=60, output_s3_path="s3://b/o/",
        input_data={"data": "s3://b/covalent-braket/input/abc/data.csv"},
    )
    assert spec.create_job_request()["inputDataConfig"] == [
        {"channelName": "data",
         "dataSource": {"s3DataSource": {"s3Uri": "s3://b/covalent-braket/input/abc/data.csv"}}}
    ]
    without = hybrid_jobs.JobSpec(**{**spec.__dict__, "input_data": {}})
    assert "inputDataConfig" not in without.create_job_request()


def test_input_path_names_the_channel_folder_in_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("AMZN_BRAKET_INPUT_DIR", str(tmp_path))
    assert input_path("data") == tmp_path / "data"
    with pytest.raises(RuntimeError, match=r"no input channel 'other' \(it has: data\); add it to"):
        input_path("other")
    monkeypatch.delenv("AMZN_BRAKET_INPUT_DIR")
    with pytest.raises(RuntimeError, match="inside an electron that BraketExecutor runs with input_data"):
        input_path("data")


def test_input_path_travels_by_value_to_a_job_without_the_plugin(fresh_python: Any, tmp_path: Path) -> None:
    """The job image has no covalent_braket_plugin: the pickled helper must not import it."""
    pickled = tmp_path / "helper.pkl"
    pickled.write_bytes(cloudpickle.dumps(input_path))
    (tmp_path / "data").mkdir()
    code = (
        "import sys, pickle, os\n"
        "sys.modules['covalent_braket_plugin'] = None  # as in the job image: not importable\n"
        "os.environ['AMZN_BRAKET_INPUT_DIR'] = sys.argv[2]\n"
        "print(pickle.load(open(sys.argv[1], 'rb'))('data'))\n"
    )
    done = fresh_python(code, str(pickled), str(tmp_path))
    assert done.stdout.strip() == str(tmp_path / "data")
