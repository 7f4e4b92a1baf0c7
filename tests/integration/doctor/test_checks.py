"""``covalent-braket doctor`` against the local stack: it passes on an account ``covalent-braket setup``
prepared, and for each thing that would break a job it fails, naming the check and the fix.

Every test prepares its own bucket, repository and role (unique names on the shared stack) and its own
covalent.conf in a temporary directory, which COVALENT_CONFIG_DIR points at as well.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
import toml

from covalent_braket_plugin.cli import main
from covalent_braket_plugin.images import (
    BRAKET_SDK_LABEL,
    TOOLKIT_LABEL,
    TOOLKIT_VERSION,
    client_python_minor,
)
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.provisioning.setup import AccountSetup, SetupOptions
from covalent_braket_plugin.testing.pytest_plugin import point_at


@dataclass(frozen=True)
class Account:
    """What setup made for one test, and the covalent.conf naming it."""

    conf: Path
    bucket: str
    repository: str
    role: str
    stack: LocalStack

    def edit(self, **values: Any) -> None:
        """Set (or, with None, remove) keys of [executors.braket]."""
        document = toml.loads(self.conf.read_text())
        section = document["executors"]["braket"]
        for key, value in values.items():
            if value is None:
                section.pop(key, None)
            else:
                section[key] = value
        self.conf.write_text(toml.dumps(document))

    def client(self, service: str) -> Any:
        return boto3.client(service, **self.stack.client_kwargs())


@pytest.fixture
def account(braket_local_env: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            job_base_image: str) -> Account:
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(tmp_path))
    suffix = uuid.uuid4().hex[:8]
    conf = tmp_path / "covalent.conf"
    options = SetupOptions(
        region=braket_local_env.region, bucket=f"amazon-braket-doctor-{suffix}",
        repository=f"amazon-braket-doctor-{suffix}", conf_path=conf,
        role_name=f"AmazonBraketJobsExecutionRole-doctor-{suffix}",
    )
    AccountSetup(boto3.session.Session(), options).run(log=lambda result: None)
    made = Account(conf, options.bucket, options.repository, options.role_name, braket_local_env)
    # Before the first build the doctor asks the base image for its Python: the engine holds this one.
    made.edit(base_image=job_base_image)
    return made


def doctor(account: Account, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, dict[str, Any]]:
    """Run the command as a user would; its exit status and its results by check id."""
    capsys.readouterr()
    status = main(["doctor", "--conf", str(account.conf), "--json", *flags])
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is (status == 0)
    return status, {result["check"]: result for result in document["checks"]}


def failures(results: dict[str, Any]) -> list[str]:
    return [check for check, result in results.items() if result["status"] == "fail"]


def test_an_account_setup_prepared_passes(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    status, results = doctor(account, capsys)
    assert status == 0, results
    assert all(result["status"] == "pass" for result in results.values()), results
    assert account.bucket in results["s3.bucket"]["message"]
    # moto has no IAM policy simulator: the role's own policy is read instead, and the doctor says so.
    assert "checked with its 1 attached and inline policies" in results["role.permissions"]["message"]
    assert f"Python {client_python_minor()}" in results["image.versions"]["message"]
    # The table says the same for people.
    capsys.readouterr()
    assert main(["doctor", "--conf", str(account.conf)]) == 0
    table = capsys.readouterr().out
    assert "pass  job role trust" in table and "FAIL" not in table


def test_a_missing_bucket_fails_with_the_command_that_creates_it(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = f"{account.bucket}-gone"
    account.edit(s3_bucket_name=gone)
    status, results = doctor(account, capsys)
    assert status == 1
    # The role's least-privilege policy names the bucket setup made, so it does not cover this one either.
    assert failures(results) == ["s3.bucket", "role.permissions"]
    assert results["s3.bucket"]["problem"] == "s3-missing"
    assert f"aws s3api create-bucket --bucket {gone} --region us-east-1" in results["s3.bucket"]["fix"]
    assert results["s3.region"]["message"] == "not checked: bucket exists failed"
    assert "may not s3:GetBucketLocation, s3:ListBucket, s3:GetObject, s3:PutObject; checked with" in (
        results["role.permissions"]["message"])


def test_a_bucket_not_named_amazon_braket_fails(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    account.edit(s3_bucket_name="team-results")
    status, results = doctor(account, capsys)
    assert status == 1
    assert failures(results) == ["conf.settings", "s3.name"]
    assert "s3_bucket_name: 'team-results' is not allowed" in results["conf.settings"]["message"]
    assert results["s3.name"]["fix"].startswith("Create a bucket named amazon-braket-<something>")
    assert results["s3.bucket"]["message"] == "not checked: bucket name failed"
    assert results["role.exists"]["message"] == "not checked: settings valid failed"


def test_a_missing_repository_fails(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    account.client("ecr").delete_repository(repositoryName=account.repository, force=True)
    status, results = doctor(account, capsys)
    assert status == 1
    assert failures(results) == ["ecr.repository"]
    fix = results["ecr.repository"]["fix"]
    assert f"aws ecr create-repository --repository-name {account.repository}" in fix
    assert results["image.versions"]["status"] == "skip"


def test_a_role_braket_may_not_assume_fails(account: Account, capsys: pytest.CaptureFixture[str]) -> None:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    account.client("iam").update_assume_role_policy(RoleName=account.role, PolicyDocument=json.dumps(trust))
    status, results = doctor(account, capsys)
    assert status == 1
    assert failures(results) == ["role.trust"]
    trust_result = results["role.trust"]
    assert "does not let braket.amazonaws.com assume it (its trust policy allows: ec2.amazonaws.com)" in (
        trust_result["message"])
    assert f"aws iam update-assume-role-policy --role-name {account.role}" in trust_result["fix"]


def test_a_bucket_whose_prefix_never_expires_warns_naming_setup(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    status, results = doctor(account, capsys)
    assert results["s3.expiry"]["status"] == "pass"
    expiry = results["s3.expiry"]
    assert expiry["message"] == "rule covalent-braket-expiry expires covalent-braket/ after 30 days"

    s3 = account.client("s3")
    s3.put_bucket_lifecycle_configuration(Bucket=account.bucket, LifecycleConfiguration={"Rules": [
        {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 7}},
    ]})
    status, results = doctor(account, capsys)
    assert status == 0  # a warning: jobs still run
    expiry = results["s3.expiry"]
    assert (expiry["status"], expiry["problem"]) == ("warn", "s3-no-expiry")
    assert f"no lifecycle rule of bucket {account.bucket} expires objects under covalent-braket/" in (
        expiry["message"])
    assert "Run `covalent-braket setup`" in expiry["fix"] and "--expire-days" in expiry["fix"]

    assert main(["setup", "--conf", str(account.conf), "--bucket", account.bucket, "--repository",
                 account.repository, "--role-name", account.role]) == 0
    status, results = doctor(account, capsys)
    assert results["s3.expiry"]["status"] == "pass"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=account.bucket)["Rules"]
    assert [rule["ID"] for rule in rules] == ["logs", "covalent-braket-expiry"]


def test_an_unknown_covalent_conf_key_fails_naming_the_closest(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account.edit(time_limt=600)
    status, results = doctor(account, capsys)
    assert status == 1
    assert failures(results) == ["conf.keys"]
    assert "does not know: time_limt" in results["conf.keys"]["message"]
    assert "time_limt: did you mean 'time_limit'?" in results["conf.keys"]["fix"]


def push_labelled_image(
    account: Account, engine: docker.DockerClient, base: str, python: str, startable: bool = True
) -> str:
    """Build an image FROM ``base`` whose label says it runs ``python`` (and, when ``startable``, that
    it has the training toolkit and names its program, as the executor's images do), push it to the
    stack's registry as the executor would push a job image, and return its ecr_image_uri."""
    ecr = account.client("ecr")
    registry = ecr.get_authorization_token()["authorizationData"][0]["proxyEndpoint"].split("://", 1)[1]
    reference = f"{registry}/{account.repository}"
    tag = f"py{python.replace('.', '')}{'' if startable else '-unstartable'}"
    dockerfile = (f"FROM {base}\nLABEL io.covalent-braket.python=\"{python}\" "
                  f"io.covalent-braket.covalent=\"{metadata.version('covalent')}\" "
                  f"{BRAKET_SDK_LABEL}=\"{metadata.version('amazon-braket-sdk')}\"\n")
    if startable:
        dockerfile += (f"LABEL {TOOLKIT_LABEL}=\"{TOOLKIT_VERSION}\"\n"
                       "ENV SAGEMAKER_PROGRAM=braket_container.py\n")
    engine.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{reference}:{tag}", rm=True)
    try:
        for line in engine.api.push(reference, tag=tag, stream=True, decode=True,
                                    auth_config={"username": "AWS", "password": "local"}):
            assert "error" not in line, line
    finally:
        engine.api.remove_image(f"{reference}:{tag}")
    account_id = account.client("sts").get_caller_identity()["Account"]
    return f"{account_id}.dkr.ecr.{account.stack.region}.amazonaws.com/{account.repository}:{tag}"


def test_a_ready_image_of_the_client_python_passes(
    account: Account, capsys: pytest.CaptureFixture[str], docker_engine: docker.DockerClient,
    job_base_image: str,
) -> None:
    uri = push_labelled_image(account, docker_engine, job_base_image, client_python_minor())
    account.edit(ecr_image_uri=uri)
    status, results = doctor(account, capsys)
    assert status == 0, results
    assert results["ecr.repository"]["message"] == f"ecr_image_uri {uri} is in ECR"
    assert results["image.versions"]["message"].startswith(
        f"{uri} has Python {client_python_minor()}, covalent {metadata.version('covalent')} and "
        f"amazon-braket-sdk {metadata.version('amazon-braket-sdk')}")


def test_an_image_braket_could_not_start_fails_before_any_job(
    account: Account, capsys: pytest.CaptureFixture[str], docker_engine: docker.DockerClient,
    job_base_image: str,
) -> None:
    """An image without SAGEMAKER_PROGRAM (nor the toolkit) is told from its configuration in the
    stack's registry; nothing is pulled or run."""
    uri = push_labelled_image(account, docker_engine, job_base_image, client_python_minor(), startable=False)
    account.edit(ecr_image_uri=uri)
    status, results = doctor(account, capsys)
    assert status == 1
    assert failures(results) == ["image.versions"]
    assert results["image.versions"]["problem"] == "image-no-program"
    assert "docker run IMAGE train" in results["image.versions"]["message"]


def test_an_image_of_another_python_fails_naming_both_versions(
    account: Account, capsys: pytest.CaptureFixture[str], docker_engine: docker.DockerClient,
    job_base_image: str,
) -> None:
    """The image's labels are read from the stack's registry; nothing is pulled or run."""
    account.edit(ecr_image_uri=push_labelled_image(account, docker_engine, job_base_image, "3.7"))
    status, results = doctor(account, capsys)
    assert status == 1
    assert failures(results) == ["image.versions"]
    versions = results["image.versions"]
    assert versions["problem"] == "image-python-mismatch"
    assert f"runs Python 3.7, but this client runs Python {client_python_minor()}" in versions["message"]
    assert "Run Covalent under Python 3.7" in versions["fix"]


@pytest.fixture(scope="module")
def registryless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack as a first `covalent-braket local up --runner process` makes it on a machine without
    docker-registry: its jobs run as processes, and ECR's image calls have no registry to answer from."""
    state_dir = tmp_path_factory.mktemp("registryless")
    no_registry = Path("/nonexistent")
    with LocalStack(port=0, runner="process", state_dir=state_dir, registry_binary=no_registry) as stack:
        yield stack


def test_a_stack_without_a_registry_is_told_at_once_with_its_cause(
    registryless: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Getting started on the process runner: setup, then ecr_image_uri naming a ready image, with no
    Docker engine. ECR's answer is one no retry changes, so no check waits out the executor's ten
    retries; the checks look at the configured image and offer no permission for what is no
    permission problem."""
    point_at(registryless, monkeypatch)
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    conf = tmp_path / "covalent.conf"
    options = SetupOptions(region=registryless.region, conf_path=conf)
    AccountSetup(boto3.session.Session(), options).run(log=lambda result: None)
    made = Account(conf, options.bucket, options.repository, options.role_name, registryless)
    image = f"123456789012.dkr.ecr.{registryless.region}.amazonaws.com/{options.repository}:host"
    made.edit(ecr_image_uri=image)
    status, results = doctor(made, capsys)
    assert status == 0, results  # warnings: the process runner never pulls the image
    undecided = {check: result for check, result in results.items() if result["status"] != "pass"}
    assert set(undecided) == {"ecr.repository", "docker.engine", "image.versions"}, results
    for check in ("ecr.repository", "image.versions"):
        result = undecided[check]
        assert "this local stack runs without an image registry" in result["message"], result
        assert "reached max retries" not in result["message"], result
        assert "apt-get install docker-registry" in result["fix"] and "ecr:" not in result["fix"], result
    assert undecided["image.versions"]["message"].startswith(f"the versions in {image} could not be read")
    docker_engine = undecided["docker.engine"]
    assert docker_engine["problem"] == "docker-missing-unneeded"
    assert "scripts/test" not in docker_engine["message"] + docker_engine["fix"]
