"""The checks of ``covalent-braket doctor``, in the order they run, and the context they share.

Each check reads (never changes) one thing the executor relies on and answers pass, warn or fail.
Checks build on each other through :class:`Context`: the settings validated by ``conf.settings``
give the bucket and the role, ``aws.credentials`` gives the account, ``aws.region`` the region the
clients use. A check whose prerequisite did not pass is not run (see :func:`run_checks`), so one
root cause is reported once instead of as a cascade of AWS errors.

Every failure and warning comes from :mod:`covalent_braket_plugin.doctor.catalog`, which holds its
fix; passes carry a short message of what was found.
"""

from __future__ import annotations

import fnmatch
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import docker
import docker.errors
import requests
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.parsers import ResponseParserError

from covalent_braket_plugin.aws import CHECK_CLIENT_CONFIG, AwsSession
from covalent_braket_plugin.covalent_conf import (
    covalent_conf_path,
    read_executor_section,
    unknown_keys,
)
from covalent_braket_plugin.doctor.catalog import CHECKS_BY_ID, PROBLEMS_BY_ID, SKIP_MESSAGE, Status, render
from covalent_braket_plugin.images import (
    BRAKET_SDK_DISTRIBUTION,
    BRAKET_SDK_LABEL,
    COVALENT_LABEL,
    PYTHON_LABEL,
    ImageError,
    ImageRef,
    MissingPrerequisiteError,
    client_python_minor,
    docker_client,
    image_config,
    image_python_version,
    make_recipe,
)
from covalent_braket_plugin.provisioning.policies import (
    BRAKET_SERVICE,
    job_role_policy,
    job_role_trust_policy,
    required_job_role_actions,
)
from covalent_braket_plugin.provisioning.s3 import (
    EXPIRY_PREFIX,
    EXPIRY_RULE_ID,
    expiring_rule,
    lifecycle_rules,
)
from covalent_braket_plugin.settings import (
    MANAGED_REPO_PREFIX,
    MANAGED_ROLE_PREFIX,
    BraketExecutorSettings,
    ExecutorConfigError,
    braket_regions,
    device_region,
    unknown_key_hint,
)

# What an AWS call may raise besides its modelled errors; ResponseParserError is what an endpoint
# answering with something other than AWS's format (an HTML error page) gives.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
# Stands in for "any object" / "any task" where a policy names a wildcard resource.
SAMPLE_RESOURCE_NAME = "covalent-braket-doctor"
# The codes AWS refuses a call with when no policy allows it (S3's and IAM's, ECR's, EC2's spelling).
PERMISSION_ERROR_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# Where the docker package looks for an engine when DOCKER_HOST is not set.
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Outcome:
    """What one check found: a status, a message and, for warnings and failures, the fix."""

    status: Status
    message: str
    fix: str = ""
    problem: str | None = None


def passed(message: str) -> Outcome:
    return Outcome(Status.PASS, message)


def problem(problem_id: str, **fields: object) -> Outcome:
    """The catalog's problem ``problem_id`` with its message and fix filled in from ``fields``."""
    message, fix = render(problem_id, **fields)
    return Outcome(PROBLEMS_BY_ID[problem_id].status, message, fix, problem_id)


def _unanswered(error: Exception, forbidden: str, undecided: str, **fields: object) -> Outcome:
    """A call that did not answer the check's question: the problem ``forbidden``, whose fix is a
    policy, when a permission was missing; else ``undecided``, for the cause the error names, which
    no policy changes."""
    return problem(forbidden if _is_permission_error(error) else undecided, error=error, **fields)


def _is_permission_error(error: Exception) -> bool:
    """Whether ``error`` is AWS (or a registry) refusing a call no policy of the identity allows."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in PERMISSION_ERROR_CODES or status == 403
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code in (401, 403)
    return False


@dataclass
class Context:
    """The doctor's inputs and what the checks found so far (filled in as they run).

    ``clients`` may be given boto3 clients by service name (unit tests give stubbed ones);
    otherwise they come from the settings' session, in the resolved region.
    """

    conf_path: Path | None = None
    region_override: str | None = None
    profile_override: str | None = None
    docker_factory: Callable[[], docker.DockerClient] = docker_client
    http: requests.Session = field(default_factory=requests.Session)
    clients: dict[str, Any] = field(default_factory=dict)
    # Found by the checks.
    section: dict[str, Any] | None = None
    settings: BraketExecutorSettings | None = None
    session: AwsSession | None = None
    account: str | None = None
    identity: str | None = None
    region: str | None = None
    bucket_region: str | None = None
    role: dict[str, Any] | None = None
    docker: docker.DockerClient | None = None

    @property
    def path(self) -> Path:
        return self.conf_path or covalent_conf_path()

    def client(self, service: str, region: str | None = None) -> Any:
        """A client of ``service`` in ``region`` (default: the jobs' region), made once."""
        region = region or self.region
        key = service if region in (None, self.region) else f"{service}@{region}"
        if key in self.clients:
            return self.clients[key]
        if self.session is None:
            raise RuntimeError("no AWS session yet: the check must require aws.credentials")
        return self.session.client(service, region)

    @property
    def checked_settings(self) -> BraketExecutorSettings:
        if self.settings is None:
            raise RuntimeError("no settings yet: the check must require conf.settings")
        return self.settings

    def known_options(self) -> dict[str, Any]:
        """The section's keys the executor knows, with --profile on top (as a keyword argument would be)."""
        section = self.section or {}
        options = {key: value for key, value in section.items() if key not in unknown_keys(section)}
        if self.profile_override:
            options["profile"] = self.profile_override
        return options


@dataclass(frozen=True)
class Check:
    """One check: its id (see the catalog's CHECKS), the checks it builds on, and its function."""

    id: str
    requires: tuple[str, ...]
    run: Callable[[Context], Outcome]

    @property
    def title(self) -> str:
        return CHECKS_BY_ID[self.id].title


# --- covalent.conf ---------------------------------------------------------------------------------------

def check_conf_section(ctx: Context) -> Outcome:
    path = ctx.path
    try:
        ctx.section = read_executor_section(path)
    except (ValueError, OSError) as error:
        return problem("conf-unreadable", path=path, error=error)
    if ctx.section is None:
        ctx.section = {}
        if not path.exists():
            return problem("conf-no-file", path=path)
        return problem("conf-no-section", path=path)
    return passed(f"[executors.braket] in {path} ({len(ctx.section)} keys)")


def check_conf_settings(ctx: Context) -> Outcome:
    # Unknown keys are the next check's to name; here the values of the known ones are validated.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ctx.settings = BraketExecutorSettings.from_options(**ctx.known_options())
        except ExecutorConfigError as error:
            return problem("conf-invalid", error=error)
    advice = [str(warning.message) for warning in caught if issubclass(warning.category, UserWarning)]
    if advice:
        return problem("conf-warning", warning="; ".join(advice))
    return passed("every value is valid")


def check_conf_keys(ctx: Context) -> Outcome:
    unknown = unknown_keys(ctx.section or {})
    if unknown:
        # The executor's own hint: the closest known key, else the list of keys.
        hints = "; ".join(f"{key}: {unknown_key_hint(key)}" for key in unknown)
        return problem("conf-unknown-keys", keys=", ".join(unknown), hints=hints, path=ctx.path)
    return passed("every key is a BraketExecutor setting")


# --- AWS account -----------------------------------------------------------------------------------------

def check_credentials(ctx: Context) -> Outcome:
    settings = ctx.checked_settings
    who = f"profile {settings.profile!r}" if settings.profile else "the default credential chain"
    try:
        ctx.session = AwsSession(
            credentials=settings.credentials, profile=settings.profile, config=CHECK_CLIENT_CONFIG
        )
    except ExecutorConfigError as error:
        return problem("aws-profile", error=error)
    # STS in the jobs' region when the settings name it (other partitions have no global endpoint).
    sts = ctx.client("sts", settings.region or device_region(settings.quantum_device))
    try:
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        return problem("aws-no-credentials", profile=who)
    except ClientError as error:
        return problem("aws-credentials-refused", profile=who, error=error)
    except AWS_ERRORS as error:
        return problem("aws-unreachable", error=error)
    ctx.account, ctx.identity = identity["Account"], identity["Arn"]
    return passed(f"{ctx.identity} (account {ctx.account}) through {who}")


def check_region(ctx: Context) -> Outcome:
    settings = ctx.checked_settings
    qpu_region = device_region(settings.quantum_device)
    if ctx.region_override:
        region, source = ctx.region_override, "--region"
    else:
        try:
            region = settings.resolve_region()
        except ExecutorConfigError as error:
            return problem("region-none", error=error)
        source = ("the region setting" if settings.region else
                  "the region of quantum_device" if qpu_region else
                  "the profile's region or AWS_DEFAULT_REGION")
    known = braket_regions()
    if known and region not in known:
        return problem("region-no-braket", region=region, regions=", ".join(known))
    if qpu_region and qpu_region != region:
        return problem("region-device-mismatch", region=region, device=settings.quantum_device,
                       device_region=qpu_region)
    ctx.region = region
    return passed(f"{region} ({source}); Amazon Braket is offered there")


# --- S3 --------------------------------------------------------------------------------------------------

def _bucket_name(ctx: Context) -> str:
    if ctx.settings is not None:
        return ctx.settings.s3_bucket_name
    default = BraketExecutorSettings.model_fields["s3_bucket_name"].default
    return str((ctx.section or {}).get("s3_bucket_name") or default)


def check_bucket_name(ctx: Context) -> Outcome:
    bucket = _bucket_name(ctx)
    try:
        BraketExecutorSettings.from_options(s3_bucket_name=bucket)
    except ExecutorConfigError:
        return problem("s3-bad-name", bucket=bucket)
    return passed(f"{bucket} is named amazon-braket-*")


def check_bucket(ctx: Context) -> Outcome:
    s3 = ctx.client("s3")
    bucket = _bucket_name(ctx)
    fields = {"bucket": bucket, "region": ctx.region, "account": ctx.account, "identity": ctx.identity}
    answer = _head_bucket(s3, Bucket=bucket)
    if answer == 404:
        return problem("s3-missing", **fields)
    if answer == 403:
        return problem("s3-forbidden", **fields)
    if not isinstance(answer, dict):
        return problem("s3-undecided", error=answer, **fields)
    # The executor passes ExpectedBucketOwner on every request: a bucket of another account refuses it.
    owned = _head_bucket(s3, Bucket=bucket, ExpectedBucketOwner=str(ctx.account))
    if owned == 403:
        return problem("s3-not-owned", **fields)
    if not isinstance(owned, dict):
        return problem("s3-undecided", error=owned, **fields)
    ctx.bucket_region = owned.get("BucketRegion") or (
        owned.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
    )
    return passed(f"{bucket} exists and belongs to account {ctx.account}")


def _head_bucket(s3: Any, **params: str) -> dict[str, Any] | int | Exception:
    """HeadBucket's answer, the HTTP status it refused with (403, 404, ...), or the error that kept it
    from answering."""
    try:
        return dict(s3.head_bucket(**params))
    except ClientError as error:
        return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) or error
    except AWS_ERRORS as error:
        return error


def check_bucket_region(ctx: Context) -> Outcome:
    bucket = _bucket_name(ctx)
    if not ctx.bucket_region:
        return problem("s3-region-unknown", bucket=bucket, region=ctx.region)
    if ctx.bucket_region != ctx.region:
        return problem("s3-wrong-region", bucket=bucket, bucket_region=ctx.bucket_region, region=ctx.region)
    return passed(f"{bucket} is in {ctx.bucket_region}, the jobs' region")


def check_bucket_expiry(ctx: Context) -> Outcome:
    bucket = _bucket_name(ctx)
    fields = {"bucket": bucket, "prefix": EXPIRY_PREFIX}
    try:
        rule = expiring_rule(lifecycle_rules(ctx.client("s3"), bucket))
    except AWS_ERRORS as error:
        return problem("s3-expiry-undecided", error=_short(error), **fields)
    if rule is None:
        return problem("s3-no-expiry", rule_id=EXPIRY_RULE_ID, **fields)
    return passed(f"rule {rule.get('ID', '(no id)')} expires {EXPIRY_PREFIX} after "
                  f"{rule['Expiration']['Days']} days")


# --- ECR -------------------------------------------------------------------------------------------------

def check_repository(ctx: Context) -> Outcome:
    settings = ctx.checked_settings
    if settings.ecr_image_uri:
        image = ImageRef.parse(settings.ecr_image_uri)
        ecr = ctx.client("ecr", image.region)
        try:
            _describe_image(ecr, image)
        except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException) as error:
            return problem("ecr-image-missing", image=image.uri, error=_aws_message(error))
        except AWS_ERRORS as error:
            return _unanswered(error, "ecr-forbidden", "ecr-undecided", repository=image.repository)
        return passed(f"ecr_image_uri {image.uri} is in ECR")
    ecr = ctx.client("ecr")
    name = settings.ecr_repo_name
    try:
        uri = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
    except ecr.exceptions.RepositoryNotFoundException:
        return problem("ecr-repo-missing", repository=name, region=ctx.region)
    except AWS_ERRORS as error:
        return _unanswered(error, "ecr-forbidden", "ecr-undecided", repository=name)
    return passed(f"{uri} exists")


def _describe_image(ecr: Any, image: ImageRef) -> dict[str, Any]:
    key = "imageDigest" if image.reference.startswith("sha256:") else "imageTag"
    return ecr.describe_images(registryId=image.registry_id, repositoryName=image.repository,
                               imageIds=[{key: image.reference}])["imageDetails"][0]


def _aws_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message") or error)


def check_repository_name(ctx: Context) -> Outcome:
    settings = ctx.checked_settings
    repository = _repository(settings)
    if repository.startswith(MANAGED_REPO_PREFIX):
        return passed(f"{repository} is named {MANAGED_REPO_PREFIX}*")
    role = settings.braket_job_execution_role_name
    managed = role.rsplit("/", 1)[-1].startswith(MANAGED_ROLE_PREFIX)
    return problem("ecr-bad-name" if managed else "ecr-name-custom-role", repository=repository, role=role)


# --- IAM job role ----------------------------------------------------------------------------------------

def check_role(ctx: Context) -> Outcome:
    settings = ctx.checked_settings
    role_arn = settings.role_arn(str(ctx.account))
    role_name = role_arn.rsplit("/", 1)[-1]
    iam = ctx.client("iam")
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return problem("role-missing", role_arn=role_arn)
    except AWS_ERRORS as error:
        return problem("role-undecided", role_arn=role_arn, error=error)
    if role["Arn"] != role_arn:
        # CreateJob is given role_arn, path included: a role of that name under another path is not it.
        return problem("role-wrong-path", role_arn=role_arn, actual_arn=role["Arn"],
                       actual_name=role["Arn"].split(":role/", 1)[-1])
    ctx.role = role
    return passed(f"{role_arn} exists")


def _policy_document(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """A policy document as boto3 returns it: decoded already, or URL-encoded JSON text."""
    if isinstance(document, str):
        return json.loads(unquote(document))
    return dict(document)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _matches(patterns: Iterable[str], value: str) -> bool:
    """IAM wildcard matching (``*`` and ``?``); actions are case-insensitive, ARNs are not."""
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def check_role_trust(ctx: Context) -> Outcome:
    role = ctx.role or {}
    document = _policy_document(role.get("AssumeRolePolicyDocument") or {})
    principals: list[str] = []
    for statement in _as_list(document.get("Statement")):
        principal = statement.get("Principal")
        names = (["*"] if principal == "*" else
                 [str(name) for values in (principal or {}).values() for name in _as_list(values)])
        actions = [action.lower() for action in _as_list(statement.get("Action"))]
        if statement.get("Effect") != "Allow" or not _matches(actions, "sts:assumerole"):
            continue
        source_accounts = _source_accounts(statement)
        if source_accounts and not _matches(source_accounts, str(ctx.account)):
            # Braket assumes the role on behalf of the job's account, which this statement rules out.
            names = [f"{name} for account {', '.join(source_accounts)}" for name in names]
        principals += names
        if BRAKET_SERVICE in names or "*" in names:
            return passed(f"{BRAKET_SERVICE} may assume {role['RoleName']}")
    return problem(
        "role-untrusted", role_arn=role.get("Arn"), role_name=role.get("RoleName"),
        principals=", ".join(principals) or "nobody",
        trust_policy=json.dumps(job_role_trust_policy(account=ctx.account), separators=(",", ":")),
    )


def _source_accounts(statement: Mapping[str, Any]) -> list[str]:
    """The accounts an ``aws:SourceAccount`` condition (StringEquals or StringLike) limits a statement to."""
    accounts: list[str] = []
    for operator, conditions in (statement.get("Condition") or {}).items():
        if operator in ("StringEquals", "StringLike"):
            for key, values in conditions.items():
                if key.lower() == "aws:sourceaccount":
                    accounts += [str(value) for value in _as_list(values)]
    return accounts


def required_permissions(ctx: Context) -> dict[str, list[str]]:
    """Each action a job needs with the resources it needs it on (for this bucket, repository, ...).

    The resources are read from the job role policy ``covalent-braket setup`` writes, so the doctor
    asks exactly what that policy grants. Wildcards in resource names become a sample name: the
    question is "may it act on an object / task there", which needs one concrete ARN.
    """
    settings = ctx.checked_settings
    policy = job_role_policy(bucket=settings.s3_bucket_name, repository=_repository(settings),
                             region=str(ctx.region), account=str(ctx.account),
                             log_group=settings.log_group_name)
    resources_of: dict[str, list[str]] = {}
    # The Deny statement names what a job must not do: the question is only what it must be allowed.
    for statement in (s for s in policy["Statement"] if s["Effect"] == "Allow"):
        for action in _as_list(statement["Action"]):
            resources_of[action] = [
                resource if resource == "*" else resource.replace("*", SAMPLE_RESOURCE_NAME)
                for resource in _as_list(statement["Resource"])
            ]
    return {action: resources_of.get(action, ["*"])
            for actions in required_job_role_actions().values() for action in actions}


def _repository(settings: BraketExecutorSettings) -> str:
    """The repository the jobs pull from: ecr_image_uri's when it is set, else ecr_repo_name."""
    if settings.ecr_image_uri:
        return ImageRef.parse(settings.ecr_image_uri).repository
    return settings.ecr_repo_name


def check_role_permissions(ctx: Context) -> Outcome:
    role = ctx.role or {}
    needed = required_permissions(ctx)
    iam = ctx.client("iam")
    try:
        denied = _simulate(iam, role["Arn"], needed)
        method = "the IAM policy simulator"
    except AWS_ERRORS as simulator_error:
        try:
            denied, policies = _evaluate_policies(iam, role["RoleName"], needed)
        except AWS_ERRORS as error:
            return problem("role-permissions-undecided", role_arn=role["Arn"], error=error)
        method = (f"its {policies} attached and inline policies, conditions not evaluated (the IAM policy "
                  f"simulator is not available: {_short(simulator_error)})")
    if denied:
        return problem("role-lacks-actions", role_arn=role["Arn"], actions=", ".join(denied), method=method)
    return passed(f"all {len(needed)} actions a job needs are allowed; checked with {method}")


def _short(error: Exception) -> str:
    """The first line of an error, at most 100 characters (an HTML error page is not worth more)."""
    if isinstance(error, ResponseParserError):
        return "the endpoint's answer is not an AWS response"
    text = _aws_message(error) if isinstance(error, ClientError) else str(error)
    line = text.splitlines()[0] if text else type(error).__name__
    return line if len(line) <= 100 else line[:99] + "…"


def _simulate(iam: Any, role_arn: str, needed: Mapping[str, list[str]]) -> list[str]:
    """Actions the simulator does not allow on any of their resources."""
    denied = []
    for action, resources in needed.items():
        params: dict[str, Any] = {"PolicySourceArn": role_arn, "ActionNames": [action]}
        if resources != ["*"]:
            params["ResourceArns"] = resources
        results = iam.simulate_principal_policy(**params)["EvaluationResults"]
        decisions = [
            specific["EvalResourceDecision"]
            for result in results for specific in result.get("ResourceSpecificResults") or []
        ] or [result["EvalDecision"] for result in results]
        if "allowed" not in decisions:
            denied.append(action)
    return denied


def _evaluate_policies(iam: Any, role_name: str, needed: Mapping[str, list[str]]) -> tuple[list[str], int]:
    """Actions no Allow statement of the role's policies grants (or a Deny refuses), and the policy count."""
    documents = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        for attached in page["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            documents.append(iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)
                             ["PolicyVersion"]["Document"])
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        for name in page["PolicyNames"]:
            documents.append(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    statements = [statement for document in documents
                  for statement in _as_list(_policy_document(document).get("Statement"))]
    denied = [action for action, resources in needed.items()
              if not any(_grants(statements, action, resource) for resource in resources)]
    return denied, len(documents)


def _grants(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    def applies(statement: dict[str, Any]) -> bool:
        actions = [pattern.lower() for pattern in _as_list(statement.get("Action"))]
        not_actions = [pattern.lower() for pattern in _as_list(statement.get("NotAction"))]
        action_hit = _matches(actions, action.lower()) or bool(
            not_actions and not _matches(not_actions, action.lower()))
        resource_hit = _matches(_as_list(statement.get("Resource")), resource) or bool(
            statement.get("NotResource") and not _matches(_as_list(statement["NotResource"]), resource))
        return action_hit and resource_hit

    if any(statement.get("Effect") == "Deny" and applies(statement) for statement in statements):
        return False
    return any(statement.get("Effect") == "Allow" and applies(statement) for statement in statements)


# --- Docker ----------------------------------------------------------------------------------------------

def check_docker(ctx: Context) -> Outcome:
    try:
        ctx.docker = ctx.docker_factory()
        version = ctx.docker.version().get("Version", "?")
    except (MissingPrerequisiteError, docker.errors.DockerException) as error:
        # The engine's own answer: the image builder's advice around it is for a build, not a user.
        cause = error.__cause__ if isinstance(error, MissingPrerequisiteError) and error.__cause__ else error
        unneeded = bool(ctx.checked_settings.ecr_image_uri)
        return problem("docker-missing-unneeded" if unneeded else "docker-missing",
                       host=os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST, error=cause)
    return passed(f"Docker engine {version} answers")


# --- versions --------------------------------------------------------------------------------------------

def check_versions(ctx: Context) -> Outcome:
    settings = ctx.checked_settings
    client_python, client_covalent = client_python_minor(), metadata.version("covalent")
    if settings.ecr_image_uri:
        # The image every job runs, whatever ecr.repository could tell of it.
        image = ImageRef.parse(settings.ecr_image_uri)
    else:
        # The image the executor would use for the settings' own pip_packages (an electron's packages
        # give another tag, on the same base image and versions).
        base = settings.resolve_base_image(str(ctx.region))
        tag = make_recipe(base, settings.pip_packages).tag
        candidate = ImageRef(str(ctx.account), str(ctx.region), settings.ecr_repo_name, tag)
        ecr = ctx.client("ecr")
        try:
            ecr.describe_images(repositoryName=candidate.repository, imageIds=[{"imageTag": tag}])
            image = candidate
        except ecr.exceptions.ImageNotFoundException:
            return _check_base_image(ctx, base, client_python)
        except AWS_ERRORS as error:
            return _unanswered(error, "image-forbidden", "image-undecided", image=candidate.uri)
    try:
        config = image_config(ctx.client("ecr", image.region), ctx.http, image)
    except (*AWS_ERRORS, requests.RequestException, ValueError, KeyError) as error:
        return _unanswered(error, "image-forbidden", "image-undecided", image=image.uri)
    if not config.env.get("SAGEMAKER_PROGRAM"):
        return problem("image-no-program", image=image.uri)
    if not config.has_toolkit():
        return problem("image-no-toolkit", image=image.uri)
    labels = config.labels
    image_python, image_covalent = labels.get(PYTHON_LABEL), labels.get(COVALENT_LABEL)
    if not image_python:
        return problem("image-unlabelled", image=image.uri, client_python=client_python)
    if image_python != client_python:
        return problem("image-python-mismatch", image=image.uri, image_python=image_python,
                       client_python=client_python)
    if image_covalent and image_covalent != client_covalent:
        return problem("image-covalent-mismatch", image=image.uri, image_covalent=image_covalent,
                       client_covalent=client_covalent)
    image_sdk, client_sdk = labels.get(BRAKET_SDK_LABEL), metadata.version(BRAKET_SDK_DISTRIBUTION)
    if image_sdk and image_sdk != client_sdk:
        return problem("image-braket-sdk-mismatch", image=image.uri, image_sdk=image_sdk,
                       client_sdk=client_sdk)
    return passed(f"{image.uri} has Python {image_python}, covalent {image_covalent or '?'} and "
                  f"amazon-braket-sdk {image_sdk or '? (unlabelled)'}; this client has Python "
                  f"{client_python}, covalent {client_covalent} and amazon-braket-sdk {client_sdk}")


def _check_base_image(ctx: Context, base: str, client_python: str) -> Outcome:
    """Before the first build: the base image's python3, if the local engine holds that image."""
    try:
        engine = ctx.docker or ctx.docker_factory()
        engine.images.get(base)
        image_python = image_python_version(base, engine)
    except docker.errors.ImageNotFound:
        return problem("base-image-unavailable", image=base, error="the local Docker engine does not hold it",
                       client_python=client_python)
    except (MissingPrerequisiteError, ImageError, docker.errors.DockerException) as error:
        return problem("base-image-unavailable", image=base, error=_short(error), client_python=client_python)
    if image_python != client_python:
        return problem("base-python-mismatch", image=base, image_python=image_python,
                       client_python=client_python)
    return passed(f"the job image is not built yet; its base image {base} has Python {image_python}, "
                  "as this client (covalent and amazon-braket-sdk are installed at this client's versions "
                  "when it is built)")


# --- the checks in order ---------------------------------------------------------------------------------

CHECKS: tuple[Check, ...] = (
    Check("conf.section", (), check_conf_section),
    Check("conf.settings", ("conf.section",), check_conf_settings),
    Check("conf.keys", ("conf.section",), check_conf_keys),
    Check("aws.credentials", ("conf.settings",), check_credentials),
    Check("aws.region", ("conf.settings",), check_region),
    Check("s3.name", ("conf.section",), check_bucket_name),
    Check("s3.bucket", ("s3.name", "aws.credentials", "aws.region"), check_bucket),
    Check("s3.region", ("s3.bucket",), check_bucket_region),
    Check("s3.expiry", ("s3.bucket",), check_bucket_expiry),
    Check("ecr.repository", ("aws.credentials", "aws.region"), check_repository),
    Check("ecr.name", ("conf.settings",), check_repository_name),
    Check("role.exists", ("aws.credentials", "aws.region"), check_role),
    Check("role.trust", ("role.exists",), check_role_trust),
    Check("role.permissions", ("role.exists",), check_role_permissions),
    Check("docker.engine", ("conf.settings",), check_docker),
    Check("image.versions", ("ecr.repository",), check_versions),
)


@dataclass(frozen=True)
class Result:
    """One line of the report."""

    check: str
    title: str
    status: Status
    message: str
    fix: str = ""
    problem: str | None = None


def run_checks(ctx: Context, checks: Iterable[Check] = CHECKS) -> list[Result]:
    """Run ``checks`` in order; a check whose prerequisite failed (or was skipped) is skipped.

    A warning does not stop the checks after it: a warning means "could not decide" or "may fail".
    """
    results: list[Result] = []
    status_of: dict[str, Status] = {}
    # The failed check a skipped one waits on, through any chain of skips: the root cause to name.
    root_of: dict[str, str] = {}
    for check in checks:
        blocker = next((required for required in check.requires
                        if status_of.get(required) in (Status.FAIL, Status.SKIP, None)), None)
        if blocker is not None:
            root_of[check.id] = root_of.get(blocker, blocker)
            outcome = Outcome(Status.SKIP, SKIP_MESSAGE.format(check=CHECKS_BY_ID[root_of[check.id]].title))
        else:
            outcome = check.run(ctx)
        status_of[check.id] = outcome.status
        results.append(Result(check.id, check.title, outcome.status, outcome.message, outcome.fix,
                              outcome.problem))
    return results
