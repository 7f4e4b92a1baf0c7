"""``covalent-braket setup``: create what a first Braket job needs, in one account and region.

Four steps, each converging one resource to what the plugin needs and reporting whether it was
``created``, ``updated`` or already right (``unchanged``), so a second run changes nothing:

1. the S3 bucket (``amazon-braket-*``): all public access blocked, default encryption SSE-S3;
2. the ECR repository (``amazon-braket*``): scan on push off, a lifecycle policy that expires
   untagged images and keeps the newest tagged ones;
3. the job execution role under ``/service-role/``: Braket (for this account only) may assume it,
   one inline least-privilege policy (``policies.job_role_policy``);
4. the ``[executors.braket]`` section of covalent.conf naming them.

A dry run makes only read calls and reports ``would create`` / ``would update``. Every input is
checked before the first AWS call. A failing step raises :class:`SetupError` naming the step and
the fix; what earlier steps did stays (each step is safe to repeat, so the fix is to run again).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from covalent_braket_plugin.executor import covalent_conf as conf
from covalent_braket_plugin.executor.settings import (
    BraketExecutorSettings,
    ExecutorConfigError,
)
from covalent_braket_plugin.provisioning import policies
from covalent_braket_plugin.provisioning.resources import ResourceResult, not_found, same_document

DEFAULT_BUCKET = str(BraketExecutorSettings.model_fields["s3_bucket_name"].default)
DEFAULT_REPOSITORY = str(BraketExecutorSettings.model_fields["ecr_repo_name"].default)
# Job images are tagged by content (image.image_tag), so one tag per set of pip packages and
# covalent version; 20 covers many such sets and keeps storage small.
DEFAULT_KEEP_TAGGED = 20
# Untagged images are leftovers of re-pushed tags; a day is long enough for a job still pulling one.
DEFAULT_UNTAGGED_DAYS = 1
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
SSE_S3 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
# Settings of the executor and the setup flags that give them, for error messages.
_FLAGS = {
    "s3_bucket_name": "--bucket",
    "ecr_repo_name": "--repository",
    "braket_job_execution_role_name": "--role-name",
    "region:": "--region:",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403", "Forbidden"}

Logger = Callable[["ResourceResult"], None]


class SetupError(RuntimeError):
    """A step cannot go ahead: ``step`` names it, the message says what is wrong and how to fix it.

    ``results`` holds what the steps before it did (they are not undone).
    """

    def __init__(
        self, step: str, problem: str, fix: str, results: list[ResourceResult] | None = None
    ) -> None:
        super().__init__(f"{step}: {problem}; {fix}")
        self.step = step
        self.problem = problem
        self.fix = fix
        self.results = list(results or [])


@dataclass(frozen=True)
class SetupOptions:
    """What ``covalent-braket setup`` was asked for."""

    region: str
    bucket: str = DEFAULT_BUCKET
    repository: str = DEFAULT_REPOSITORY
    role_name: str = policies.JOB_ROLE_DEFAULT_NAME
    conf_path: Path | None = None
    write_conf: bool = True
    keep_tagged_images: int = DEFAULT_KEEP_TAGGED
    untagged_image_days: int = DEFAULT_UNTAGGED_DAYS
    log_group: str = policies.DEFAULT_LOG_GROUP

    def validate(self) -> None:
        """Refuse what the executor would refuse and what setup cannot make, before any AWS call.

        The names go through ``BraketExecutorSettings``, the executor's own validation, so setup
        never writes a covalent.conf the executor would then reject.

        Raises:
            SetupError: (step ``options``) one line per bad value, naming its flag and the fix.
        """
        problems = []
        if "/" in self.role_name:
            problems.append(
                f"--role-name {self.role_name!r}: give the role's name only; setup puts it under "
                f"{policies.JOB_ROLE_PATH}"
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                BraketExecutorSettings.from_options(
                    region=self.region, s3_bucket_name=self.bucket, ecr_repo_name=self.repository,
                    braket_job_execution_role_name=self.role_name.rsplit("/", 1)[-1],
                )
            except ExecutorConfigError as error:
                problems += [line.strip().removeprefix("- ") for line in str(error).splitlines()[1:]]
        # A repository not named amazon-braket* is only a warning for the executor (a custom role may
        # allow it); setup makes the repository, so it names it so that any role can pull from it.
        problems += [str(warning.message) for warning in caught if "ecr_repo_name" in str(warning.message)]
        if self.keep_tagged_images < 1:
            problems.append(f"--keep-images {self.keep_tagged_images}: keep at least 1 tagged image")
        if self.untagged_image_days < 1:
            problems.append(f"--untagged-days {self.untagged_image_days}: give a whole number of days >= 1")
        if problems:
            for setting, flag in _FLAGS.items():
                problems = [problem.replace(setting, flag) for problem in problems]
            raise SetupError("options", "; ".join(problems), "correct the flags named; nothing was changed")


def lifecycle_policy(
    keep_tagged: int = DEFAULT_KEEP_TAGGED, untagged_days: int = DEFAULT_UNTAGGED_DAYS
) -> dict[str, Any]:
    """The repository's lifecycle policy: expire untagged images, keep the newest ``keep_tagged`` tagged."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images {untagged_days} day(s) after their push",
                "selection": {
                    "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                    "countNumber": untagged_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep the newest {keep_tagged} tagged images",
                "selection": {
                    "tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                    "countNumber": keep_tagged,
                },
                "action": {"type": "expire"},
            },
        ]
    }


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class AccountSetup:
    """Runs the steps of ``options`` with clients from ``session`` (endpoints from boto3's settings)."""

    def __init__(self, session: boto3.session.Session, options: SetupOptions) -> None:
        self.session = session
        self.options = options
        self.dry_run = False

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.options.region)

    # -- the whole setup

    def run(self, *, dry_run: bool = False, log: Logger = print) -> list[ResourceResult]:
        """Run (or, with ``dry_run``, plan) every step; each result is also passed to ``log``.

        Raises:
            SetupError: bad options (before any AWS call), or the step that failed, with the fix.
        """
        self.options.validate()
        self.dry_run = dry_run
        results: list[ResourceResult] = []
        account = self._guarded("credentials", self.account_id, results)
        steps: list[tuple[str, Callable[[], ResourceResult]]] = [
            ("s3 bucket", lambda: self.ensure_bucket(account)),
            ("ecr repository", self.ensure_repository),
            ("iam role", lambda: self.ensure_role(account)),
        ]
        if self.options.write_conf:
            steps.append(("covalent.conf", self.ensure_conf))
        for step, work in steps:
            result = self._guarded(step, work, results)
            results.append(result)
            log(result)
        return results

    def _guarded(self, step: str, work: Callable[[], Any], results: list[ResourceResult]) -> Any:
        """Run one step; turn what AWS (or the file system) refuses into a SetupError naming the step."""
        try:
            return work()
        except SetupError as error:
            raise SetupError(step, error.problem, error.fix, results) from None
        except NoCredentialsError:
            raise SetupError(
                step, "no AWS credentials found",
                "configure them (aws configure, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or pass --profile",
                results,
            ) from None
        except ClientError as error:
            operation = error.operation_name
            message = error.response.get("Error", {}).get("Message", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if _code(error) in _DENIED or status == 403:
                raise SetupError(
                    step, f"access denied to {operation} ({message or _code(error)})",
                    "run setup as an identity allowed to create it, or have an administrator run setup "
                    "(the permissions are in docs/aws-setup.md); completed steps are kept, run setup again",
                    results,
                ) from None
            raise SetupError(
                step, f"AWS refused {operation}: {_code(error)}: {message}",
                "fix what the message names and run setup again; completed steps are kept", results,
            ) from None
        except BotoCoreError as error:
            raise SetupError(step, str(error), "check the region, network and credentials, then run again",
                             results) from None
        except (OSError, ValueError) as error:
            if step != "covalent.conf":  # only that step touches files; anything else is a bug to show
                raise
            fix = "fix the file or pass --conf PATH / --no-conf"
            raise SetupError(step, str(error), fix, results) from None

    def _did(self, action: str) -> str:
        """``created``/``updated`` for a real run, ``would create``/``would update`` for a dry run."""
        if not self.dry_run or action == "unchanged":
            return action
        return "would " + action.removesuffix("d")

    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    # -- S3

    def _bucket_state(self, s3: Any, bucket: str) -> str:
        """``mine``, ``missing`` or ``foreign`` (another account's, or one this identity may not see).

        ListBuckets lists only the caller's own buckets; a name missing from it that HeadBucket does
        not report missing (404) exists elsewhere: 403 on AWS, 200 where a bucket policy lets us in,
        and 200 on moto, whose HeadBucket ignores the owner.
        """
        listed = s3.list_buckets(Prefix=bucket)["Buckets"]
        if any(entry["Name"] == bucket for entry in listed):
            return "mine"
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as error:
            if _code(error) in ("404", "NoSuchBucket", "NotFound"):
                return "missing"
        return "foreign"

    def ensure_bucket(self, account: str) -> ResourceResult:
        s3, bucket, region = self.client("s3"), self.options.bucket, self.options.region
        state = self._bucket_state(s3, bucket)
        if state == "foreign":
            raise SetupError(
                "s3 bucket", f"the bucket {bucket} belongs to another AWS account (S3 names are global)",
                f"choose another name with --bucket, e.g. amazon-braket-covalent-{account}",
            )
        if state == "missing":
            if not self.dry_run:
                create: dict[str, Any] = {"Bucket": bucket}
                if region != "us-east-1":  # us-east-1 refuses a LocationConstraint naming itself
                    create["CreateBucketConfiguration"] = {"LocationConstraint": region}
                s3.create_bucket(**create)
                s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
                s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=SSE_S3)
            return ResourceResult("s3 bucket", bucket, self._did("created"), "public access blocked, SSE-S3")
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        location = "eu-west-1" if location == "EU" else location
        if location != region:
            raise SetupError(
                "s3 bucket", f"the bucket {bucket} is in {location}, the jobs run in {region}",
                f"pass --region {location}, or choose a bucket in {region} with --bucket",
            )
        changes = []
        try:
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        except ClientError as error:
            if _code(error) != "NoSuchPublicAccessBlockConfiguration":
                raise
            block = {}
        if block != PUBLIC_ACCESS_BLOCK:
            changes.append("public access block")
            if not self.dry_run:
                s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        except ClientError as error:
            if _code(error) != "ServerSideEncryptionConfigurationNotFoundError":
                raise
            rules = []
        # Any default encryption (SSE-S3 or a stronger SSE-KMS someone chose) is kept as it is.
        if not any(rule.get("ApplyServerSideEncryptionByDefault") for rule in rules):
            changes.append("default encryption SSE-S3")
            if not self.dry_run:
                s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=SSE_S3)
        action = "updated" if changes else "unchanged"
        return ResourceResult("s3 bucket", bucket, self._did(action), ", ".join(changes))

    # -- ECR

    def ensure_repository(self) -> ResourceResult:
        ecr, name = self.client("ecr"), self.options.repository
        wanted = lifecycle_policy(self.options.keep_tagged_images, self.options.untagged_image_days)
        try:
            repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        except ecr.exceptions.RepositoryNotFoundException:
            repository = None
        lifecycle = (f"lifecycle: untagged expire after {self.options.untagged_image_days} d, "
                     f"newest {self.options.keep_tagged_images} tagged kept")
        if repository is None:
            if not self.dry_run:
                ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": False})
                ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(wanted))
            created = self._did("created")
            return ResourceResult("ecr repository", name, created, f"scan on push off, {lifecycle}")
        try:
            current = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
            action = "unchanged" if same_document(current, wanted) else "updated"
        except ecr.exceptions.LifecyclePolicyNotFoundException:
            action = "updated"
        if action == "updated" and not self.dry_run:
            ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(wanted))
        details = [lifecycle] if action == "updated" else []
        if repository.get("imageScanningConfiguration", {}).get("scanOnPush"):
            details.append("scan on push is on: left as it is")
        return ResourceResult("ecr repository", name, self._did(action), ", ".join(details))

    # -- IAM

    def ensure_role(self, account: str) -> ResourceResult:
        iam, name, options = self.client("iam"), self.options.role_name, self.options
        trust = policies.job_role_trust_policy(account=account)
        permissions = policies.job_role_policy(
            bucket=options.bucket, repository=options.repository, region=options.region, account=account,
            log_group=options.log_group,
        )
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except ClientError as error:
            if not not_found(error):
                raise
            role = None
        if role is None:
            if not self.dry_run:
                iam.create_role(
                    RoleName=name, Path=policies.JOB_ROLE_PATH, AssumeRolePolicyDocument=json.dumps(trust),
                    Description="Amazon Braket Hybrid Jobs of covalent-braket-plugin run as this role",
                )
                iam.put_role_policy(RoleName=name, PolicyName=policies.JOB_ROLE_POLICY_NAME,
                                    PolicyDocument=json.dumps(permissions))
            arn = policies.job_role_arn(account=account, region=options.region, name=name)
            return ResourceResult("iam role", arn, self._did("created"),
                              f"trust braket.amazonaws.com, inline policy {policies.JOB_ROLE_POLICY_NAME}")
        changes, notes = [], []
        if not same_document(role["AssumeRolePolicyDocument"], trust):
            changes.append("trust policy")
            if not self.dry_run:
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        try:
            current = iam.get_role_policy(
                RoleName=name, PolicyName=policies.JOB_ROLE_POLICY_NAME
            )["PolicyDocument"]
        except ClientError as error:
            if not not_found(error):
                raise
            current = None
        if current is None or not same_document(current, permissions):
            changes.append(f"inline policy {policies.JOB_ROLE_POLICY_NAME}")
            if not self.dry_run:
                iam.put_role_policy(RoleName=name, PolicyName=policies.JOB_ROLE_POLICY_NAME,
                                    PolicyDocument=json.dumps(permissions))
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        attached = [policy["PolicyName"] for policy in attached]
        if attached:
            notes.append(f"also attached, left as they are: {', '.join(attached)}")
        if role.get("Path", "/") != policies.JOB_ROLE_PATH:
            notes.append(f"its path is {role.get('Path')} (IAM cannot move a role)")
        action = "updated" if changes else "unchanged"
        return ResourceResult("iam role", role["Arn"], self._did(action), ", ".join(changes + notes))

    def role_reference(self) -> str:
        """The role as covalent.conf names it: ``<path>/<name>`` (its real path if it exists already)."""
        try:
            path = self.client("iam").get_role(RoleName=self.options.role_name)["Role"].get("Path", "/")
        except ClientError as error:
            if not not_found(error):
                raise
            path = policies.JOB_ROLE_PATH
        return f"{path.strip('/')}/{self.options.role_name}".lstrip("/")

    # -- covalent.conf

    def ensure_conf(self) -> ResourceResult:
        path = self.options.conf_path or conf.covalent_conf_path()
        wanted = {
            "s3_bucket_name": self.options.bucket,
            "ecr_repo_name": self.options.repository,
            "braket_job_execution_role_name": self.role_reference(),
            "region": self.options.region,
        }
        section = conf.read_executor_section(path)
        differing = [key for key, value in wanted.items() if (section or {}).get(key) != value]
        action = "created" if section is None else "updated" if differing else "unchanged"
        if differing and not self.dry_run:
            conf.write_executor_section(wanted, path)
        details = [f"set {', '.join(differing)}"] if differing else []
        unknown = conf.unknown_keys(section or {})
        if unknown:
            details.append(f"keys the executor refuses, remove them: {', '.join(unknown)}")
        resource = f"{path} [executors.braket]"
        return ResourceResult("covalent.conf", resource, self._did(action), "; ".join(details))
