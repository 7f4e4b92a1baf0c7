"""Deploy, inspect and remove the cost guard in an AWS account (or the local stack).

``deploy`` converges each resource to what the settings ask for and reports, per resource, whether
it was ``created``, ``updated`` or already right (``unchanged``), so running it twice changes
nothing the second time. The resources, all named after ``--name``:

- IAM role ``<name>-role`` (trusted by lambda.amazonaws.com) with one least-privilege inline policy:
  search, get and cancel Braket tasks; get Braket jobs; only the ledger table; only the webhook
  secret; only sending to its failure queue; its own logs;
- DynamoDB table ``<name>-ledger`` (on-demand, TTL on ``expires_at``) unless ``ledger=False``;
- SQS queue ``<name>-failures``: the function's on-failure destination, where Lambda puts an event
  whose retries ran out (the handler raises only transient AWS errors, so those are what lands there);
- Lambda function ``<name>`` (python3.12) whose zip is built from the *installed* package: the
  modules the handler really imports (found by importing it in a clean interpreter) and prices.json;
  its asynchronous invocations are retried ``max_retry_attempts`` times for up to ``max_event_age_s``;
- EventBridge rule ``<name>`` on the default bus for the changes the handler counts (every task's
  CREATED, a simulator task's end, a hybrid job's end), its target and the permission letting
  EventBridge invoke the function;
- optionally a Braket spending limit per QPU device, a second line of defence enforced by Braket.

Every setting is validated with the handler's own parser before any AWS call. Each resource kind is
the provisioning engine's (``provisioning/``); this module holds what is the guard's own: its settings,
its function's zip, its role's policy and the list of its resources. With ``dry_run`` only read calls
are made and the report says ``would create`` / ``would update``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

import covalent_braket_plugin
from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.guard import config as cfg
from covalent_braket_plugin.guard.events import (
    DETAIL_TYPE,
    JOB_DETAIL_TYPE,
    SOURCE,
    TERMINAL_STATUSES,
    TRIGGER_STATUS,
)
from covalent_braket_plugin.guard.ledger import KEY, TTL_ATTRIBUTE
from covalent_braket_plugin.provisioning import awslambda, dynamodb, eventbridge, iam, spending_limits, sqs
from covalent_braket_plugin.provisioning.engine import (
    OPTIONS_STEP,
    Logger,
    Provisioner,
    ProvisioningError,
)
from covalent_braket_plugin.provisioning.resources import ResourceResult

DEFAULT_NAME = "covalent-braket-guard"
HANDLER = "covalent_braket_plugin.guard.lambda_function.lambda_handler"
RUNTIME = "python3.12"
TIMEOUT_S = 120
MEMORY_MB = 256
PACKAGE = "covalent_braket_plugin"
# Package data the handler reads at run time.
DATA_FILES = ("billing/prices.json",)
# The tag that marks spending limits (and the table) this deployment created.
LIMIT_TAG = "covalent-braket-guard"

# Lambda's limits of asynchronous invocation, and the defaults the guard deploys with: every retry
# Lambda allows, and events kept for as long as it allows (an event counted late is still counted).
MAX_RETRY_ATTEMPTS = 2
MIN_EVENT_AGE_S, MAX_EVENT_AGE_S = 60, 21_600
# The total size of a function's environment variables Lambda accepts.
ENVIRONMENT_LIMIT_BYTES = 4096
# How many of the newest failed events `guard status` shows.
FAILED_EVENTS_SHOWN = 3
SIMULATOR_PREFIX = "arn:aws:braket:::device/quantum-simulator/"

# The flag of ``guard deploy`` that sets each of the function's variables: a problem the handler's
# parser names by its variable is told to the user of the command by the flag they type.
FLAGS = {
    cfg.MAX_SHOTS: "--max-shots",
    cfg.MAX_COST_USD: "--max-cost-usd",
    cfg.DEVICE_LIMITS: "--device-limits",
    cfg.ACCOUNT_MAX_SHOTS: "--account-max-shots",
    cfg.ACCOUNT_MAX_COST_USD: "--account-max-cost-usd",
    cfg.CANCEL_SCOPE: "--cancel-scope",
    cfg.PRICE_OVERRIDES: "--price-overrides",
    cfg.DAY_TIMEZONE: "--tz",
    cfg.DEVICE_ARNS: "--devices",
    cfg.SLACK_WEBHOOK_URL: "--slack-webhook-url",
    cfg.SLACK_WEBHOOK_SECRET_ARN: "--slack-secret-arn",
    cfg.LEDGER_TABLE: "--name",
}
_VARIABLE = re.compile(rf"\b({'|'.join(FLAGS)})\b")

_TERMINAL = sorted(TERMINAL_STATUSES)
EVENT_PATTERN = {
    "source": [SOURCE],
    "$or": [
        {"detail-type": [DETAIL_TYPE], "detail": {"status": [TRIGGER_STATUS]}},
        # A simulator task's end: its runtime replaces the minimum counted at creation.
        {"detail-type": [DETAIL_TYPE],
         "detail": {"status": _TERMINAL, "deviceArn": [{"prefix": SIMULATOR_PREFIX}]}},
        # A hybrid job's end: its instance time.
        {"detail-type": [JOB_DETAIL_TYPE], "detail": {"status": _TERMINAL}},
    ],
}
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass(frozen=True)
class GuardSettings:
    """What ``covalent-braket guard deploy`` was asked for."""

    name: str = DEFAULT_NAME
    max_shots: int | None = None
    max_cost_usd: Decimal | None = None
    timezone: str = cfg.DEFAULT_TIMEZONE
    devices: tuple[str, ...] = ()
    slack_webhook_url: str | None = None
    slack_secret_arn: str | None = None
    ledger: bool = True
    native_limit_usd: Decimal | None = None
    device_limits: str | None = None
    account_max_shots: int | None = None
    account_max_cost_usd: Decimal | None = None
    cancel_scope: str | None = None
    price_overrides: str | None = None
    max_retry_attempts: int = MAX_RETRY_ATTEMPTS
    max_event_age_s: int = MAX_EVENT_AGE_S

    @property
    def role_name(self) -> str:
        return f"{self.name}-role"

    @property
    def policy_name(self) -> str:
        return f"{self.name}-policy"

    @property
    def table_name(self) -> str:
        return f"{self.name}-ledger"

    @property
    def queue_name(self) -> str:
        return f"{self.name}-failures"

    def environment(self) -> dict[str, str]:
        """The function's variables, exactly as ``GuardConfig.from_environ`` reads them."""
        env = {cfg.DAY_TIMEZONE: self.timezone}
        if self.max_shots is not None:
            env[cfg.MAX_SHOTS] = str(self.max_shots)
        if self.max_cost_usd is not None:
            env[cfg.MAX_COST_USD] = str(self.max_cost_usd)
        if self.devices:
            env[cfg.DEVICE_ARNS] = ",".join(self.devices)
        if self.slack_webhook_url:
            env[cfg.SLACK_WEBHOOK_URL] = self.slack_webhook_url
        if self.slack_secret_arn:
            env[cfg.SLACK_WEBHOOK_SECRET_ARN] = self.slack_secret_arn
        if self.ledger:
            env[cfg.LEDGER_TABLE] = self.table_name
        optional = {
            cfg.DEVICE_LIMITS: self.device_limits,
            cfg.ACCOUNT_MAX_SHOTS: self.account_max_shots,
            cfg.ACCOUNT_MAX_COST_USD: self.account_max_cost_usd,
            cfg.CANCEL_SCOPE: self.cancel_scope,
            cfg.PRICE_OVERRIDES: self.price_overrides,
        }
        env.update({name: str(value) for name, value in optional.items() if value is not None})
        return env

    def limits(self) -> str:
        """The limits the function enforces, in words, as the deploy reports them (settings valid)."""
        return cfg.GuardConfig.from_environ(self.environment()).describe_all_limits()

    def validate(self) -> None:
        """Refuse what the handler would refuse, naming the flags, and native limits it cannot place."""
        problems: list[str] = []
        try:
            cfg.GuardConfig.from_environ(self.environment())
        except cfg.GuardConfigError as error:
            problems += [_VARIABLE.sub(lambda found: FLAGS[found[1]], problem) for problem in error.problems]
        size = sum(len(key.encode()) + len(value.encode()) for key, value in self.environment().items())
        if size > ENVIRONMENT_LIMIT_BYTES:
            problems.append(
                f"the function's settings take {size} bytes and Lambda allows {ENVIRONMENT_LIMIT_BYTES}: "
                "shorten --price-overrides (only the devices you use) or --device-limits"
            )
        if not 0 <= self.max_retry_attempts <= MAX_RETRY_ATTEMPTS:
            problems.append(
                f"--retry-attempts {self.max_retry_attempts}: Lambda allows 0 to {MAX_RETRY_ATTEMPTS}"
            )
        if not MIN_EVENT_AGE_S <= self.max_event_age_s <= MAX_EVENT_AGE_S:
            problems.append(
                f"--max-event-age {self.max_event_age_s} s: Lambda allows {MIN_EVENT_AGE_S} s to "
                f"{MAX_EVENT_AGE_S} s (1m to 6h)"
            )
        if self.native_limit_usd is not None:
            if not qpu_devices(self.devices):
                problems.append("--native-limit needs --devices naming a QPU (simulators have no limits)")
            if self.native_limit_usd != self.native_limit_usd.quantize(Decimal("0.01")):
                problems.append("a Braket spending limit has at most two decimal places")
        if problems:
            raise ProvisioningError(
                OPTIONS_STEP, "; ".join(problems), "correct the flags named; nothing was changed"
            )


def qpu_devices(devices: Iterable[str]) -> list[str]:
    """The QPU ARNs among ``devices`` (they name a region; simulators do not and have no spending limits)."""
    return [arn for arn in devices if arn.split(":")[3:4] != [""] and "/qpu/" in arn]


def lambda_modules() -> list[str]:
    """Files (relative to the package's parent) of the plugin modules the handler imports.

    The handler is imported in a fresh interpreter and ``sys.modules`` read back, so the list is
    whatever the code really needs, not a list kept by hand. The Lambda runtime offers the standard
    library and boto3 (with what boto3 imports); any other import is refused here instead of failing
    at the first event.
    """
    probe = (
        "import json, os, sys\n"
        "sys.path[:] = [p for p in sys.path if p not in ('', os.getcwd())]\n"
        "import boto3\n"
        "runtime = set(sys.modules)\n"
        f"import {HANDLER.rsplit('.', 1)[0]}\n"
        "loaded = {n: (n in runtime, getattr(m, '__file__', None)) for n, m in list(sys.modules.items())}\n"
        "print(json.dumps(loaded))"
    )
    output = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    modules: dict[str, tuple[bool, str | None]] = json.loads(output)
    allowed = set(sys.stdlib_module_names) | {PACKAGE}
    foreign = sorted(
        {
            name.split(".")[0]
            for name, (with_boto3, _) in modules.items()
            if not with_boto3 and name.split(".")[0] not in allowed and not name.startswith("_")
        }
    )
    if foreign:
        raise ProvisioningError(
            "lambda function", f"the handler imports modules the Lambda runtime lacks: {foreign}",
            "keep the handler's imports to the standard library, boto3 and the plugin",
        )
    root = Path(covalent_braket_plugin.__file__).resolve().parent.parent
    files = [
        Path(path).resolve().relative_to(root).as_posix()
        for name, (_, path) in modules.items()
        if (name == PACKAGE or name.startswith(PACKAGE + ".")) and path
    ]
    return sorted(files)


def build_zip() -> bytes:
    """The function's deployment package, byte-for-byte the same for the same installed code.

    Fixed timestamps and order make its SHA-256 stable, which is how re-deploying tells that the
    code is unchanged.
    """
    root = Path(covalent_braket_plugin.__file__).resolve().parent
    names = [*lambda_modules(), *(f"{PACKAGE}/{path}" for path in DATA_FILES)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(set(names)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root.parent / name).read_bytes())
    return buffer.getvalue()


def role_policy(
    settings: GuardSettings, region: str, account: str, table_arn: str | None, queue_arn: str
) -> dict[str, Any]:
    """The function role's inline policy: only what the handler calls, on only the guard's resources,
    and sending to its failure queue, which Lambda does as the function's role."""
    log_group = f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{settings.name}"
    statements: list[dict[str, Any]] = [
        {"Sid": "FindTasks", "Effect": "Allow", "Action": ["braket:SearchQuantumTasks"], "Resource": "*"},
        {
            "Sid": "ReadAndCancelTasks",
            "Effect": "Allow",
            "Action": ["braket:GetQuantumTask", "braket:CancelQuantumTask"],
            "Resource": f"arn:aws:braket:{region}:{account}:quantum-task/*",
        },
        {
            "Sid": "ReadJobs",
            "Effect": "Allow",
            "Action": ["braket:GetJob"],
            "Resource": f"arn:aws:braket:{region}:{account}:job/*",
        },
        {"Sid": "FailedEvents", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue_arn},
        {
            "Sid": "LogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup"],
            "Resource": f"{log_group}:*",
        },
        {
            "Sid": "LogEvents",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group}:log-stream:*",
        },
    ]
    if table_arn:
        statements.append(
            {
                "Sid": "Ledger",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                ],
                "Resource": table_arn,
            }
        )
    if settings.slack_secret_arn:
        statements.append(
            {
                "Sid": "SlackWebhook",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": settings.slack_secret_arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def failed_event(message: sqs.Message) -> ResourceResult:
    """One event Lambda gave up on, from the record it puts in the failure queue: the event (its kind and
    the task or job it names), why Lambda gave up, when, after how many attempts, and the last error."""
    record = message.body if isinstance(message.body, dict) else {}
    event = record.get("requestPayload") if isinstance(record.get("requestPayload"), dict) else {}
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
    subject = detail.get("quantumTaskArn") or detail.get("jobArn") or event.get("id") or "?"
    context = record.get("requestContext") or {}
    response = record.get("responsePayload") if isinstance(record.get("responsePayload"), dict) else {}
    error = response.get("errorMessage") or (message.body if not record else "")
    when = record.get("timestamp") or datetime.fromtimestamp(message.sent_ms / 1000, UTC).isoformat()
    attempts = context.get("approximateInvokeCount", "?")
    return ResourceResult(
        "failed event", f"{event.get('detail-type', 'event')}: {subject}",
        str(context.get("condition", "failed")), f"{when}, {attempts} attempt(s): {error}".rstrip(": "),
    )


def _devices_of(function: dict[str, Any] | None) -> list[str]:
    """The devices a deployed function guards (from its settings), for finding its spending limits."""
    if function is None:
        return []
    listed = function.get("Environment", {}).get("Variables", {}).get(cfg.DEVICE_ARNS, "")
    return [arn for arn in listed.split(",") if arn]


def _permission_id(name: str) -> str:
    return f"{name}-events"


class GuardDeployment:
    """Deploys, shows and removes one guard with ``session`` (endpoints from the usual boto3 settings).

    Raises:
        ProvisioningError: (step ``options``) no region given or configured.
    """

    def __init__(
        self, session: AwsSession | boto3.session.Session | None = None, region: str | None = None
    ) -> None:
        self.aws = session if isinstance(session, AwsSession) else AwsSession(session, region=region)
        self.region: str | None = region
        self.region = self._run().region  # the session's region, or refused now, before any AWS call

    def _run(
        self, command: str = "guard deploy", *, dry_run: bool = False, log: Logger = print
    ) -> Provisioner:
        """A run of ``command`` (named in the fixes of its errors) in the guard's region."""
        return Provisioner(
            self.aws, self.region, command=command, permissions_doc="docs/guard.md", dry_run=dry_run, log=log
        )

    # -- the whole guard

    def deploy(
        self, settings: GuardSettings, log: Logger = print, dry_run: bool = False
    ) -> list[ResourceResult]:
        """Create or update every resource of ``settings``; each result is also passed to ``log``.

        Raises:
            ProvisioningError: bad settings (before any AWS call), or the resource that failed.
        """
        settings.validate()
        run = self._run(dry_run=dry_run, log=log)
        table_arn = None
        if settings.ledger:
            table_arn = run.step("dynamodb table", lambda: self._ensure_table(run, settings.table_name))
        queue_arn = run.step("sqs queue", lambda: self._ensure_queue(run, settings.queue_name))
        role_arn = run.step("iam role", lambda: self._ensure_role(run, settings, table_arn, queue_arn))
        function_arn = run.step("lambda function", lambda: self._ensure_function(run, settings, role_arn))
        run.record(run.step("lambda async config", lambda: awslambda.ensure_async_invocation(
            run, settings.name,
            awslambda.AsyncInvocation(settings.max_retry_attempts, settings.max_event_age_s, queue_arn),
        )))
        run.step("eventbridge rule", lambda: self._ensure_rule(run, settings.name, function_arn))
        if settings.native_limit_usd is not None:
            amount = settings.native_limit_usd
            for device in qpu_devices(settings.devices):
                run.record(run.step("spending limit", lambda device=device: (
                    spending_limits.ensure_spending_limit(run, device, amount, LIMIT_TAG, settings.name)
                )))
        return run.results

    def ensure_table(self, table: str) -> tuple[str, ResourceResult]:
        """The ledger table ``table`` (created if missing): its ARN and what was done."""
        return dynamodb.ensure_table(self._run(log=lambda result: None), self._table(table))

    def status(self, name: str = DEFAULT_NAME) -> list[ResourceResult]:
        """What exists of the guard ``name`` now, and the newest events its failure queue holds."""
        run, settings = self._run("guard status", log=lambda result: None), GuardSettings(name=name)
        results = [
            *iam.describe_role(run, settings.role_name, settings.policy_name),
            dynamodb.describe_table(run, settings.table_name),
        ]
        function = awslambda.function_configuration(run, name)
        if function is None:
            results.append(ResourceResult("lambda function", name, "missing"))
        else:
            env = function.get("Environment", {}).get("Variables", {})
            shown = (
                cfg.MAX_SHOTS, cfg.MAX_COST_USD, cfg.DEVICE_LIMITS, cfg.ACCOUNT_MAX_SHOTS,
                cfg.ACCOUNT_MAX_COST_USD, cfg.CANCEL_SCOPE, cfg.DAY_TIMEZONE, cfg.DEVICE_ARNS,
                cfg.LEDGER_TABLE,
            )
            limits = ", ".join(f"{k}={env[k]}" for k in shown if k in env)
            results.append(ResourceResult("lambda function", name, "present", limits))
            reserved = str(awslambda.reserved_concurrency(run, name) or "unreserved")
            label = awslambda.concurrency_label(name)
            results.append(ResourceResult("lambda concurrency", label, "present", reserved))
            results.append(awslambda.describe_permission(run, name, _permission_id(name)))
            results.append(awslambda.describe_async_invocation(run, name))
        results.append(eventbridge.describe_rule(run, name))
        queue, count = sqs.describe_queue(run, settings.queue_name)
        results.append(queue)
        if count:
            newest = sqs.peek(run, settings.queue_name, FAILED_EVENTS_SHOWN)
            results += [failed_event(message) for message in newest]
        devices = qpu_devices(_devices_of(function))
        for limit in spending_limits.owned_spending_limits(run, devices, LIMIT_TAG, name):
            results.append(spending_limits.describe_spending_limit(limit))
        return results

    def remove(
        self, name: str = DEFAULT_NAME, log: Logger = print, dry_run: bool = False
    ) -> list[ResourceResult]:
        """Delete what ``deploy`` made for the guard ``name``; a missing piece is reported, not an error."""
        run, settings = self._run("guard remove", dry_run=dry_run, log=log), GuardSettings(name=name)
        function = run.step("lambda function", lambda: awslambda.function_configuration(run, name))
        devices = qpu_devices(_devices_of(function))
        limits = run.step(
            "spending limit", lambda: spending_limits.owned_spending_limits(run, devices, LIMIT_TAG, name)
        )
        for limit in limits:
            run.record(run.step("spending limit", lambda limit=limit: spending_limits.remove_spending_limit(
                run, limit
            )))
        run.record(run.step("eventbridge rule", lambda: eventbridge.remove_rule(run, name)))
        exists = function is not None
        run.record(run.step("lambda function", lambda: awslambda.remove_function(run, name, exists)))
        run.record(run.step("dynamodb table", lambda: dynamodb.remove_table(run, settings.table_name)))
        run.record(run.step("sqs queue", lambda: sqs.remove_queue(run, settings.queue_name)))
        run.record(run.step("iam role", lambda: iam.remove_role(run, settings.role_name)))
        return run.results

    # -- the guard's resources

    @staticmethod
    def _table(name: str) -> dynamodb.Table:
        return dynamodb.Table(name, key=KEY, ttl_attribute=TTL_ATTRIBUTE, tags=((LIMIT_TAG, name),))

    def _ensure_table(self, run: Provisioner, name: str) -> str:
        arn, result = dynamodb.ensure_table(run, self._table(name))
        run.record(result)
        return arn

    @staticmethod
    def _ensure_queue(run: Provisioner, name: str) -> str:
        arn, result = sqs.ensure_queue(run, sqs.Queue(name, tags=((LIMIT_TAG, name),)))
        run.record(result)
        return arn

    def _ensure_role(
        self, run: Provisioner, settings: GuardSettings, table_arn: str | None, queue_arn: str
    ) -> str:
        role = iam.Role(
            name=settings.role_name,
            trust=TRUST_POLICY,
            policy_name=settings.policy_name,
            policy=role_policy(settings, run.region, run.account_id, table_arn, queue_arn),
            description="Runs the covalent-braket cost guard Lambda function",
        )
        outcome = iam.ensure_role(run, role)
        detail = ", ".join((["trust policy"] if outcome.role_action == "updated" else []) + outcome.notes)
        run.record(
            ResourceResult("iam role", role.name, run.did(outcome.role_action), detail),
            ResourceResult("iam policy", role.policy_name, run.did(outcome.policy_action)),
        )
        return outcome.arn

    def _ensure_function(self, run: Provisioner, settings: GuardSettings, role_arn: str) -> str:
        function = awslambda.Function(
            name=settings.name, code=build_zip(), runtime=RUNTIME, handler=HANDLER, role_arn=role_arn,
            timeout_s=TIMEOUT_S, memory_mb=MEMORY_MB, environment=settings.environment(),
            description="covalent-braket cost guard",
        )
        arn, result = awslambda.ensure_function(run, function)
        detail = "; ".join(part for part in (result.detail, f"limits: {settings.limits()}") if part)
        new = result.action == run.did("created")
        # Without a ledger the guard relies on invocations running one at a time (see docs/guard.md).
        concurrency = awslambda.ensure_concurrency(
            run, settings.name, None if settings.ledger else 1, new_function=new
        )
        run.record(dataclasses.replace(result, detail=detail), concurrency)
        return arn

    def _ensure_rule(self, run: Provisioner, name: str, function_arn: str) -> None:
        rule_arn, result = eventbridge.ensure_rule(
            run, name, EVENT_PATTERN,
            description="Braket task and job state changes the covalent-braket cost guard counts",
            detail="task CREATED, simulator task and job terminal state changes",
        )
        run.record(
            result,
            eventbridge.ensure_target(run, name, name, function_arn),
            awslambda.ensure_permission(run, name, _permission_id(name), "events.amazonaws.com", rule_arn),
        )
