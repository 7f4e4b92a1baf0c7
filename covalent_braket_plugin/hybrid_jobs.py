"""One Amazon Braket Hybrid Job per electron: name it, create it, watch it, cancel it, read its logs.

Everything here is synchronous boto3 work on purpose: the executor runs each call on its worker
threads so the dispatcher's event loop never blocks, and the same functions serve the benchmarks
and tests without an event loop. Watching many jobs at once is ``watch``'s.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.job.runner import (
    BUCKET_OWNER_KEY,
    ENTRY_POINT,
    OUTPUT_URI_KEY,
    TASK_SHA256_KEY,
    TASK_URI_KEY,
)
from covalent_braket_plugin.job.script_mode import SOURCE_SHA256_KEY

if TYPE_CHECKING:
    from covalent_braket_plugin.s3_layout import ElectronLocation
    from covalent_braket_plugin.settings import BraketExecutorSettings

JOB_NAME_MAX_LENGTH = 50
JOB_NAME_PATTERN = re.compile(r"^(?!-)[A-Za-z0-9-]{1,50}(?<!-)$")
"""The jobName rule of CreateJob (1-50 characters, letters, digits and inner dashes)."""

TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
CANCEL_ACCEPTED = frozenset({"CANCELLING", "CANCELLED"})

DEFAULT_LOG_GROUP = "/aws/braket/jobs"

TAG_DISPATCH_ID = "covalent:dispatch_id"
TAG_NODE_ID = "covalent:node_id"
"""Tags every electron's job carries, naming its dispatch and node (how the plugin's jobs are found)."""

POLL_GROWTH = 2.0

_UNSAFE = re.compile(r"[^A-Za-z0-9]")


def job_name(dispatch_id: str, node_id: int, attempt: int) -> str:
    """The job's name for one attempt of one electron, also used as CreateJob's ``clientToken``.

    Deterministic, so a CreateJob repeated for the same attempt (after a lost answer, say) names
    the job it already made instead of starting a second one. The readable part (dispatch prefix,
    node, attempt) lets a person find the job in the console; the digest of the full identifiers
    keeps names of different dispatches apart although the dispatch ID itself does not fit.
    """
    digest = hashlib.sha256(f"{dispatch_id}\0{node_id}\0{attempt}".encode()).hexdigest()
    dispatch = _UNSAFE.sub("", dispatch_id)[:8] or "dispatch"
    node = _UNSAFE.sub("", str(node_id)) or "0"
    name = f"covalent-{dispatch}-n{node}-a{attempt}-{digest[:10]}"
    if len(name) > JOB_NAME_MAX_LENGTH:
        name = f"covalent-{digest[:32]}"
    return name


@dataclass(frozen=True)
class JobSpec:
    """Everything CreateJob needs for one electron."""

    name: str
    role_arn: str
    image_uri: str
    source_uri: str
    device: str
    instance_type: str
    volume_size_gb: int
    max_runtime_s: int
    output_s3_path: str
    hyperparameters: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    reservation_arn: str = ""
    input_data: dict[str, str] = field(default_factory=dict)
    """Input channels: channel name -> S3 URI (local data already uploaded)."""
    checkpoint_uri: str = ""
    instance_count: int = 1

    def create_job_request(self) -> dict[str, Any]:
        """Keyword arguments of ``braket.create_job``.

        Script mode carries the runner, the container image carries the environment: the image's
        own program (the Braket container contract) fetches the source archive and calls the entry
        point, so the same job runs on Amazon Braket, in Docker and on the local process runner.
        """
        request: dict[str, Any] = {
            "clientToken": self.name,
            "jobName": self.name,
            "roleArn": self.role_arn,
            "algorithmSpecification": {
                "scriptModeConfig": {
                    "entryPoint": ENTRY_POINT,
                    "s3Uri": self.source_uri,
                    "compressionType": "GZIP",
                },
                "containerImage": {"uri": self.image_uri},
            },
            "deviceConfig": {"device": self.device},
            "instanceConfig": {
                "instanceType": self.instance_type,
                "volumeSizeInGb": self.volume_size_gb,
                "instanceCount": self.instance_count,
            },
            "stoppingCondition": {"maxRuntimeInSeconds": self.max_runtime_s},
            "outputDataConfig": {"s3Path": self.output_s3_path},
            "hyperParameters": dict(self.hyperparameters),
            "tags": dict(self.tags),
        }
        if self.reservation_arn:
            request["associations"] = [{"arn": self.reservation_arn, "type": "RESERVATION_TIME_WINDOW_ARN"}]
        if self.input_data:
            request["inputDataConfig"] = input_data_config(self.input_data)
        if self.checkpoint_uri:
            request["checkpointConfig"] = {"s3Uri": self.checkpoint_uri}
        return request


def electron_job(
    settings: BraketExecutorSettings,
    location: ElectronLocation,
    *,
    name: str,
    account_id: str,
    image_uri: str,
    source_uri: str,
    source_sha256: str,
    task_uri: str,
    task_sha256: str,
    tags: dict[str, str] | None = None,
    input_data: dict[str, str] | None = None,
    checkpoint_uri: str = "",
) -> JobSpec:
    """The job of one electron: the settings' device, instance and limits, the runner's inputs.

    The digests of the task and of the runner's archive are fixed in the hyperparameters, which
    nobody can change after CreateJob: the job runs neither when the objects in S3 differ.
    """
    return JobSpec(
        name=name,
        role_arn=settings.role_arn(account_id),
        image_uri=image_uri,
        source_uri=source_uri,
        device=settings.quantum_device,
        instance_type=settings.classical_device,
        volume_size_gb=settings.storage,
        max_runtime_s=settings.time_limit,
        output_s3_path=location.uri(location.job_output_prefix),
        hyperparameters={
            TASK_URI_KEY: task_uri,
            TASK_SHA256_KEY: task_sha256,
            SOURCE_SHA256_KEY: source_sha256,
            OUTPUT_URI_KEY: location.uri(location.output_prefix),
            BUCKET_OWNER_KEY: account_id,
            **distribution_hyperparameters(settings.distribution, settings.classical_device),
        },
        tags=dict(tags or {}),
        reservation_arn=settings.reservation_arn,
        input_data=dict(input_data or {}),
        checkpoint_uri=checkpoint_uri,
        instance_count=settings.instance_count,
    )


def distribution_hyperparameters(distribution: str, instance_type: str) -> dict[str, str]:
    """The hyperparameters ``@hybrid_job``'s ``distribution`` sets: SageMaker's distributed data
    parallel library, told the instance type, for ``"data_parallel"``; none otherwise."""
    if distribution != "data_parallel":
        return {}
    return {"sagemaker_distributed_dataparallel_enabled": "true", "sagemaker_instance_type": instance_type}


def input_data_config(staged: Mapping[str, str]) -> list[dict[str, Any]]:
    """CreateJob's ``inputDataConfig`` for the staged channels."""
    return [
        {"channelName": name, "dataSource": {"s3DataSource": {"s3Uri": uri}}} for name, uri in staged.items()
    ]


def create_job(braket: Any, spec: JobSpec) -> str:
    """Create the job and return its ARN."""
    return braket.create_job(**spec.create_job_request())["jobArn"]


def get_job(braket: Any, job_arn: str, attributes: Sequence[str] = ()) -> dict[str, Any]:
    """GetJob; ``attributes`` are its ``additionalAttributeNames`` (``QueueInfo``)."""
    if attributes:
        return braket.get_job(jobArn=job_arn, additionalAttributeNames=list(attributes))
    return braket.get_job(jobArn=job_arn)


def poll_delays(first: float, slowest: float, growth: float = POLL_GROWTH) -> Iterator[float]:
    """Seconds to wait between status checks: ``first``, then doubling up to ``slowest`` and staying.

    A short job is seen finished within a second or two of its end, a long one costs one GetJob
    per ``slowest`` seconds.
    """
    delay = min(first, slowest)
    while True:
        yield delay
        delay = min(delay * growth, slowest)


def cancel_job(braket: Any, job_arn: str) -> str:
    """Ask Braket to cancel the job and return the job's status afterwards.

    A job that already ended answers CancelJob with ConflictException; its own terminal status
    (COMPLETED, FAILED or CANCELLED) is the answer then.
    """
    try:
        return braket.cancel_job(jobArn=job_arn)["cancellationStatus"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConflictException":
            raise
        return get_job(braket, job_arn)["status"]


def read_logs(logs: Any, log_group: str, name: str) -> str:
    """Every line the job wrote to CloudWatch Logs, stream after stream, each from its start.

    Braket writes one stream per instance, named ``<jobName>/<id>``; GetLogEvents returns a page at
    a time and needs ``startFromHead`` to read forward and ``nextForwardToken`` to go on, stopping
    when the token comes back unchanged.
    """
    lines: list[str] = []
    paginator = logs.get_paginator("describe_log_streams")
    try:
        pages = list(paginator.paginate(logGroupName=log_group, logStreamNamePrefix=f"{name}/"))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return ""
        raise
    streams = sorted(stream["logStreamName"] for page in pages for stream in page.get("logStreams", []))
    for stream in streams:
        token: str | None = None
        while True:
            request = {"logGroupName": log_group, "logStreamName": stream, "startFromHead": True}
            if token:
                request["nextToken"] = token
            page = logs.get_log_events(**request)
            lines.extend(event["message"].rstrip("\n") for event in page.get("events", []))
            next_token = page.get("nextForwardToken")
            if not next_token or next_token == token:
                break
            token = next_token
    return "\n".join(lines)
