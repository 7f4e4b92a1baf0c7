"""Deploy, inspect and remove the cost guard in an AWS account (or the local stack).

``deploy`` converges each resource to what the settings ask for and reports, per resource, whether
it was ``created``, ``updated`` or already right (``unchanged``), so running it twice changes
nothing the second time. The resources, all named after ``--name``:

- IAM role ``<name>-role`` (trusted by lambda.amazonaws.com) with one least-privilege inline policy:
  search, get and cancel Braket tasks; only the ledger table; only the webhook secret; its own logs;
- DynamoDB table ``<name>-ledger`` (on-demand, TTL on ``expires_at``) unless ``ledger=False``;
- Lambda function ``<name>`` (python3.12) whose zip is built from the *installed* package: the
  modules the handler really imports (found by importing it in a clean interpreter) and prices.json;
- EventBridge rule ``<name>`` on the default bus for CREATED task changes only, its target and the
  permission letting EventBridge invoke the function;
- optionally a Braket spending limit per QPU device, a second line of defence enforced by Braket.

Every setting is validated with the handler's own parser before any AWS call.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

import covalent_braket_plugin
from covalent_braket_plugin.guard import config as cfg
from covalent_braket_plugin.guard.events import DETAIL_TYPE, SOURCE, TRIGGER_STATUS
from covalent_braket_plugin.guard.ledger import KEY, TTL_ATTRIBUTE
from covalent_braket_plugin.provisioning.resources import ResourceResult, not_found, same_document

DEFAULT_NAME = "covalent-braket-guard"
HANDLER = "covalent_braket_plugin.guard.lambda_function.lambda_handler"
RUNTIME = "python3.12"
TIMEOUT_S = 120
MEMORY_MB = 256
PACKAGE = "covalent_braket_plugin"
# Package data the handler reads at run time.
DATA_FILES = ("tasks/prices.json",)
# The tag that marks spending limits this deployment created (its value is the guard's name).
LIMIT_TAG = "covalent-braket-guard"

EVENT_PATTERN = {"source": [SOURCE], "detail-type": [DETAIL_TYPE], "detail": {"status": [TRIGGER_STATUS]}}
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
ROLE_RETRY_S = 60.0  # a new IAM role takes a few seconds before Lambda may assume it


Logger = Callable[["ResourceResult"], None]


class DeployError(RuntimeError):
    """The deployment cannot go ahead; the message says why."""


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

    @property
    def role_name(self) -> str:
        return f"{self.name}-role"

    @property
    def table_name(self) -> str:
        return f"{self.name}-ledger"

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
        return env

    def validate(self) -> None:
        """Refuse what the handler would refuse, and native limits it cannot place."""
        problems: list[str] = []
        try:
            cfg.GuardConfig.from_environ(self.environment())
        except cfg.GuardConfigError as error:
            problems += error.problems
        if self.native_limit_usd is not None:
            if not qpu_devices(self.devices):
                problems.append("--native-limit needs --devices naming a QPU (simulators have no limits)")
            if self.native_limit_usd != self.native_limit_usd.quantize(Decimal("0.01")):
                problems.append("a Braket spending limit has at most two decimal places")
        if problems:
            raise DeployError("; ".join(problems))


def qpu_devices(devices: Iterable[str]) -> list[str]:
    """The QPU ARNs among ``devices`` (they name a region; simulators do not and have no spending limits)."""
    return [arn for arn in devices if arn.split(":")[3:4] != [""] and "/qpu/" in arn]


def _region_of(device_arn: str) -> str:
    return device_arn.split(":")[3]


# ---------------------------------------------------------------------------------------------- zip


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
        raise DeployError(f"the handler imports modules the Lambda runtime lacks: {foreign}")
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


def code_sha256(data: bytes) -> str:
    """The digest Lambda reports as CodeSha256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# ------------------------------------------------------------------------------------------- deploy


class GuardDeployment:
    """Deploys one guard with clients from ``session`` (endpoints from the usual boto3 settings)."""

    def __init__(self, session: boto3.session.Session | None = None, region: str | None = None) -> None:
        self.session = session or boto3.session.Session(region_name=region)
        self.region = region or self.session.region_name
        if not self.region:
            raise DeployError("no region: pass --region or configure one (AWS_DEFAULT_REGION, profile)")
        self.iam = self.client("iam")
        self.lambda_ = self.client("lambda")
        self.events = self.client("events")
        self.dynamodb = self.client("dynamodb")

    def client(self, service: str, region: str | None = None) -> Any:
        return self.session.client(service, region_name=region or self.region)

    @property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    # -- the whole guard

    def deploy(self, settings: GuardSettings, log: Logger = print) -> list[ResourceResult]:
        """Create or update every resource of ``settings``; each result is also passed to ``log``."""
        settings.validate()
        results: list[ResourceResult] = []

        def record(result: ResourceResult) -> None:
            results.append(result)
            log(result)

        table_arn = None
        if settings.ledger:
            table_arn, result = self.ensure_table(settings.table_name)
            record(result)
        role_arn, role_results = self.ensure_role(settings, table_arn)
        for result in role_results:
            record(result)
        function_arn, function_results = self.ensure_function(settings, role_arn)
        for result in function_results:
            record(result)
        for result in self.ensure_rule(settings.name, function_arn):
            record(result)
        if settings.native_limit_usd is not None:
            for result in self.ensure_spending_limits(settings):
                record(result)
        return results

    def status(self, name: str = DEFAULT_NAME) -> list[ResourceResult]:
        """What exists of the guard ``name`` now."""
        results = [*self._role_status(name), self._table_status(name)]
        function = self._function(name)
        if function is None:
            results.append(ResourceResult("lambda function", name, "missing"))
        else:
            env = function.get("Environment", {}).get("Variables", {})
            shown = (cfg.MAX_SHOTS, cfg.MAX_COST_USD, cfg.DAY_TIMEZONE, cfg.DEVICE_ARNS, cfg.LEDGER_TABLE)
            limits = ", ".join(f"{k}={env[k]}" for k in shown if k in env)
            results.append(ResourceResult("lambda function", name, "present", limits))
            concurrency = self.lambda_.get_function_concurrency(FunctionName=name)
            reserved = str(concurrency.get("ReservedConcurrentExecutions") or "unreserved")
            label = f"{name} reserved concurrency"
            results.append(ResourceResult("lambda concurrency", label, "present", reserved))
            results.append(self._permission_status(name))
        results.append(self._rule_status(name))
        for limit in self._own_spending_limits(name, self._devices_of(function)):
            results.append(
                ResourceResult(
                    "spending limit", limit["deviceArn"], "present",
                    f"limit ${limit['spendingLimit']}, spent ${limit['totalSpend']}, "
                    f"queued ${limit['queuedSpend']}",
                )
            )
        return results

    def remove(self, name: str = DEFAULT_NAME, log: Logger = print) -> list[ResourceResult]:
        """Delete what ``deploy`` made for the guard ``name``; a missing piece is reported, not an error."""
        results: list[ResourceResult] = []

        def record(kind: str, resource: str, deleted: bool) -> None:
            result = ResourceResult(kind, resource, "deleted" if deleted else "missing")
            results.append(result)
            log(result)

        function = self._function(name)
        for limit in self._own_spending_limits(name, self._devices_of(function)):
            self.client("braket", limit["spendingLimitArn"].split(":")[3]).delete_spending_limit(
                spendingLimitArn=limit["spendingLimitArn"]
            )
            record("spending limit", limit["deviceArn"], True)
        try:
            targets = self.events.list_targets_by_rule(Rule=name)["Targets"]
            if targets:
                self.events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
            self.events.delete_rule(Name=name)
            record("eventbridge rule", name, True)
        except ClientError as error:
            if not not_found(error):
                raise
            record("eventbridge rule", name, False)
        if function is not None:
            self.lambda_.delete_function(FunctionName=name)
        record("lambda function", name, function is not None)
        table = f"{name}-ledger"
        try:
            self.dynamodb.delete_table(TableName=table)
            record("dynamodb table", table, True)
        except ClientError as error:
            if not not_found(error):
                raise
            record("dynamodb table", table, False)
        role = f"{name}-role"
        try:
            for policy in self.iam.list_role_policies(RoleName=role)["PolicyNames"]:
                self.iam.delete_role_policy(RoleName=role, PolicyName=policy)
            self.iam.delete_role(RoleName=role)
            record("iam role", role, True)
        except ClientError as error:
            if not not_found(error):
                raise
            record("iam role", role, False)
        return results

    # -- IAM

    def policy(self, settings: GuardSettings, table_arn: str | None) -> dict[str, Any]:
        """The role's inline policy: only what the handler calls, on only the guard's resources."""
        account, region = self.account_id, self.region
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

    def ensure_role(self, settings: GuardSettings, table_arn: str | None) -> tuple[str, list[ResourceResult]]:
        name, policy_name = settings.role_name, f"{settings.name}-policy"
        results = []
        try:
            role = self.iam.get_role(RoleName=name)["Role"]
            if same_document(role["AssumeRolePolicyDocument"], TRUST_POLICY):
                results.append(ResourceResult("iam role", name, "unchanged"))
            else:
                self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(TRUST_POLICY))
                results.append(ResourceResult("iam role", name, "updated", "trust policy"))
        except ClientError as error:
            if not not_found(error):
                raise
            role = self.iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
                Description="Runs the covalent-braket cost guard Lambda function",
            )["Role"]
            results.append(ResourceResult("iam role", name, "created"))
        wanted = self.policy(settings, table_arn)
        try:
            current = self.iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            action = "unchanged" if same_document(current, wanted) else "updated"
        except ClientError as error:
            if not not_found(error):
                raise
            action = "created"
        if action != "unchanged":
            self.iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(wanted))
        results.append(ResourceResult("iam policy", policy_name, action))
        return role["Arn"], results

    def _role_status(self, name: str) -> list[ResourceResult]:
        role_name, policy_name = f"{name}-role", f"{name}-policy"
        try:
            role = self.iam.get_role(RoleName=role_name)["Role"]
        except ClientError as error:
            if not not_found(error):
                raise
            return [ResourceResult("iam role", role_name, "missing")]
        present = policy_name in self.iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        return [
            ResourceResult("iam role", role_name, "present", role["Arn"]),
            ResourceResult("iam policy", policy_name, "present" if present else "missing"),
        ]

    # -- DynamoDB

    def ensure_table(self, table: str) -> tuple[str, ResourceResult]:
        try:
            description = self.dynamodb.describe_table(TableName=table)["Table"]
            changes = []
            if description["KeySchema"] != [{"AttributeName": KEY, "KeyType": "HASH"}]:
                raise DeployError(f"table {table} exists with another key schema; remove it or pick a --name")
            if description.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST":
                self.dynamodb.update_table(TableName=table, BillingMode="PAY_PER_REQUEST")
                changes.append("on-demand billing")
            action = "unchanged"
        except ClientError as error:
            if not not_found(error):
                raise
            description = self.dynamodb.create_table(
                TableName=table,
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                Tags=[{"Key": LIMIT_TAG, "Value": table}],
            )["TableDescription"]
            self.dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2})
            action, changes = "created", []
        ttl = self.dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        ttl_on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        if not ttl_on or ttl.get("AttributeName") != TTL_ATTRIBUTE:
            self.dynamodb.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
            )
            changes.append(f"TTL on {TTL_ATTRIBUTE}")
        if changes and action == "unchanged":
            action = "updated"
        return description["TableArn"], ResourceResult("dynamodb table", table, action, ", ".join(changes))

    def _table_status(self, name: str) -> ResourceResult:
        table = f"{name}-ledger"
        try:
            description = self.dynamodb.describe_table(TableName=table)["Table"]
            return ResourceResult("dynamodb table", table, "present", description.get("TableStatus", ""))
        except ClientError as error:
            if not not_found(error):
                raise
            return ResourceResult("dynamodb table", table, "missing")

    # -- Lambda

    def _function(self, name: str) -> dict[str, Any] | None:
        try:
            return self.lambda_.get_function_configuration(FunctionName=name)
        except ClientError as error:
            if not not_found(error):
                raise
            return None

    def _devices_of(self, function: dict[str, Any] | None) -> list[str]:
        if function is None:
            return []
        listed = function.get("Environment", {}).get("Variables", {}).get(cfg.DEVICE_ARNS, "")
        return [arn for arn in listed.split(",") if arn]

    def _wait_until_updated(self, name: str) -> None:
        """Lambda refuses a second update while one is in progress; wait for it to settle."""
        for _ in range(120):
            status = self.lambda_.get_function_configuration(FunctionName=name)
            if status.get("State", "Active") != "Pending" and status.get("LastUpdateStatus") != "InProgress":
                return
            time.sleep(1)

    def ensure_function(self, settings: GuardSettings, role_arn: str) -> tuple[str, list[ResourceResult]]:
        name = settings.name
        code = build_zip()
        wanted = {
            "Runtime": RUNTIME,
            "Handler": HANDLER,
            "Role": role_arn,
            "Timeout": TIMEOUT_S,
            "MemorySize": MEMORY_MB,
            "Environment": {"Variables": settings.environment()},
        }
        current = self._function(name)
        results = []
        if current is None:
            current = self._create_function(name, code, wanted)
            results.append(ResourceResult("lambda function", name, "created"))
        else:
            changes = []
            if current.get("CodeSha256") != code_sha256(code):
                self.lambda_.update_function_code(FunctionName=name, ZipFile=code)
                self._wait_until_updated(name)
                changes.append("code")
            differing = [
                key for key, value in wanted.items()
                if (current.get(key) or ({"Variables": {}} if key == "Environment" else None)) != value
            ]
            if differing:
                self.lambda_.update_function_configuration(FunctionName=name, **wanted)
                self._wait_until_updated(name)
                changes += [key.lower() for key in differing]
            action = "updated" if changes else "unchanged"
            results.append(ResourceResult("lambda function", name, action, ", ".join(changes)))
        results.append(self._ensure_concurrency(name, None if settings.ledger else 1))
        return current["FunctionArn"], results

    def _create_function(self, name: str, code: bytes, wanted: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + ROLE_RETRY_S
        while True:
            try:
                created = self.lambda_.create_function(
                    FunctionName=name, Code={"ZipFile": code}, Description="covalent-braket cost guard",
                    **wanted,
                )
                self._wait_until_updated(name)
                return created
            except ClientError as error:
                fresh_role = "cannot be assumed" in error.response.get("Error", {}).get("Message", "")
                if not fresh_role or time.monotonic() > deadline:
                    raise
                time.sleep(3)

    def _ensure_concurrency(self, name: str, reserved: int | None) -> ResourceResult:
        """Without a ledger the guard relies on invocations running one at a time (see docs/guard.md)."""
        current = self.lambda_.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        label = f"{name} reserved concurrency"
        if current == reserved:
            return ResourceResult("lambda concurrency", label, "unchanged", str(reserved or "unreserved"))
        if reserved is None:
            self.lambda_.delete_function_concurrency(FunctionName=name)
        else:
            self.lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
        return ResourceResult("lambda concurrency", label, "updated", str(reserved or "unreserved"))

    # -- EventBridge

    def ensure_rule(self, name: str, function_arn: str) -> list[ResourceResult]:
        results = []
        try:
            rule = self.events.describe_rule(Name=name)
            pattern = rule.get("EventPattern", "{}")
            same = rule.get("State") == "ENABLED" and same_document(pattern, EVENT_PATTERN)
            rule_arn, action = rule["Arn"], "unchanged" if same else "updated"
        except ClientError as error:
            if not not_found(error):
                raise
            rule_arn, action = "", "created"
        if action != "unchanged":
            rule_arn = self.events.put_rule(
                Name=name,
                EventPattern=json.dumps(EVENT_PATTERN),
                State="ENABLED",
                Description="New Amazon Braket quantum tasks, for the covalent-braket cost guard",
            )["RuleArn"]
        results.append(ResourceResult("eventbridge rule", name, action, "CREATED task state changes"))

        targets = self.events.list_targets_by_rule(Rule=name)["Targets"]
        if [(t["Id"], t["Arn"]) for t in targets] == [(name, function_arn)]:
            action = "unchanged"
        else:
            stale = [t["Id"] for t in targets if (t["Id"], t["Arn"]) != (name, function_arn)]
            if stale:
                self.events.remove_targets(Rule=name, Ids=stale)
            self.events.put_targets(Rule=name, Targets=[{"Id": name, "Arn": function_arn}])
            action = "updated" if targets else "created"
        results.append(ResourceResult("eventbridge target", f"{name} -> {name}", action))
        results.append(self._ensure_permission(name, rule_arn))
        return results

    def _ensure_permission(self, name: str, rule_arn: str) -> ResourceResult:
        sid = f"{name}-events"
        source = self._permission_source(name)
        if source == rule_arn:
            return ResourceResult("lambda permission", sid, "unchanged", "events.amazonaws.com may invoke")
        if source is not None:
            self.lambda_.remove_permission(FunctionName=name, StatementId=sid)
        self.lambda_.add_permission(
            FunctionName=name,
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=rule_arn,
        )
        action = "created" if source is None else "updated"
        return ResourceResult("lambda permission", sid, action, "events.amazonaws.com may invoke")

    def _permission_source(self, name: str) -> str | None:
        """The rule ARN the guard's invoke permission names ("" for none), or None without one."""
        try:
            statements = json.loads(self.lambda_.get_policy(FunctionName=name)["Policy"])["Statement"]
        except ClientError as error:
            if not not_found(error):
                raise
            return None
        mine = [s for s in statements if s.get("Sid") == f"{name}-events"]
        return mine[0].get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "") if mine else None

    def _permission_status(self, name: str) -> ResourceResult:
        source = self._permission_source(name)
        if source is None:
            return ResourceResult("lambda permission", f"{name}-events", "missing")
        return ResourceResult("lambda permission", f"{name}-events", "present", f"invoked from {source}")

    def _rule_status(self, name: str) -> ResourceResult:
        try:
            rule = self.events.describe_rule(Name=name)
        except ClientError as error:
            if not not_found(error):
                raise
            return ResourceResult("eventbridge rule", name, "missing")
        targets = [t["Arn"] for t in self.events.list_targets_by_rule(Rule=name)["Targets"]]
        return ResourceResult("eventbridge rule", name, "present", f"{rule.get('State')}, targets {targets}")

    # -- Braket spending limits

    def _spending_limits(self, device_arn: str) -> list[dict[str, Any]]:
        braket = self.client("braket", _region_of(device_arn))
        limits, token = [], None
        while True:
            page = braket.search_spending_limits(
                filters=[{"name": "deviceArn", "operator": "EQUAL", "values": [device_arn]}],
                **({"nextToken": token} if token else {}),
            )
            limits += page["spendingLimits"]
            token = page.get("nextToken")
            if not token:
                return limits

    def _own_spending_limits(self, name: str, devices: Iterable[str]) -> list[dict[str, Any]]:
        return [
            limit
            for device in qpu_devices(devices)
            for limit in self._spending_limits(device)
            if (limit.get("tags") or {}).get(LIMIT_TAG) == name
        ]

    def ensure_spending_limits(self, settings: GuardSettings) -> list[ResourceResult]:
        """One Braket spending limit per QPU of ``settings.devices``, tagged as the guard's own."""
        assert settings.native_limit_usd is not None
        amount = f"{settings.native_limit_usd:.2f}"
        results = []
        for device in qpu_devices(settings.devices):
            braket = self.client("braket", _region_of(device))
            existing = self._spending_limits(device)
            mine = [limit for limit in existing if (limit.get("tags") or {}).get(LIMIT_TAG) == settings.name]
            if mine:
                if Decimal(mine[0]["spendingLimit"]) == Decimal(amount):
                    results.append(ResourceResult("spending limit", device, "unchanged", f"${amount}"))
                    continue
                braket.update_spending_limit(
                    spendingLimitArn=mine[0]["spendingLimitArn"],
                    spendingLimit=amount,
                    clientToken=str(uuid.uuid4()),
                )
                results.append(ResourceResult("spending limit", device, "updated", f"${amount}"))
            elif existing:
                results.append(
                    ResourceResult(
                        "spending limit", device, "skipped",
                        f"the device has a limit this guard did not make: {existing[0]['spendingLimitArn']}",
                    )
                )
            else:
                braket.create_spending_limit(
                    deviceArn=device, spendingLimit=amount, clientToken=str(uuid.uuid4()),
                    tags={LIMIT_TAG: settings.name},
                )
                results.append(ResourceResult("spending limit", device, "created", f"${amount}"))
        return results
