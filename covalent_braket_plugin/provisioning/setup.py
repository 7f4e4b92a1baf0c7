"""``covalent-braket setup``: create what a first Braket job needs, in one account and region.

Four steps, each converging what the plugin needs (the bucket's lifecycle rule is reported as a
resource of its own) and reporting whether it was ``created``, ``updated`` or already right
(``unchanged``), so a second run changes nothing:

1. the S3 bucket (``amazon-braket-*``): all public access blocked, default encryption SSE-S3, and a
   lifecycle rule expiring what crashed clients leave under the plugin's prefix (merged into the
   bucket's lifecycle configuration: its other rules are kept);
2. the ECR repository (``amazon-braket*``): scan on push off, a lifecycle policy that expires
   untagged images and keeps the newest tagged ones;
3. the job execution role under ``/service-role/``: Braket (for this account only) may assume it,
   one inline least-privilege policy (``policies.job_role_policy``);
4. the ``[executors.braket]`` section of covalent.conf naming them.

A dry run makes only read calls and reports ``would create`` / ``would update``. Every input is
checked before the first AWS call. A failing step raises :class:`ProvisioningError` naming the step
and the fix; what earlier steps did stays (each step is safe to repeat, so the fix is to run again).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import boto3

from covalent_braket_plugin import covalent_conf
from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.provisioning import ecr, iam, policies, s3
from covalent_braket_plugin.provisioning.engine import (
    OPTIONS_STEP,
    Logger,
    Provisioner,
    ProvisioningError,
)
from covalent_braket_plugin.provisioning.resources import ResourceResult
from covalent_braket_plugin.settings import BraketExecutorSettings, ExecutorConfigError

DEFAULT_BUCKET = str(BraketExecutorSettings.model_fields["s3_bucket_name"].default)
DEFAULT_REPOSITORY = str(BraketExecutorSettings.model_fields["ecr_repo_name"].default)
# Job images are tagged by content (images.make_recipe), so one tag per set of pip packages and
# covalent version; 20 covers many such sets and keeps storage small.
DEFAULT_KEEP_TAGGED = 20
# Untagged images are leftovers of re-pushed tags; a day is long enough for a job still pulling one.
DEFAULT_UNTAGGED_DAYS = 1
# Objects under the plugin's prefix outlive their electron only when its client died first; a month
# leaves time to fetch a result kept after a failure (covalent-braket jobs) before it expires.
DEFAULT_EXPIRE_DAYS = 30
# Settings of the executor and the setup flags that give them, for error messages.
_FLAGS = {
    "s3_bucket_name": "--bucket",
    "ecr_repo_name": "--repository",
    "braket_job_execution_role_name": "--role-name",
    "region:": "--region:",
}


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
    expire_days: int = DEFAULT_EXPIRE_DAYS

    def validate(self) -> None:
        """Refuse what the executor would refuse and what setup cannot make, before any AWS call.

        The names go through ``BraketExecutorSettings``, the executor's own validation, so setup
        never writes a covalent.conf the executor would then reject.

        Raises:
            ProvisioningError: (step ``options``) one line per bad value, naming its flag and the fix.
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
        if self.expire_days < 1:
            problems.append(f"--expire-days {self.expire_days}: give a whole number of days >= 1")
        if problems:
            for setting, flag in _FLAGS.items():
                problems = [problem.replace(setting, flag) for problem in problems]
            raise ProvisioningError(
                OPTIONS_STEP, "; ".join(problems), "correct the flags named; nothing was changed"
            )


class AccountSetup:
    """The resources of ``options``, ensured with clients of ``session`` (endpoints from boto3's settings)."""

    def __init__(self, session: AwsSession | boto3.session.Session, options: SetupOptions) -> None:
        self.session = session
        self.options = options

    def run(self, *, dry_run: bool = False, log: Logger = print) -> list[ResourceResult]:
        """Ensure (or, with ``dry_run``, plan) every resource; each result is also passed to ``log``.

        Raises:
            ProvisioningError: bad options (before any AWS call), or the step that failed, with the fix.
        """
        options = self.options
        options.validate()
        run = Provisioner(
            self.session, options.region, command="setup", permissions_doc="docs/aws-setup.md",
            dry_run=dry_run, log=log,
        )
        run.step("credentials", lambda: run.account_id)
        run.record(run.step("s3 bucket", lambda: s3.ensure_bucket(run, options.bucket)))
        run.record(run.step(
            "s3 lifecycle rule", lambda: s3.ensure_expiry(run, options.bucket, options.expire_days)
        ))
        run.record(run.step("ecr repository", lambda: ecr.ensure_repository(
            run, options.repository, options.keep_tagged_images, options.untagged_image_days
        )))
        run.record(run.step("iam role", lambda: self._ensure_role(run)))
        if options.write_conf:
            run.record(run.step("covalent.conf", lambda: self._ensure_conf(run),
                                file_fix="fix the file or pass --conf PATH / --no-conf"))
        return run.results

    def _ensure_role(self, run: Provisioner) -> ResourceResult:
        """The job role: Braket (for this account only) may assume it, one least-privilege inline policy."""
        options, account = self.options, run.account_id
        role = iam.Role(
            name=options.role_name,
            trust=policies.job_role_trust_policy(account=account),
            policy_name=policies.JOB_ROLE_POLICY_NAME,
            policy=policies.job_role_policy(
                bucket=options.bucket, repository=options.repository, region=options.region, account=account,
                log_group=options.log_group,
            ),
            description="Amazon Braket Hybrid Jobs of covalent-braket-plugin run as this role",
            path=policies.JOB_ROLE_PATH,
        )
        outcome = iam.ensure_role(run, role)
        if outcome.role_action == "created":
            detail = f"trust braket.amazonaws.com, inline policy {policies.JOB_ROLE_POLICY_NAME}"
        else:
            detail = ", ".join(outcome.changes + outcome.notes)
        return ResourceResult("iam role", outcome.arn, run.did(outcome.action), detail)

    def _ensure_conf(self, run: Provisioner) -> ResourceResult:
        """The ``[executors.braket]`` section naming the bucket, repository, role and region."""
        options = self.options
        path = options.conf_path or covalent_conf.covalent_conf_path()
        role_path = iam.role_path(run, options.role_name) or policies.JOB_ROLE_PATH
        wanted = {
            "s3_bucket_name": options.bucket,
            "ecr_repo_name": options.repository,
            # As covalent.conf names a role: <path>/<name>, with its real path if it exists already.
            "braket_job_execution_role_name": f"{role_path.strip('/')}/{options.role_name}".lstrip("/"),
            "region": options.region,
        }
        section = covalent_conf.read_executor_section(path)
        differing = [key for key, value in wanted.items() if (section or {}).get(key) != value]
        action = "created" if section is None else "updated" if differing else "unchanged"
        if differing and not run.dry_run:
            covalent_conf.write_executor_section(wanted, path)
        details = [f"set {', '.join(differing)}"] if differing else []
        unknown = covalent_conf.unknown_keys(section or {})
        if unknown:
            details.append(f"keys the executor refuses, remove them: {', '.join(unknown)}")
        resource = f"{path} [executors.braket]"
        return ResourceResult("covalent.conf", resource, run.did(action), "; ".join(details))
