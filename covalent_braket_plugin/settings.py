"""Every setting of ``BraketExecutor`` in one pydantic model, and all of their validation.

The executor reads its settings from ``[executors.braket]`` in covalent.conf and from keyword
arguments. Both may hold keys written by older releases of the plugin, values typed as strings, and
mistakes that would otherwise surface minutes later as an AWS error (or never, as a job that cannot
pull its image). Checking everything here, before any AWS call, turns each of them into one readable
message that names the setting and says how to fix it.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import warnings
from collections.abc import Mapping
from functools import cache
from typing import Any, get_args

import botocore.session
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from covalent_braket_plugin import validation
from covalent_braket_plugin.aws import AwsSession, profile_region
from covalent_braket_plugin.errors import ExecutorConfigError
from covalent_braket_plugin.validation import bucket_name_problem, is_image_reference

# Braket's device ARNs: simulators have no region, QPUs name theirs.
_DEVICE_ARN = re.compile(r"^arn:aws[a-z-]*:braket:(?P<region>[a-z0-9-]*)::device/[A-Za-z0-9_./-]+$")
# A job may also run its circuits on a simulator inside the job instance (the SDK's "local:" devices).
_LOCAL_DEVICE = re.compile(r"^local:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_BUCKET = re.compile(r"^amazon-braket-[a-z0-9.-]{1,49}$")
_ECR_REPO = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
# containerImage.uri must be a private ECR image (the Braket API rejects anything else).
_ECR_IMAGE_URI = re.compile(
    r"^\d{10,14}\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+"
    r"(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})$"
)
_ROLE_NAME = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_RESERVATION_ARN = re.compile(r"^arn:aws[a-z-]*:braket:[a-z0-9-]*:\d{12}:.+$")

# The managed execution role the Braket console creates; its policy (AmazonBraketJobsExecutionPolicy)
# lets a job pull images only from ECR repositories named amazon-braket*.
MANAGED_ROLE_PREFIX = "AmazonBraketJobsExecutionRole"
MANAGED_REPO_PREFIX = "amazon-braket"
BASE_IMAGE_ACCOUNT = "292282985366"
MAX_TIME_LIMIT_S = 432000
# The instance types SageMaker's distributed data parallel library runs on (Braket's "data_parallel").
DATA_PARALLEL_INSTANCE_TYPES = ("ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge")
# SageMaker training volumes go up to 16 TB.
MAX_STORAGE_GB = 16384

# Devices a job can name by their short name (current devices of amazon-braket-sdk's
# braket.devices.Devices; tests/unit/executor/test_settings.py keeps the table in step with the SDK).
DEVICE_SHORT_NAMES: dict[str, str] = {
    "sv1": "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
    "dm1": "arn:aws:braket:::device/quantum-simulator/amazon/dm1",
    "ibex-q1": "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1",
    "garnet": "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet",
    "emerald": "arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald",
    "forte-1": "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1",
    "forte-enterprise-1": "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1",
    "aquila": "arn:aws:braket:us-east-1::device/qpu/quera/Aquila",
    "cepheus-1-108q": "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q",
}


@cache
def instance_types() -> tuple[str, ...]:
    """The ml.* instance types CreateJob accepts, read from botocore's Braket service model.

    Read from the model rather than copied so a newer botocore brings new instance types with it.
    """
    model = botocore.session.get_session().get_service_model("braket")
    return tuple(model.shape_for("InstanceType").enum)


@cache
def braket_regions() -> tuple[str, ...]:
    """Regions botocore knows Braket in (empty if this botocore has no such data)."""
    return tuple(botocore.session.get_session().get_available_regions("braket"))


def device_region(device: str) -> str | None:
    """The region a QPU ARN names, or None for simulators and local devices (they run anywhere)."""
    match = _DEVICE_ARN.match(device)
    return (match.group("region") or None) if match else None


def given(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that set something: None, an empty and a blank string mean "not set".

    TOML has no null, so covalent writes each plugin default that is empty into covalent.conf as
    ``""`` (``region = ""``) once it is imported. Taken as given, such a value would hide what comes
    after it (a keyword argument's over covalent.conf's, covalent.conf's region over the profile's or
    AWS_DEFAULT_REGION) or be refused instead of keeping its default (``s3_bucket_name = ""``). Every
    reader of settings goes through here, so "empty" means the same wherever a value comes from.
    """
    return {
        key: value
        for key, value in options.items()
        if value is not None and not (isinstance(value, str) and not value.strip())
    }


def default_base_image(region: str) -> str:
    """The Braket base jobs image of ``region``: the image AWS runs hybrid jobs from."""
    return f"{BASE_IMAGE_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/amazon-braket-base-jobs:latest"


def _split_words(value: Any) -> Any:
    """covalent.conf may hold a list as one string: "numpy, scipy==1.13" or "numpy scipy"."""
    if isinstance(value, str):
        return [word for word in re.split(r"[,\s]+", value) if word]
    return value


class BraketExecutorSettings(BaseModel):
    """The settings of one ``BraketExecutor``: the keys of ``[executors.braket]`` in covalent.conf.

    Every key written by the 0.3 plugin and by later releases is accepted, so an existing
    covalent.conf keeps working. Build one with :meth:`from_options`, which turns validation errors
    into an :class:`ExecutorConfigError` naming each setting and its fix.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    credentials: str = Field(
        "",
        description="Path of an AWS shared credentials file. Empty: boto3's default "
        "(AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials).",
    )
    profile: str = Field(
        "", description="AWS profile to use. Empty: boto3's default (AWS_PROFILE or the default profile)."
    )
    region: str = Field(
        "",
        description="AWS region of the jobs. Empty: the region of a QPU `quantum_device`, else the "
        "profile's or AWS_DEFAULT_REGION.",
    )
    s3_bucket_name: str = Field(
        "amazon-braket-covalent-job-resources",
        description="S3 bucket for pickled electrons, results and job output. Must be named "
        "amazon-braket-*: Braket only writes task results to such buckets.",
    )
    ecr_repo_name: str = Field(
        "amazon-braket-covalent-job-images",
        description="ECR repository the job images are pushed to (created if missing). Name it "
        "amazon-braket*: the managed job execution policy only pulls from those.",
    )
    ecr_image_uri: str = Field(
        "",
        description="A ready job image (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`). "
        "Set: used as is, nothing is built. Empty: the image is built from Dockerfile.template.",
    )
    base_image: str = Field(
        "",
        description="Image the job image is built FROM. Empty: the Braket base jobs image of the "
        "region (`292282985366.dkr.ecr.<region>.amazonaws.com/amazon-braket-base-jobs:latest`). "
        "Its python3 must have the client's Python minor version.",
    )
    pip_packages: list[str] = Field(
        default_factory=list,
        description="pip requirements installed in the job image besides covalent, cloudpickle, boto3 "
        "and amazon-braket-sdk (at the client's versions). A list, or one string separated by commas "
        "or spaces.",
    )
    braket_job_execution_role_name: str = Field(
        "service-role/AmazonBraketJobsExecutionRole",
        description="IAM role the job runs as: a name (with its path, if any) or a full role ARN.",
    )
    quantum_device: str = Field(
        DEVICE_SHORT_NAMES["sv1"],
        description="Device the job's tasks run on: a device ARN, a `local:<provider>/<simulator>` "
        f"device, or one of {', '.join(DEVICE_SHORT_NAMES)}.",
    )
    classical_device: str = Field(
        "ml.m5.large", description="Instance type of the job (an ml.* type CreateJob accepts)."
    )
    storage: int = Field(30, description=f"Size of the job instance's volume in GB (1 to {MAX_STORAGE_GB}).")
    time_limit: int = Field(
        300, description=f"Longest run of one job in seconds (1 to {MAX_TIME_LIMIT_S}, i.e. 5 days)."
    )
    poll_freq: float = Field(
        30.0, description="Slowest interval between two job status checks, in seconds (> 0)."
    )
    initial_poll_freq: float = Field(
        1.0,
        description="First interval between two job status checks, in seconds; the interval backs "
        "off from it to `poll_freq`.",
    )
    cache_dir: str = Field(
        "/tmp/covalent", description="Local directory for temporary files and downloaded results."
    )
    log_group_name: str = Field(
        "/aws/braket/jobs", description="CloudWatch Logs group the jobs log to (read when a job fails)."
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags put on every job: a table, a JSON object or `key=value` pairs separated by commas.",
    )
    cleanup: bool = Field(True, description="Delete the electron's S3 objects once its result is back.")
    reservation_arn: str = Field(
        "", description="Braket Direct reservation ARN to run the job in (empty: no reservation)."
    )
    input_data: dict[str, str] = Field(
        default_factory=dict,
        description="Input channels of the job: channel name -> S3 URI (`s3://bucket/prefix`) or a "
        "local file or folder (uploaded once, named by its content, under `covalent-braket/input/`). "
        "Inside the electron a channel is the folder `covalent_braket_plugin.input_path(name)` "
        "(`$AMZN_BRAKET_INPUT_DIR/<name>`). A table or a JSON object.",
    )
    checkpoints: bool = Field(
        False,
        description="Give each attempt of an electron a checkpoint location (Braket's checkpointConfig) "
        "holding the previous attempt's checkpoints, so that `braket.jobs.load_job_checkpoint()` in a "
        "retried electron resumes where the failed attempt saved (`save_job_checkpoint`).",
    )
    include_modules: list[str] = Field(
        default_factory=list,
        description="Local modules or packages (dotted names) whose .py files ship with each electron: "
        "importable in the job under the same names and pickled by value, so `inspect.getsource` "
        "works on their functions (CUDA-Q kernels, AutoQASM). A list, or one string separated by "
        "commas or spaces.",
    )
    instance_count: int = Field(
        1,
        description="Instances of the job (`classical_device` each). The electron runs once on every "
        "instance; the first instance's return value is the result, the others' output stays under "
        "`rank-<k>/` of the job's output.",
    )
    distribution: str = Field(
        "",
        description='`"data_parallel"`: SageMaker\'s distributed data parallel library, as '
        "`@hybrid_job`'s `distribution` sets it up; needs a `classical_device` it runs on "
        f"({', '.join(DATA_PARALLEL_INSTANCE_TYPES)}). Empty: none.",
    )

    max_cost_usd: float | None = Field(
        None,
        description="Budget of one electron in USD: a job whose instance time alone could pass it is "
        "refused before CreateJob, and a job whose cost so far passes it is cancelled with its waiting "
        "tasks (docs/costs.md). Needs a price for `classical_device` (a price override file).",
    )
    dispatch_max_cost_usd: float | None = Field(
        None,
        description="Budget in USD of all electrons of one dispatch together, kept as `max_cost_usd` is.",
    )

    @classmethod
    def from_options(cls, **options: Any) -> BraketExecutorSettings:
        """Validate ``options`` (covalent.conf keys or keyword arguments) into settings.

        A value that is not set (:func:`given`) keeps the setting's default.

        Raises:
            ExecutorConfigError: with one line per unknown key or invalid value, each naming the
                setting and its fix.
        """
        options = given(options)
        unknown = sorted(set(options) - set(cls.model_fields))
        if unknown:
            raise ExecutorConfigError(
                "Unknown BraketExecutor setting(s):\n"
                + "\n".join(f"  - {key}: {unknown_key_hint(key)}" for key in unknown)
            )
        try:
            return cls(**options)
        except ValidationError as error:
            raise ExecutorConfigError(_format_errors(error)) from None

    # --- normalisation of values covalent.conf may give as strings ---------------------------------
    @field_validator("pip_packages", mode="before")
    @classmethod
    def _pip_packages_from_string(cls, value: Any) -> Any:
        return _split_words(value)

    @field_validator("pip_packages")
    @classmethod
    def _pip_packages_sorted(cls, value: list[str]) -> list[str]:
        packages = sorted({package.strip() for package in value if package.strip()})
        bad = [p for p in packages if p.startswith("-") or any(c in p for c in "\n\r\t '\"`$\\")]
        if bad:
            raise ValueError(
                f"{bad} are not pip requirements; give requirement specifiers such as 'numpy>=1.26' "
                "(no options, quotes or spaces)"
            )
        return packages

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_from_string(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.strip().startswith("{"):
            return json.loads(value)
        pairs = [pair for pair in re.split(r"[,\s]+", value) if pair]
        if not all("=" in pair for pair in pairs):
            raise ValueError("write tags as a table, a JSON object or key=value pairs separated by commas")
        return dict(pair.split("=", 1) for pair in pairs)

    @field_validator("tags")
    @classmethod
    def _tags_valid(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not 1 <= len(key) <= 128 or key.startswith("aws:") or len(tag_value) > 256:
                raise ValueError(
                    f"tag {key!r}: keys need 1-128 characters and must not start with 'aws:'; "
                    "values at most 256 characters"
                )
        return value

    @field_validator("credentials", "cache_dir")
    @classmethod
    def _expand_user(cls, value: str) -> str:
        return os.path.expanduser(value) if value else value

    # --- checks -------------------------------------------------------------------------------------
    @field_validator("region")
    @classmethod
    def _region_valid(cls, value: str) -> str:
        if not value:
            return value
        if not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name; use one like 'us-east-1'")
        known = braket_regions()
        if known and value not in known:
            raise ValueError(f"Amazon Braket is not offered in {value}; use one of {', '.join(known)}")
        return value

    @field_validator("s3_bucket_name")
    @classmethod
    def _bucket_valid(cls, value: str) -> str:
        if not _BUCKET.fullmatch(value):
            raise ValueError(
                f"{value!r} is not allowed: Braket only writes job and task results to S3 buckets "
                "named 'amazon-braket-*' (3-63 lowercase letters, digits, '.' or '-'); create one such "
                "as 'amazon-braket-covalent-job-resources' and set s3_bucket_name to it"
            )
        problem = bucket_name_problem(value)
        if problem:
            raise ValueError(
                f"{value!r} is not an S3 bucket name ({problem}); set s3_bucket_name to a valid "
                "'amazon-braket-*' name such as 'amazon-braket-covalent-job-resources'"
            )
        return value

    @field_validator("ecr_repo_name")
    @classmethod
    def _repo_syntax(cls, value: str) -> str:
        if not 2 <= len(value) <= 256 or not _ECR_REPO.match(value):
            raise ValueError(
                f"{value!r} is not an ECR repository name; use lowercase letters, digits and "
                "'.', '_', '-', '/' separators, e.g. 'amazon-braket-covalent-job-images'"
            )
        return value

    @field_validator("ecr_image_uri")
    @classmethod
    def _image_uri_valid(cls, value: str) -> str:
        if value and not _ECR_IMAGE_URI.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a private ECR image; Braket jobs only run images given as "
                "'<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>'"
            )
        return value

    @field_validator("base_image")
    @classmethod
    def _base_image_valid(cls, value: str) -> str:
        if value and not is_image_reference(value):
            raise ValueError(
                f"{value!r} is not an image reference; give one image as "
                "'[registry[:port]/]repository[:tag][@sha256:<digest>]' (lowercase repository, no "
                "spaces or line breaks), e.g. 'python:3.12-slim', or leave it empty for the Braket "
                "base jobs image"
            )
        return value

    @field_validator("braket_job_execution_role_name")
    @classmethod
    def _role_valid(cls, value: str) -> str:
        value = value.strip()
        if not (_ROLE_NAME.match(value) or _ROLE_ARN.match(value)):
            raise ValueError(
                f"{value!r} is not an IAM role; give the role's name (with its path, e.g. "
                "'service-role/AmazonBraketJobsExecutionRole') or its ARN"
            )
        return value

    @field_validator("quantum_device")
    @classmethod
    def _device_valid(cls, value: str) -> str:
        value = value.strip()
        if value.lower() in DEVICE_SHORT_NAMES:
            return DEVICE_SHORT_NAMES[value.lower()]
        if _DEVICE_ARN.match(value) or _LOCAL_DEVICE.match(value):
            return value
        raise ValueError(
            f"{value!r} is not a Braket device; give a device ARN "
            "('arn:aws:braket:<region>::device/qpu/<provider>/<name>', simulators without region), "
            f"a 'local:<provider>/<simulator>' device or one of: {', '.join(DEVICE_SHORT_NAMES)}"
        )

    @field_validator("classical_device")
    @classmethod
    def _instance_valid(cls, value: str) -> str:
        if value not in instance_types():
            close = difflib.get_close_matches(value, instance_types(), n=3)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise ValueError(
                f"{value!r} is not an instance type Braket jobs run on; {hint}"
                f"use one of: {', '.join(instance_types())}"
            )
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        """pydantic reads True as 1 for a number; a boolean given for a number is a mistake."""
        field = cls.model_fields[str(info.field_name)]
        if isinstance(value, bool) and _is_number(field.annotation):
            example = f" such as {field.default}" if _is_number(type(field.default)) else ""
            raise ValueError(f"{value} is a yes/no value, not a number; give a number{example}")
        return value

    @field_validator("storage")
    @classmethod
    def _storage_valid(cls, value: int) -> int:
        if not 1 <= value <= MAX_STORAGE_GB:
            raise ValueError(
                f"{value} GB is out of range; give a whole number of GB from 1 to {MAX_STORAGE_GB}"
            )
        return value

    @field_validator("time_limit")
    @classmethod
    def _time_limit_valid(cls, value: int) -> int:
        if not 1 <= value <= MAX_TIME_LIMIT_S:
            raise ValueError(
                f"{value} s is out of range; Braket stops jobs after at most {MAX_TIME_LIMIT_S} s (5 days): "
                f"give whole seconds from 1 to {MAX_TIME_LIMIT_S}"
            )
        return value

    @field_validator("poll_freq", "initial_poll_freq")
    @classmethod
    def _interval_valid(cls, value: float) -> float:
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(
                f"{value} is not a polling interval; give a finite number of seconds greater than 0"
            )
        return value

    @field_validator("log_group_name")
    @classmethod
    def _log_group_valid(cls, value: str) -> str:
        if not re.fullmatch(r"[\w./#-]{1,512}", value, re.ASCII):
            raise ValueError(
                f"{value!r} is not a CloudWatch Logs group name; the jobs log to '/aws/braket/jobs'"
            )
        return value

    @field_validator("reservation_arn")
    @classmethod
    def _reservation_valid(cls, value: str) -> str:
        if value and not _RESERVATION_ARN.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Braket reservation ARN "
                "('arn:aws:braket:<region>:<account>:reservation/<id>')"
            )
        return value

    @field_validator("input_data", mode="before")
    @classmethod
    def _input_data_from_string(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("input_data")
    @classmethod
    def _input_data_valid(cls, value: dict[str, str]) -> dict[str, str]:
        return validation.check_input_data(value)

    @field_validator("instance_count")
    @classmethod
    def _instance_count_valid(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"{value} instances cannot run a job; give a whole number from 1")
        return value

    @field_validator("distribution")
    @classmethod
    def _distribution_valid(cls, value: str) -> str:
        if value not in ("", "data_parallel"):
            raise ValueError(f"{value!r} is not a distribution; give 'data_parallel' or leave it empty")
        return value

    @field_validator("include_modules", mode="before")
    @classmethod
    def _include_modules_from_string(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):  # modules may be given as modules, as @hybrid_job takes them
            return [getattr(item, "__name__", item) for item in value]
        return _split_words(getattr(value, "__name__", value))

    @field_validator("include_modules")
    @classmethod
    def _include_modules_valid(cls, value: list[str]) -> list[str]:
        return sorted({validation.check_module(name) for name in value})

    @field_validator("max_cost_usd", "dispatch_max_cost_usd")
    @classmethod
    def _budget_valid(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value < float("inf"):
            raise ValueError(f"{value} is not a budget; give an amount in USD above 0, or leave it unset")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BraketExecutorSettings:
        if self.distribution == "data_parallel" and self.classical_device not in DATA_PARALLEL_INSTANCE_TYPES:
            raise ValueError(
                f"distribution: 'data_parallel' does not run on classical_device {self.classical_device!r}; "
                f"set classical_device to one of {', '.join(DATA_PARALLEL_INSTANCE_TYPES)}, or clear "
                "distribution"
            )
        qpu_region = device_region(self.quantum_device)
        if self.region and qpu_region and qpu_region != self.region:
            raise ValueError(
                f"region: {self.region!r} differs from the region of quantum_device {self.quantum_device!r} "
                f"({qpu_region}); a job must run in its QPU's region: set region to {qpu_region!r} "
                "or leave it empty"
            )
        image = _ECR_IMAGE_URI.match(self.ecr_image_uri)
        job_region = self.region or qpu_region
        if image and job_region and image.group("region") != job_region:
            # A warning: whether a job can pull across regions is up to the service, not this check.
            warnings.warn(
                f"ecr_image_uri is in {image.group('region')} but the jobs run in {job_region}; jobs "
                f"pull their image from their own region: push the image to ECR in {job_region}",
                UserWarning,
                stacklevel=2,
            )
        if self.initial_poll_freq > self.poll_freq:
            if "initial_poll_freq" in self.model_fields_set:
                raise ValueError(
                    f"initial_poll_freq ({self.initial_poll_freq} s) is longer than poll_freq "
                    f"({self.poll_freq} s), the slowest interval; lower initial_poll_freq or raise poll_freq"
                )
            # The default start interval never exceeds a short poll_freq from an old covalent.conf.
            object.__setattr__(self, "initial_poll_freq", self.poll_freq)
        role = self.braket_job_execution_role_name.rsplit("/", 1)[-1]
        if not self.ecr_image_uri and not self.ecr_repo_name.startswith(MANAGED_REPO_PREFIX):
            message = (
                f"ecr_repo_name {self.ecr_repo_name!r} does not start with {MANAGED_REPO_PREFIX!r}: "
                f"jobs running as {MANAGED_ROLE_PREFIX}* (the managed AmazonBraketJobsExecutionPolicy) "
                f"can only pull images from repositories named {MANAGED_REPO_PREFIX}*; rename it, "
                f"e.g. '{MANAGED_REPO_PREFIX}-covalent-job-images', or set ecr_image_uri"
            )
            if role.startswith(MANAGED_ROLE_PREFIX):
                # Known to fail: the managed policy would refuse the pull minutes from now.
                raise ValueError(message)
            # A custom role's policy may allow any repository.
            warnings.warn(message, UserWarning, stacklevel=2)
        return self

    # --- derived values -----------------------------------------------------------------------------
    def known_region(self) -> str | None:
        """The region of ``region``, else the one the QPU's ARN names; None when neither says."""
        return self.region or device_region(self.quantum_device)

    def resolve_region(self) -> str:
        """The region the jobs run in: ``region``, else the QPU's region, else the profile's.

        Raises:
            ExecutorConfigError: naming the settings to set when no region can be found.
        """
        region = self.known_region() or profile_region(self.credentials, self.profile)
        if region:
            return region
        raise ExecutorConfigError(
            "No AWS region for the Braket jobs: set `region` in [executors.braket] of covalent.conf "
            "(or BraketExecutor(region=...)), pick a QPU `quantum_device` whose ARN names its region, "
            "or give the `profile` a region (or set AWS_DEFAULT_REGION)."
        )

    def aws_session(self) -> AwsSession:
        """The AWS session of these settings (credentials file, profile), in the jobs' region.

        Raises:
            ExecutorConfigError: bad credentials file or profile, or no region can be found.
        """
        return AwsSession(credentials=self.credentials, profile=self.profile, region=self.resolve_region())

    def resolve_base_image(self, region: str) -> str:
        """``base_image``, or the Braket base jobs image of ``region`` when it is not set."""
        return self.base_image or default_base_image(region)

    def role_arn(self, account_id: str) -> str:
        """The execution role's ARN in ``account_id`` (a role given as an ARN is used as is)."""
        name = self.braket_job_execution_role_name
        return name if name.startswith("arn:") else f"arn:aws:iam::{account_id}:role/{name}"


def validated_retries(retries: Any) -> int:
    """Covalent's ``retries`` of the executor (how often a failed electron runs again): 0 or more.

    Not one of the settings (Covalent's base executor takes it), so checked on its own, before any
    AWS call, with the settings' message form.

    Raises:
        ExecutorConfigError: ``retries`` is not a whole number from 0.
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ExecutorConfigError(
            "Invalid BraketExecutor settings:\n"
            f"  - retries: {retries!r} is not a number of retries; give a whole number from 0 (how many "
            "times Covalent runs a failed electron again)"
        )
    return retries


def _is_number(annotation: Any) -> bool:
    """Whether a field holds a number: ``int``, ``float``, or either of them or None."""
    kinds = set(get_args(annotation)) - {type(None)} or {annotation}
    return kinds <= {int, float}


def unknown_key_hint(key: str) -> str:
    """How to fix an unknown covalent.conf key: the closest known setting, else the list of them."""
    close = difflib.get_close_matches(key, list(BraketExecutorSettings.model_fields), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "remove it; the settings are: " + ", ".join(BraketExecutorSettings.model_fields)


def _format_errors(error: ValidationError) -> str:
    """One line per invalid setting: its name, the value given and the fix."""
    lines = []
    for item in error.errors():
        # Checks across settings (loc is empty) name their settings in the message itself.
        field = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] in {"int_parsing", "int_from_float", "float_parsing", "bool_parsing", "list_type",
                            "dict_type", "string_type"}:
            message = f"{message} (got {item['input']!r})"
        lines.append(f"  - {field}: {message}" if field else f"  - {message}")
    return "Invalid BraketExecutor settings:\n" + "\n".join(lines)


def settings_reference_markdown() -> str:
    """The configuration reference (docs/configuration.md), generated from the model so it cannot drift."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by covalent_braket_plugin.settings.settings_reference_markdown(); "
        "do not edit. -->",
        "",
        "`BraketExecutor` takes these settings as keyword arguments or from `[executors.braket]` in",
        "covalent.conf. Every key of earlier releases of the plugin is accepted. Invalid values fail",
        "before any AWS call, with a message naming the setting and its fix. An empty value (`\"\"`, as",
        "covalent writes the plugin's empty defaults into covalent.conf) sets nothing: a keyword argument",
        "left empty takes covalent.conf's value, and a key of covalent.conf left empty the default.",
        "",
        "| Setting | Type | Default | Meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in BraketExecutorSettings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        annotation = field.annotation
        type_name = annotation.__name__ if annotation in (str, int, float, bool) else str(annotation)
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | `{type_name}` | `{json.dumps(default)}` | {description} |")
    lines += [
        "",
        "`classical_device` accepts the instance types of the `InstanceType` enum in the Braket service",
        "model of the installed botocore (an invalid value's error message lists them), so a newer",
        "botocore brings new instance types without a release of this plugin.",
        "",
        "## Device short names (`quantum_device`)",
        "",
        "| Short name | Device ARN |",
        "| --- | --- |",
        *(f"| `{short}` | `{arn}` |" for short, arn in DEVICE_SHORT_NAMES.items()),
        "",
    ]
    return "\n".join(lines)
