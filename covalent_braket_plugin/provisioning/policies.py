"""The IAM policies the plugin needs, each scoped to one bucket, one repository and one role.

AWS's managed AmazonBraketJobsExecutionPolicy lets a job read and write every ``amazon-braket-*``
bucket and pull from every ``amazon-braket*`` repository of every account. The policies here name
exactly the bucket, repository, log group and role of one setup, so a job of this plugin can touch
nothing else. ``"*"`` appears only for actions IAM cannot scope (no resource-level permissions):
ecr:GetAuthorizationToken, the Braket searches and GetDevice, cloudwatch:PutMetricData (narrowed
by its namespace instead) and sts:GetCallerIdentity.

Three documents:

- :func:`job_role_trust_policy`: Braket, acting for this account only, may assume the job role;
- :func:`job_role_policy`: what a running job needs (its runner, the Braket SDK in it, and Braket
  itself writing the job's logs and output), writing only where jobs put their outputs and never
  to the runner's archives, the tasks or the input data (:func:`job_role_write_protection`);
- :func:`user_policy`: what the executor client and the ``covalent-braket`` commands need.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session

from covalent_braket_plugin.s3_layout import INPUT_PREFIX, KEY_ROOT, RUNNER_PREFIX, ElectronLocation
from covalent_braket_plugin.settings import BASE_IMAGE_ACCOUNT, BraketExecutorSettings

JOB_ROLE_DEFAULT_NAME = "AmazonBraketJobsExecutionRole-covalent"
JOB_ROLE_PATH = "/service-role/"
JOB_ROLE_POLICY_NAME = "covalent-braket-job"
BRAKET_SERVICE = "braket.amazonaws.com"
DEFAULT_LOG_GROUP = str(BraketExecutorSettings.model_fields["log_group_name"].default)
BASE_IMAGE_REPOSITORY = "amazon-braket-base-jobs"
# Braket Hybrid Jobs publish the metrics a job logs under this CloudWatch namespace.
METRICS_NAMESPACE = "/aws/braket"
POLICY_VERSION = "2012-10-17"
# Any electron's objects: covalent-braket/<dispatch>/<node>/<job name>/ (IAM cannot name the job).
ANY_ELECTRON = ElectronLocation("", f"{KEY_ROOT}/*/*/*/")
# Where the Braket SDK in a job puts the results of the quantum tasks it creates by default
# (AMZN_BRAKET_TASK_RESULTS_S3_URI = s3://<outputDataConfig's bucket>/jobs/<job name>/tasks).
SDK_TASK_RESULTS = "jobs/*/tasks/"
# What a job, or anyone acting as its role, could rewrite to change what later jobs run.
PROTECTED_WRITES = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject"]

# What a job needs, by the kind of resource it acts on (the doctor checks a role against this table;
# ``job_role_policy`` makes one statement of each kind).
_JOB_ROLE_ACTIONS: dict[str, list[str]] = {
    # The runner lists its electron's prefix; the SDK in the job lists checkpoints.
    "s3_bucket": ["s3:GetBucketLocation", "s3:ListBucket"],
    # The task, the runner's archive and input data are read.
    "s3_read": ["s3:GetObject"],
    # Outputs are written: the runner's files, Braket's output archive, quantum task results.
    # Nothing in a job deletes: the client removes an electron's objects once its result is back.
    "s3_write": ["s3:PutObject"],
    "ecr_repository": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    "ecr_registry": ["ecr:GetAuthorizationToken"],
    "log_group": [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:GetLogEvents",
        "logs:PutLogEvents",
    ],
    "metrics": ["cloudwatch:PutMetricData"],
    # Circuits the job's code runs; TagResource is what CreateQuantumTask needs when given tags.
    "quantum_tasks": [
        "braket:CancelQuantumTask", "braket:CreateQuantumTask", "braket:GetQuantumTask", "braket:TagResource",
    ],
    "jobs": ["braket:GetJob"],
    "braket_unscoped": ["braket:GetDevice", "braket:SearchDevices", "braket:SearchQuantumTasks"],
}

_SIDS = {
    "s3_bucket": "JobBucket",
    "s3_read": "ReadObjects",
    "s3_write": "WriteOutputs",
    "ecr_repository": "PullJobImage",
    "ecr_registry": "RegistryLogin",
    "log_group": "JobLogs",
    "metrics": "JobMetrics",
    "quantum_tasks": "QuantumTasks",
    "jobs": "OwnJobs",
    "braket_unscoped": "Devices",
}


def required_job_role_actions() -> dict[str, list[str]]:
    """The actions a job role needs, by resource kind (a copy: callers may change it)."""
    return {kind: list(actions) for kind, actions in _JOB_ROLE_ACTIONS.items()}


def partition(region: str) -> str:
    """The ARN partition of ``region`` (``aws``, ``aws-cn``, ``aws-us-gov``...)."""
    return botocore.session.get_session().get_partition_for_region(region)


def job_role_arn(
    *, account: str, region: str, name: str = JOB_ROLE_DEFAULT_NAME, path: str = JOB_ROLE_PATH
) -> str:
    """The ARN of role ``name`` under ``path`` (a name holding its path, ``service-role/X``, is kept)."""
    prefix = path.strip("/") + "/" if path.strip("/") and "/" not in name else ""
    return f"arn:{partition(region)}:iam::{account}:role/{prefix}{name}"


def job_role_trust_policy(*, account: str | None = None) -> dict[str, Any]:
    """Braket may assume the job role; with ``account``, only on behalf of that account.

    The aws:SourceAccount condition is AWS's protection against the confused deputy: another
    account's Braket job cannot run as this role by naming its ARN.
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": BRAKET_SERVICE},
        "Action": "sts:AssumeRole",
    }
    if account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account}}
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def _resources(*, bucket: str, repository: str, region: str, account: str, log_group: str) -> dict[str, Any]:
    part = partition(region)
    group = f"arn:{part}:logs:{region}:{account}:log-group:{log_group}"
    braket = f"arn:{part}:braket:{region}:{account}"
    objects = f"arn:{part}:s3:::{bucket}"
    return {
        "s3_bucket": objects,
        "s3_objects": f"{objects}/*",
        "s3_read": f"{objects}/*",
        "s3_write": [
            f"{objects}/{ANY_ELECTRON.output_prefix}*",
            f"{objects}/{ANY_ELECTRON.job_output_prefix}*",
            f"{objects}/{SDK_TASK_RESULTS}*",
        ],
        "ecr_repository": f"arn:{part}:ecr:{region}:{account}:repository/{repository}",
        "ecr_registry": "*",
        # The group itself (CreateLogGroup) and its streams.
        "log_group": [group, f"{group}:*"],
        "metrics": "*",
        "quantum_tasks": f"{braket}:quantum-task/*",
        "jobs": f"{braket}:job/*",
        "braket_unscoped": "*",
    }


def job_role_policy(
    *, bucket: str, repository: str, region: str, account: str, log_group: str = DEFAULT_LOG_GROUP
) -> dict[str, Any]:
    """The job role's inline policy: only the one bucket, repository, log group and this account's tasks.

    In the bucket a job reads anything but writes only output prefixes, and never the runner's
    archives, a task or the input data (:func:`job_role_write_protection`).
    """
    resources = _resources(bucket=bucket, repository=repository, region=region, account=account,
                           log_group=log_group)
    statements = []
    for kind, actions in _JOB_ROLE_ACTIONS.items():
        statement: dict[str, Any] = {
            "Sid": _SIDS[kind], "Effect": "Allow", "Action": list(actions), "Resource": resources[kind],
        }
        if kind == "metrics":
            statement["Condition"] = {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}
        statements.append(statement)
    statements.append(job_role_write_protection(bucket=bucket, region=region))
    return {"Version": POLICY_VERSION, "Statement": statements}


def job_role_write_protection(*, bucket: str, region: str) -> dict[str, Any]:
    """The Deny that keeps jobs from changing what later jobs run: the runner's archives, the tasks
    and the shared input data.

    The Allow statements already grant writes only under output prefixes; an explicit Deny also
    wins over any other policy of the role (AmazonBraketJobsExecutionPolicy, say, which allows
    writing every ``amazon-braket-*`` bucket). Jobs check both digests anyway (fixed at CreateJob);
    this keeps an electron's code from breaking later electrons by deleting or rewriting them.
    """
    objects = f"arn:{partition(region)}:s3:::{bucket}"
    return {
        "Sid": "ProtectRunnerAndTasks", "Effect": "Deny", "Action": list(PROTECTED_WRITES),
        "Resource": [
            f"{objects}/{RUNNER_PREFIX}*",
            f"{objects}/{ANY_ELECTRON.call_key}",
            f"{objects}/{INPUT_PREFIX}/*",
        ],
    }


def user_policy(
    *, bucket: str, repository: str, role_arn: str, region: str, account: str,
    log_group: str = DEFAULT_LOG_GROUP,
) -> dict[str, Any]:
    """What the executor client and the ``covalent-braket`` commands need, on only the setup's resources.

    Creating the bucket, repository and role (``covalent-braket setup``) is not in it: that is an
    administrator's step, and a user allowed to write the role's policy could grant the jobs anything.
    """
    part = partition(region)
    resources = _resources(bucket=bucket, repository=repository, region=region, account=account,
                           log_group=log_group)
    base_image = f"arn:{part}:ecr:{region}:{BASE_IMAGE_ACCOUNT}:repository/{BASE_IMAGE_REPOSITORY}"
    pull = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "JobBucket", "Effect": "Allow",
            "Action": [
                "s3:GetBucketLocation", "s3:GetBucketPublicAccessBlock", "s3:GetEncryptionConfiguration",
                "s3:ListBucket",
            ],
            "Resource": resources["s3_bucket"],
        },
        {
            "Sid": "JobObjects", "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            "Resource": resources["s3_objects"],
        },
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {
            "Sid": "JobImages", "Effect": "Allow",
            "Action": [
                *pull, "ecr:BatchDeleteImage", "ecr:CompleteLayerUpload", "ecr:CreateRepository",
                "ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:GetLifecyclePolicy",
                "ecr:InitiateLayerUpload", "ecr:ListImages", "ecr:PutImage", "ecr:UploadLayerPart",
            ],
            "Resource": resources["ecr_repository"],
        },
        # Job images are built FROM AWS's Braket base jobs image.
        {"Sid": "BaseImage", "Effect": "Allow", "Action": pull, "Resource": base_image},
        {
            "Sid": "Jobs", "Effect": "Allow",
            "Action": ["braket:CancelJob", "braket:CreateJob", "braket:GetJob", "braket:ListTagsForResource",
                       "braket:TagResource"],
            "Resource": resources["jobs"],
        },
        {
            "Sid": "QuantumTasks", "Effect": "Allow",
            "Action": ["braket:CancelQuantumTask", "braket:GetQuantumTask", "braket:ListTagsForResource"],
            "Resource": resources["quantum_tasks"],
        },
        {
            "Sid": "SearchBraket", "Effect": "Allow",
            "Action": ["braket:GetDevice", "braket:SearchDevices", "braket:SearchJobs",
                       "braket:SearchQuantumTasks"],
            "Resource": "*",
        },
        {
            "Sid": "PassJobRole", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": BRAKET_SERVICE}},
        },
        # `covalent-braket doctor` reads the role and simulates its policies against the setup's resources.
        {
            "Sid": "ReadJobRole", "Effect": "Allow",
            "Action": [
                "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
                "iam:SimulatePrincipalPolicy",
            ],
            "Resource": role_arn,
        },
        # ... and the AWS managed policies attached to it (AmazonBraketJobsExecutionPolicy, say).
        {
            "Sid": "ReadManagedPolicies", "Effect": "Allow",
            "Action": ["iam:GetPolicy", "iam:GetPolicyVersion"],
            "Resource": f"arn:{part}:iam::aws:policy/*",
        },
        {
            "Sid": "ReadJobLogs", "Effect": "Allow",
            "Action": ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"],
            "Resource": resources["log_group"],
        },
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
    ]
    return {"Version": POLICY_VERSION, "Statement": statements}


# What ``covalent-braket setup`` itself calls, as IAM actions: an administrator's permissions, not a
# user's (see ``user_policy``). The integration tests check it against the calls setup really makes.
SETUP_ACTIONS = (
    "sts:GetCallerIdentity",
    "s3:ListAllMyBuckets", "s3:ListBucket", "s3:CreateBucket", "s3:GetBucketLocation",
    "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
    "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
    "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
    "ecr:DescribeRepositories", "ecr:CreateRepository", "ecr:GetLifecyclePolicy", "ecr:PutLifecyclePolicy",
    "iam:GetRole", "iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:GetRolePolicy", "iam:PutRolePolicy",
    "iam:ListAttachedRolePolicies",
)
GENERATED_END = "<!-- End of the generated policies. -->"
# Values the documentation shows the policies with.
EXAMPLE = {
    "bucket": str(BraketExecutorSettings.model_fields["s3_bucket_name"].default),
    "repository": str(BraketExecutorSettings.model_fields["ecr_repo_name"].default),
    "region": "us-east-1",
    "account": "123456789012",
}


def policies_reference_markdown() -> str:
    """The generated part of docs/aws-setup.md: the three policies for the example values.

    Generated so the page cannot drift from the code (tests/unit/provisioning/test_policies.py checks it).
    """
    example_role = job_role_arn(account=EXAMPLE["account"], region=EXAMPLE["region"])
    documents = [
        ("Trust policy of the job role (`--which trust`)",
         job_role_trust_policy(account=EXAMPLE["account"])),
        ("Permissions of the job role (`--which job-role`)", job_role_policy(**EXAMPLE)),
        ("Permissions of a user of the executor (`--which user`)",
         user_policy(**EXAMPLE, role_arn=example_role)),
    ]
    lines = [
        "<!-- Generated by covalent_braket_plugin.provisioning.policies.policies_reference_markdown(); "
        "do not edit. -->",
        "",
        f"Shown for bucket `{EXAMPLE['bucket']}`, repository `{EXAMPLE['repository']}`, region "
        f"`{EXAMPLE['region']}`, account `{EXAMPLE['account']}` and role `{example_role}`.",
    ]
    for title, document in documents:
        lines += ["", f"### {title}", "", "```json", json.dumps(document, indent=2), "```"]
    lines += [
        "", "### What `covalent-braket setup` itself calls", "",
        "Besides the resources above, the identity running `setup` needs these actions (on the bucket, "
        "the repository and the role; `sts:GetCallerIdentity` and `s3:ListAllMyBuckets` take `*`):",
        "", *(f"- `{action}`" for action in SETUP_ACTIONS),
    ]
    return "\n".join([*lines, "", GENERATED_END]) + "\n"
