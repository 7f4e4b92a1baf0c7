"""What a Braket Hybrid Job sees while it runs, and what the service does before and after it.

The local stack keeps the contract of Amazon Braket's job containers (see the SDK's
``braket.jobs`` and Braket's ``braket_container.py``):

* every job gets a work dir laid out like ``/opt/ml``: ``input/data/<channel>/``,
  ``input/config/`` (``hyperparameters.json``, ``inputdataconfig.json`` and, per instance,
  ``resourceconfig.json``: what the training toolkit reads), ``model/`` (results),
  ``output/failure``, ``checkpoints/`` and ``code/``;
* before the program starts the input channels and the checkpoints are downloaded from S3;
* the program finds everything through the ``AMZN_BRAKET_*`` variables;
* after it ends, the checkpoints go back to S3, ``output/failure`` becomes the job's failureReason
  and, if it completed, ``model/`` is packed to ``<outputDataConfig.s3Path>/output/model.tar.gz``.

Runners (process or docker) only decide how the program runs; this module is everything else.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlparse

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

from covalent_braket_plugin.local.jobs import toolkit

CONTAINER_ML_ROOT = PurePosixPath("/opt/ml")
CONTAINER_BRAKET_ROOT = PurePosixPath("/opt/braket")
DEFAULT_CHECKPOINT_PATH = "/opt/braket/checkpoints"
"""Where checkpoints live in the container when checkpointConfig.localPath is not given."""
DEFAULT_MAX_RUNTIME_S = 5 * 24 * 60 * 60
"""The service's time limit when stoppingCondition is not given."""
FAILURE_REASON_LIMIT = 1024
"""failureReason is a String1024 in the service model."""


class JobError(Exception):
    """A step the service takes for a job (pulling its image, staging inputs, uploading results)
    failed; the message is the job's failureReason."""


class Execution(Protocol):
    """One running job program, in a process or a container."""

    def lines(self) -> Iterator[str]:
        """Every line the program prints (stdout and stderr), until it exits."""

    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or None when ``timeout`` seconds passed first."""

    def kill(self) -> None:
        """Stop the program and everything it started, now."""

    def close(self) -> None:
        """Release the process or container (killing it if it still runs)."""


class Runner(Protocol):
    """Starts a job's program with the job's environment and work dir."""

    name: str

    def start(self, job: Mapping[str, Any], layout: JobLayout, env: Mapping[str, str]) -> Execution: ...


def job_id(job_arn: str) -> str:
    """The uuid at the end of a job ARN (``arn:aws:braket:<region>:<account>:job/<uuid>``)."""
    return job_arn.rsplit("/", 1)[-1]


def job_region(job_arn: str) -> str:
    return job_arn.split(":")[3]


def log_stream_name(job: Mapping[str, Any]) -> str:
    """The CloudWatch stream the SDK's ``AwsQuantumJob.logs()`` looks for: ``<jobName>/<uuid>``."""
    return f"{job['jobName']}/{job_id(job['jobArn'])}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> (bucket, "key/prefix")."""
    parsed = urlparse(uri, allow_fragments=False)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise JobError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
    return parsed.netloc, parsed.path.lstrip("/")


@dataclass(frozen=True)
class JobLayout:
    """A job's work dir on the host, laid out like /opt/ml in Braket's job containers."""

    root: Path

    @classmethod
    def create(cls, work_dir: Path, job: Mapping[str, Any]) -> JobLayout:
        return cls.make(Path(work_dir) / f"{job['jobName']}-{job_id(job['jobArn'])}")

    @classmethod
    def make(cls, root: Path) -> JobLayout:
        """The layout at ``root``, its directories created."""
        layout = cls(root)
        for path in (layout.input_data, layout.config, layout.model, layout.output, layout.checkpoints,
                     layout.code):
            path.mkdir(parents=True, exist_ok=True)
        return layout

    @property
    def input_data(self) -> Path:
        return self.root / "input" / "data"

    @property
    def config(self) -> Path:
        return self.root / "input" / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.config / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        """SageMaker's description of the input channels (see ``toolkit.input_data_config``)."""
        return self.config / "inputdataconfig.json"

    @property
    def resource_config_file(self) -> Path:
        """SageMaker's description of the job's instances (see ``instances.resource_config``)."""
        return self.config / "resourceconfig.json"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def failure_file(self) -> Path:
        return self.output / "failure"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def code(self) -> Path:
        return self.root / "code"

    def read_failure(self) -> str:
        """What the program appended to output/failure, or "" when it wrote nothing."""
        if not self.failure_file.is_file():
            return ""
        return self.failure_file.read_text(encoding="utf-8", errors="replace").strip()


@dataclass(frozen=True)
class JobPaths:
    """The directories as the job's program sees them (container paths, or host paths)."""

    input_data: str
    hyperparameters_file: str
    results: str
    checkpoints: str

    @classmethod
    def on_host(cls, layout: JobLayout) -> JobPaths:
        return cls(str(layout.input_data), str(layout.hyperparameters_file), str(layout.model),
                   str(layout.checkpoints))

    @classmethod
    def in_container(cls, job: Mapping[str, Any]) -> JobPaths:
        root = CONTAINER_BRAKET_ROOT
        return cls(str(root / "input" / "data"), str(root / "input" / "config" / "hyperparameters.json"),
                   str(root / "model"), container_checkpoint_path(job))


def container_checkpoint_path(job: Mapping[str, Any]) -> str:
    return (job.get("checkpointConfig") or {}).get("localPath") or DEFAULT_CHECKPOINT_PATH


def max_runtime_s(job: Mapping[str, Any]) -> int:
    return int((job.get("stoppingCondition") or {}).get("maxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME_S)


def job_environment(
    job: Mapping[str, Any], job_token: str, paths: JobPaths, services_env: Mapping[str, str]
) -> dict[str, str]:
    """The environment of the job's program: the AMZN_BRAKET_* contract plus the stack's AWS settings.

    ``services_env`` (endpoint, test credentials, the price list's URL) lets boto3 and the Braket SDK
    inside the job reach the stack, and its Tracker price the job's tasks there; the region is the
    job's own, taken from its ARN.
    """
    name = job["jobName"]
    bucket, prefix = parse_s3_uri(job["outputDataConfig"]["s3Path"])
    region = job_region(job["jobArn"])
    env = {
        **services_env,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "PYTHONUNBUFFERED": "1",
        "AMZN_BRAKET_JOB_NAME": name,
        "AMZN_BRAKET_DEVICE_ARN": job["deviceConfig"]["device"],
        "AMZN_BRAKET_INPUT_DIR": paths.input_data,
        "AMZN_BRAKET_HP_FILE": paths.hyperparameters_file,
        "AMZN_BRAKET_JOB_RESULTS_DIR": paths.results,
        "AMZN_BRAKET_CHECKPOINT_DIR": paths.checkpoints,
        "AMZN_BRAKET_OUT_S3_BUCKET": bucket,
        "AMZN_BRAKET_TASK_RESULTS_S3_URI": f"s3://{bucket}/jobs/{name}/tasks",
        "AMZN_BRAKET_JOB_RESULTS_S3_PATH": str(PurePosixPath(prefix, "output")),
        "AMZN_BRAKET_JOB_TOKEN": job_token,
    }
    script = (job.get("algorithmSpecification") or {}).get("scriptModeConfig")
    if script:
        env["AMZN_BRAKET_SCRIPT_S3_URI"] = script["s3Uri"]
        env["AMZN_BRAKET_SCRIPT_ENTRY_POINT"] = script["entryPoint"]
        env["AMZN_BRAKET_SCRIPT_COMPRESSION_TYPE"] = script.get("compressionType") or "NONE"
    return env


def _list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def download_channel(s3: Any, s3_uri: str, destination: Path) -> int:
    """Download an input channel into ``destination``; return how many files it holds.

    As on the service: a prefix naming a "directory" brings its content; a prefix matching one
    object (or several by name) brings those objects, by their names.
    """
    bucket, prefix = parse_s3_uri(s3_uri)
    keys = [key for key in _list_keys(s3, bucket, prefix) if not key.endswith("/")]
    is_dir = prefix.endswith("/") or (keys and all(key.startswith(f"{prefix}/") for key in keys))
    top = PurePosixPath(prefix) if is_dir else PurePosixPath(prefix).parent
    for key in keys:
        target = destination / PurePosixPath(key).relative_to(top)
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(target))
    return len(keys)


def stage_inputs(s3: Any, job: Mapping[str, Any], layout: JobLayout) -> None:
    """Write the hyperparameters and input channels files and download the input channels and
    earlier checkpoints."""
    hyperparameters = {str(k): str(v) for k, v in (job.get("hyperParameters") or {}).items()}
    layout.hyperparameters_file.write_text(json.dumps(hyperparameters), encoding="utf-8")
    layout.input_data_config_file.write_text(json.dumps(toolkit.input_data_config(job)), encoding="utf-8")
    for channel in job.get("inputDataConfig") or []:
        name = channel["channelName"]
        uri = channel["dataSource"]["s3DataSource"]["s3Uri"]
        try:
            found = download_channel(s3, uri, layout.input_data / name)
        except JobError:
            raise
        except Exception as exc:
            raise JobError(f"ClientError: unable to download input channel {name!r} from {uri}: {exc}") \
                from exc
        if not found:
            raise JobError(f"ClientError: no data found for input channel {name!r} at {uri}")
    checkpoint_uri = (job.get("checkpointConfig") or {}).get("s3Uri")
    if checkpoint_uri:
        try:
            download_channel(s3, checkpoint_uri.rstrip("/") + "/", layout.checkpoints)
        except Exception as exc:
            raise JobError(f"ClientError: unable to download checkpoints from {checkpoint_uri}: {exc}") \
                from exc


def results_key(job: Mapping[str, Any]) -> tuple[str, str]:
    """(bucket, key) of the results archive the SDK's ``AwsQuantumJob.result()`` downloads."""
    bucket, prefix = parse_s3_uri(job["outputDataConfig"]["s3Path"])
    return bucket, str(PurePosixPath(prefix, "output", "model.tar.gz"))


def publish_outputs(s3: Any, job: Mapping[str, Any], layout: JobLayout, completed: bool) -> None:
    """Upload the checkpoints and, for a completed job, ``model/`` packed as model.tar.gz, as the
    service does after a job: a failed job leaves no results archive on AWS, only its checkpoints."""
    bucket, key = results_key(job)
    checkpoint_uri = (job.get("checkpointConfig") or {}).get("s3Uri")
    try:
        if checkpoint_uri:
            checkpoint_bucket, prefix = parse_s3_uri(checkpoint_uri)
            for path in sorted(p for p in layout.checkpoints.rglob("*") if p.is_file()):
                checkpoint_key = PurePosixPath(prefix, path.relative_to(layout.checkpoints))
                s3.upload_file(str(path), checkpoint_bucket, str(checkpoint_key))
        if not completed:
            return
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "model.tar.gz"
            with tarfile.open(archive, "w:gz") as tar:
                for path in sorted(layout.model.iterdir()):
                    tar.add(path, arcname=path.name)
            s3.upload_file(str(archive), bucket, key)
    except (OSError, ClientError, S3UploadFailedError) as exc:
        raise JobError(f"ClientError: unable to upload the job's results and checkpoints: {exc}") from exc


def failure_reason(failure: str, exit_code: int | None) -> str:
    """The failureReason of a job whose program wrote ``failure`` and ended with ``exit_code``."""
    if failure:
        reason = f"AlgorithmError: {failure}, exit code: {exit_code}"
    else:
        reason = f"AlgorithmError: the job's program exited with code {exit_code}"
    return truncate_reason(reason)


def truncate_reason(reason: str) -> str:
    return reason if len(reason) <= FAILURE_REASON_LIMIT else reason[: FAILURE_REASON_LIMIT - 3] + "..."
