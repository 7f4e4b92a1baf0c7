"""Every problem ``covalent-braket doctor`` can report, as data: its id, its message and its fix.

Keeping them in one table rather than in the checks' code means that the troubleshooting page
(docs/troubleshooting.md, rendered by :func:`troubleshooting_markdown`) lists exactly what the
doctor can print, and that a new failure cannot be added without its fix. Messages and fixes are
``str.format`` templates; the checks fill in the names they found (bucket, region, role, ...).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Outcome of one check. ``warn``: the check could not decide, or found something that may fail."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Problem:
    """One message the doctor can print, with the fix it prints beside it."""

    id: str
    check: str
    status: Status
    message: str
    fix: str

    def fields(self) -> set[str]:
        """The placeholders of the message and the fix (the values a check must supply)."""
        formatter = string.Formatter()
        return {name for text in (self.message, self.fix) for _, name, _, _ in formatter.parse(text) if name}


@dataclass(frozen=True)
class CheckInfo:
    """A check as the troubleshooting page presents it: its id, its title and what it looks at."""

    id: str
    title: str
    about: str


CHECKS: tuple[CheckInfo, ...] = (
    CheckInfo("conf.section", "covalent.conf section",
              "The `[executors.braket]` section of covalent.conf, read as the executor reads it."),
    CheckInfo("conf.settings", "settings valid",
              "The section's values, validated exactly as `BraketExecutor` validates them."),
    CheckInfo("conf.keys", "no unknown keys",
              "Every key of the section is a setting the executor knows."),
    CheckInfo("aws.credentials", "AWS credentials",
              "STS GetCallerIdentity with the settings' `credentials` file and `profile`."),
    CheckInfo("aws.region", "region",
              "The region the jobs run in, resolved as the executor resolves it."),
    CheckInfo("s3.name", "bucket name", "`s3_bucket_name` follows Braket's naming rule."),
    CheckInfo("s3.bucket", "bucket exists",
              "S3 HeadBucket on `s3_bucket_name` (without and with `ExpectedBucketOwner`)."),
    CheckInfo("s3.region", "bucket region", "The bucket is in the jobs' region."),
    CheckInfo("s3.expiry", "bucket expiry",
              "S3 GetBucketLifecycleConfiguration: an enabled rule expires the objects under "
              "`covalent-braket/` that a client which died during an electron leaves behind."),
    CheckInfo("ecr.repository", "ECR repository",
              "The repository (or the `ecr_image_uri` image) the jobs' image comes from."),
    CheckInfo("ecr.name", "repository name",
              "The repository is one the managed job execution policy may pull from."),
    CheckInfo("role.exists", "job role", "IAM GetRole on the job execution role."),
    CheckInfo("role.trust", "job role trust", "The role's trust policy lets Braket assume it."),
    CheckInfo("role.permissions", "job role permissions",
              "The role may do what a job needs (IAM policy simulator, else its attached and inline "
              "policies)."),
    CheckInfo("docker.engine", "Docker engine",
              "A Docker engine answers; it is needed where the Covalent server builds job images."),
    CheckInfo("image.versions", "Python and covalent",
              "This client's Python minor and covalent version against the job image's: the image's "
              "labels, read from its registry without pulling it, or, before the first build, the base "
              "image's python3 run in a throwaway container."),
)

PROBLEMS: tuple[Problem, ...] = (
    # --- covalent.conf ---------------------------------------------------------------------------------
    Problem("conf-no-file", "conf.section", Status.WARN,
            "there is no covalent.conf at {path}: the executor uses its defaults",
            "Nothing to do if the defaults suit you; otherwise pass --conf with the file the Covalent "
            "server reads, or set COVALENT_CONFIG_DIR to its directory."),
    Problem("conf-no-section", "conf.section", Status.WARN,
            "{path} has no [executors.braket] section: the executor uses its defaults",
            "Nothing to do if the defaults suit you; otherwise add an [executors.braket] section with "
            "your bucket, repository and role (every key is in the configuration reference)."),
    Problem("conf-unreadable", "conf.section", Status.FAIL,
            "covalent.conf cannot be read: {error}",
            "Fix the file at the place the error names (it is TOML), or point COVALENT_CONFIG_DIR at a "
            "directory holding a valid covalent.conf."),
    Problem("conf-invalid", "conf.settings", Status.FAIL,
            "{error}",
            "Change each setting as its line says; every setting, its type and default are in the "
            "configuration reference."),
    Problem("conf-warning", "conf.settings", Status.WARN,
            "{warning}",
            "Follow the advice in the message; the executor prints the same warning when it starts."),
    Problem("conf-unknown-keys", "conf.keys", Status.FAIL,
            "[executors.braket] has keys BraketExecutor does not know: {keys}",
            "Rename or remove them in {path}: {hints}"),
    # --- AWS account -----------------------------------------------------------------------------------
    Problem("aws-profile", "aws.credentials", Status.FAIL,
            "{error}",
            "Fix `credentials` or `profile` in [executors.braket] (or --profile) as the message says."),
    Problem("aws-no-credentials", "aws.credentials", Status.FAIL,
            "no AWS credentials found for {profile}",
            "Configure credentials: `aws configure` (or `aws sso login --profile <name>`), set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or set `profile` in [executors.braket]."),
    Problem("aws-credentials-refused", "aws.credentials", Status.FAIL,
            "STS GetCallerIdentity refused the credentials of {profile}: {error}",
            "Renew them (an expired session token or SSO login: `aws sso login`), or choose another "
            "profile with `profile` in [executors.braket] or --profile."),
    Problem("aws-unreachable", "aws.credentials", Status.FAIL,
            "STS cannot be reached: {error}",
            "Check the network, proxy and AWS_ENDPOINT_URL* variables of this shell."),
    Problem("region-none", "aws.region", Status.FAIL,
            "{error}",
            "Set `region` in [executors.braket] (or pass --region), or give the profile a region."),
    Problem("region-no-braket", "aws.region", Status.FAIL,
            "Amazon Braket is not offered in {region}",
            "Set `region` to one of: {regions}."),
    Problem("region-device-mismatch", "aws.region", Status.FAIL,
            "the jobs would run in {region}, but quantum_device {device} is in {device_region}: a job "
            "must run in its QPU's region",
            "Set `region` to {device_region} (or leave it empty: the QPU's region is then used)."),
    # --- S3 --------------------------------------------------------------------------------------------
    Problem("s3-bad-name", "s3.name", Status.FAIL,
            "s3_bucket_name {bucket!r} is not named amazon-braket-*: Braket only writes job and task "
            "results to such buckets",
            "Create a bucket named amazon-braket-<something> (e.g. amazon-braket-covalent-job-resources) "
            "in the jobs' region and set s3_bucket_name to it."),
    Problem("s3-missing", "s3.bucket", Status.FAIL,
            "bucket {bucket} does not exist (HeadBucket: 404)",
            "Create it in {region}: `aws s3api create-bucket --bucket {bucket} --region {region}` (outside "
            "us-east-1 add `--create-bucket-configuration LocationConstraint={region}`), or run "
            "`covalent-braket setup`."),
    Problem("s3-forbidden", "s3.bucket", Status.FAIL,
            "bucket {bucket} exists but {identity} may not use it (HeadBucket: 403): it belongs to "
            "another account, or this identity lacks s3:ListBucket on it",
            "Bucket names are global: if it is not yours, choose another amazon-braket-* name and create "
            "it; if it is, allow s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on "
            "arn:aws:s3:::{bucket} and arn:aws:s3:::{bucket}/* (`covalent-braket iam-policy --which user` "
            "prints the whole policy)."),
    Problem("s3-not-owned", "s3.bucket", Status.FAIL,
            "bucket {bucket} is not owned by account {account} (HeadBucket with ExpectedBucketOwner: "
            "403): the executor refuses to send electrons to it",
            "Choose another amazon-braket-* name for s3_bucket_name and create that bucket in account "
            "{account}."),
    Problem("s3-undecided", "s3.bucket", Status.WARN,
            "HeadBucket on {bucket} failed: {error}",
            "Retry; if it persists, check the S3 endpoint settings and the identity's S3 permissions."),
    Problem("s3-wrong-region", "s3.region", Status.FAIL,
            "bucket {bucket} is in {bucket_region}, but the jobs run in {region}: Braket writes job "
            "results only to a bucket of the job's region",
            "Create an amazon-braket-* bucket in {region} and set s3_bucket_name to it, or run the jobs "
            "in {bucket_region}."),
    Problem("s3-region-unknown", "s3.region", Status.WARN,
            "S3 did not say which region bucket {bucket} is in",
            "Check by hand: `aws s3api get-bucket-location --bucket {bucket}` must name {region}."),
    Problem("s3-no-expiry", "s3.expiry", Status.WARN,
            "no lifecycle rule of bucket {bucket} expires objects under {prefix}: what a client that "
            "died during an electron leaves there stays, and is billed, until deleted by hand",
            "Run `covalent-braket setup` (it adds the rule {rule_id}, expiring them after 30 days; "
            "--expire-days DAYS for another number), keeping the bucket's other lifecycle rules."),
    Problem("s3-expiry-undecided", "s3.expiry", Status.WARN,
            "the lifecycle configuration of bucket {bucket} could not be read: {error}",
            "Allow s3:GetLifecycleConfiguration on arn:aws:s3:::{bucket} to check it, or check by hand: "
            "`aws s3api get-bucket-lifecycle-configuration --bucket {bucket}` must show an enabled rule "
            "expiring {prefix}."),
    # --- ECR -------------------------------------------------------------------------------------------
    Problem("ecr-repo-missing", "ecr.repository", Status.FAIL,
            "ECR repository {repository} does not exist in {region}",
            "Create it: `aws ecr create-repository --repository-name {repository} --region {region}`, or "
            "run `covalent-braket setup`."),
    Problem("ecr-image-missing", "ecr.repository", Status.FAIL,
            "ecr_image_uri {image} is not in ECR ({error})",
            "Push that image, or clear ecr_image_uri so that the executor builds and pushes one."),
    Problem("ecr-forbidden", "ecr.repository", Status.WARN,
            "this identity may not ask ECR about {repository}: {error}",
            "Allow ecr:DescribeRepositories and ecr:DescribeImages on the repository "
            "(`covalent-braket iam-policy --which user` prints the whole policy)."),
    Problem("ecr-undecided", "ecr.repository", Status.WARN,
            "ECR could not answer for {repository}: {error}",
            "No permission is missing: do what the answer says (a local Braket stack without an image "
            "registry, for one, needs `apt-get install docker-registry` and a restart); if it says it "
            "reached max retries, it was an outage: run the doctor again once it has passed."),
    Problem("ecr-bad-name", "ecr.name", Status.FAIL,
            "repository {repository} is not named amazon-braket*: jobs running as {role} (the managed "
            "AmazonBraketJobsExecutionPolicy) may only pull images from repositories named so",
            "Use a repository named amazon-braket* (e.g. amazon-braket-covalent-job-images) in "
            "ecr_repo_name or ecr_image_uri."),
    Problem("ecr-name-custom-role", "ecr.name", Status.WARN,
            "repository {repository} is not named amazon-braket*; the custom role {role} must allow "
            "pulling from it",
            "Make sure the role's policy allows ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on it, "
            "or rename the repository to amazon-braket*."),
    # --- IAM job role ----------------------------------------------------------------------------------
    Problem("role-missing", "role.exists", Status.FAIL,
            "job execution role {role_arn} does not exist",
            "Run `covalent-braket setup`, or create it in the Braket console (Permissions and settings, "
            "Execution roles), or set braket_job_execution_role_name to an existing role."),
    Problem("role-wrong-path", "role.exists", Status.FAIL,
            "there is no role {role_arn}, but there is {actual_arn}: a role's ARN includes its path",
            "Set braket_job_execution_role_name to {actual_name}."),
    Problem("role-undecided", "role.exists", Status.WARN,
            "IAM GetRole on {role_arn} failed: {error}",
            "Allow iam:GetRole on the role to this identity, or check the role by hand in the IAM "
            "console."),
    Problem("role-untrusted", "role.trust", Status.FAIL,
            "role {role_arn} does not let braket.amazonaws.com assume it (its trust policy allows: "
            "{principals})",
            "Add a statement allowing sts:AssumeRole to the service principal braket.amazonaws.com: "
            "`aws iam update-assume-role-policy --role-name {role_name} --policy-document "
            "'{trust_policy}'`."),
    Problem("role-lacks-actions", "role.permissions", Status.FAIL,
            "role {role_arn} may not {actions}; checked with {method}",
            "Give the role a policy allowing them: `covalent-braket setup` writes a least-privilege one, "
            "`covalent-braket iam-policy --which job-role` prints it, or attach the managed "
            "AmazonBraketJobsExecutionPolicy."),
    Problem("role-permissions-undecided", "role.permissions", Status.WARN,
            "the permissions of role {role_arn} could not be read: {error}",
            "Allow iam:SimulatePrincipalPolicy (or iam:ListAttachedRolePolicies, iam:ListRolePolicies, "
            "iam:GetRolePolicy, iam:GetPolicy and iam:GetPolicyVersion) to this identity, or check the "
            "role by hand."),
    # --- Docker ----------------------------------------------------------------------------------------
    Problem("docker-missing", "docker.engine", Status.FAIL,
            "no Docker engine answers at {host} ({error}): the executor builds job images with one",
            "Start Docker where the Covalent server runs (`sudo systemctl start docker`, or Docker "
            "Desktop; on Debian install it first with `sudo apt-get install docker.io`), or set "
            "DOCKER_HOST to an engine that answers; or set ecr_image_uri to a ready image so that "
            "nothing is built."),
    Problem("docker-missing-unneeded", "docker.engine", Status.WARN,
            "no Docker engine answers at {host} ({error}); not needed while ecr_image_uri is set",
            "Nothing to do while ecr_image_uri names a ready image. To build job images here later, "
            "start Docker (`sudo systemctl start docker`, or Docker Desktop) or set DOCKER_HOST to an "
            "engine that answers."),
    # --- versions --------------------------------------------------------------------------------------
    Problem("image-python-mismatch", "image.versions", Status.FAIL,
            "the job image {image} runs Python {image_python}, but this client runs Python "
            "{client_python}: an electron pickled here would not load there",
            "Run Covalent under Python {image_python}, or use an image built for Python {client_python} "
            "(clear ecr_image_uri so that the executor builds one, with base_image on Python "
            "{client_python})."),
    Problem("image-covalent-mismatch", "image.versions", Status.FAIL,
            "the job image {image} has covalent {image_covalent}, but this client has covalent "
            "{client_covalent}: the electron would not load there",
            "Install covalent=={image_covalent} here, or use an image with covalent {client_covalent} "
            "(clear ecr_image_uri so that the executor builds one)."),
    Problem("image-braket-sdk-mismatch", "image.versions", Status.WARN,
            "the job image {image} has amazon-braket-sdk {image_sdk}, but this client has "
            "amazon-braket-sdk {client_sdk}: circuits, results and devices the electron exchanges with "
            "this client may not load on the other side",
            "Install amazon-braket-sdk=={image_sdk} here, or clear ecr_image_uri so that the executor "
            "builds an image with this client's amazon-braket-sdk {client_sdk}."),
    Problem("base-python-mismatch", "image.versions", Status.FAIL,
            "the base image {image} runs Python {image_python}, but this client runs Python "
            "{client_python}: the job image build would stop",
            "Set base_image to an image whose python3 is {client_python}, or run Covalent under Python "
            "{image_python}."),
    Problem("image-no-program", "image.versions", Status.FAIL,
            "the job image {image} does not set SAGEMAKER_PROGRAM: the training toolkit that Amazon Braket "
            "starts every job container with (`docker run IMAGE train`) would find no program to run",
            "Rebuild it with `ENV SAGEMAKER_PROGRAM=braket_container.py` and the executor's script mode at "
            "/opt/ml/code/braket_container.py, or clear ecr_image_uri so that the executor builds one."),
    Problem("image-no-toolkit", "image.versions", Status.WARN,
            "the job image {image} shows no sign of SageMaker's training toolkit (no "
            "io.covalent-braket.toolkit label, no sagemaker-training in the commands of its layers): "
            "Amazon Braket starts every job container as `docker run IMAGE train`, and without the "
            "toolkit there is no `train`, so every job would fail before the electron runs",
            "Install the toolkit in the image (`pip install sagemaker-training`; it builds a C extension, "
            "so the build needs gcc and Python's headers), or clear ecr_image_uri so that the executor "
            "builds an image that has it."),
    Problem("image-unlabelled", "image.versions", Status.WARN,
            "the job image {image} carries no io.covalent-braket.python label (it was not built by this "
            "plugin's current release), so its Python is unknown",
            "Check by hand that `python3 -V` in it prints Python {client_python}, or clear ecr_image_uri "
            "so that the executor builds a labelled image."),
    Problem("image-forbidden", "image.versions", Status.WARN,
            "this identity may not read the versions in {image}: {error}",
            "Allow ecr:GetAuthorizationToken, and ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on "
            "the image's repository (`covalent-braket iam-policy --which user` prints the whole "
            "policy)."),
    Problem("image-undecided", "image.versions", Status.WARN,
            "the versions in {image} could not be read: {error}",
            "No permission is missing: do what the answer says (a local Braket stack without an image "
            "registry, for one, needs `apt-get install docker-registry` and a restart; a registry that "
            "does not answer, the network or proxy that reaches it); if it says it reached max retries, "
            "it was an outage: run the doctor again once it has passed."),
    Problem("base-image-unavailable", "image.versions", Status.WARN,
            "the job image is not built yet and its base image {image} cannot be inspected here "
            "({error}); the build checks its Python",
            "Nothing to do now: the first build stops with a clear message if the base image's python3 "
            "is not {client_python}. To check now, `docker pull {image}` and run the doctor again."),
)

PROBLEMS_BY_ID: dict[str, Problem] = {problem.id: problem for problem in PROBLEMS}
CHECKS_BY_ID: dict[str, CheckInfo] = {check.id: check for check in CHECKS}
SKIP_MESSAGE = "not checked: {check} failed"


def render(problem_id: str, **fields: object) -> tuple[str, str]:
    """The message and fix of a problem with ``fields`` filled in.

    Raises:
        KeyError: an unknown problem id or a missing field (a bug in a check, caught by the unit tests).
    """
    problem = PROBLEMS_BY_ID[problem_id]
    return problem.message.format(**fields), problem.fix.format(**fields)


def _placeholders_as_names(template: str) -> str:
    """``{bucket!r}`` becomes ``<bucket>``: how a message reads on the troubleshooting page."""
    return re.sub(r"\{(\w+)(![rs])?\}", r"<\1>", template)


def troubleshooting_markdown() -> str:
    """The troubleshooting page (docs/troubleshooting.md): every message the doctor prints, with its fix."""
    lines = [
        "# Troubleshooting",
        "",
        "<!-- Generated by covalent_braket_plugin.doctor.catalog.troubleshooting_markdown(); "
        "do not edit. -->",
        "",
        "`covalent-braket doctor` checks, without changing anything, that this machine and AWS account",
        "are ready for `BraketExecutor`: covalent.conf, credentials and region, the S3 bucket, the ECR",
        "repository, the job execution role, the Docker engine, and this client's Python and covalent",
        "against the job image's. It prints one line per check and the fix of each failure and warning,",
        "and exits with status 1 when a check fails (warnings alone exit 0), 2 when a flag is wrong.",
        "`--json` prints the same as one object: `ok`, `conf`, `summary` and `checks`, a list of",
        "`{check, title, status, message, fix, problem}` where `problem` is one of the ids below.",
        "",
        "```bash",
        "covalent-braket doctor                      # the settings of covalent.conf",
        "covalent-braket doctor --profile lab --region us-east-1",
        "covalent-braket doctor --conf ./covalent.conf --json",
        "```",
        "",
        "A check whose prerequisite failed is not run and says so: `not checked: <check> failed`.",
        "Every message it can print is below, with its fix; `<name>` stands for the value the doctor",
        "found. The settings themselves are described in the [configuration reference](configuration.md).",
        "",
    ]
    for check in CHECKS:
        lines += [f"## {check.title} (`{check.id}`)", "", check.about, ""]
        for problem in PROBLEMS:
            if problem.check != check.id:
                continue
            lines += [
                f"### `{problem.id}` ({problem.status.value})",
                "",
                "```text",
                _placeholders_as_names(problem.message),
                "```",
                "",
                f"**Fix:** {_escape_markdown(_placeholders_as_names(problem.fix))}",
                "",
            ]
    return "\n".join(lines)


def _escape_markdown(text: str) -> str:
    """Outside code spans, ``<name>`` would read as HTML and ``amazon-braket*`` may start emphasis."""
    parts = text.split("`")
    # Even parts are outside code spans.
    return "`".join(part.replace("<", "\\<").replace("*", "\\*") if index % 2 == 0 else part
                    for index, part in enumerate(parts))
