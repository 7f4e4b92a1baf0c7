"""Lambda functions: code and configuration, reserved concurrency, who may invoke them, and what
becomes of an asynchronous invocation that keeps failing."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.provisioning.engine import Provisioner, unless_missing
from covalent_braket_plugin.provisioning.resources import ResourceResult

ROLE_RETRY_S = 60.0
"""A new IAM role takes a few seconds before Lambda may assume it; creating is retried that long."""


@dataclass(frozen=True)
class Function:
    """A function as it should be: its zip and the configuration Lambda reports back."""

    name: str
    code: bytes
    runtime: str
    handler: str
    role_arn: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    description: str

    def configuration(self) -> dict[str, Any]:
        """The settings compared with GetFunctionConfiguration's answer and sent on update."""
        return {
            "Runtime": self.runtime,
            "Handler": self.handler,
            "Role": self.role_arn,
            "Timeout": self.timeout_s,
            "MemorySize": self.memory_mb,
            "Environment": {"Variables": self.environment},
        }


def code_sha256(data: bytes) -> str:
    """The digest Lambda reports as CodeSha256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def function_configuration(run: Provisioner, name: str) -> dict[str, Any] | None:
    """GetFunctionConfiguration of ``name``, None when there is no such function."""
    return unless_missing(lambda: run.client("lambda").get_function_configuration(FunctionName=name))


def ensure_function(run: Provisioner, function: Function) -> tuple[str, ResourceResult]:
    """Create the function or bring its code and configuration to ``function``; returns its ARN."""
    lambda_ = run.client("lambda")
    wanted = function.configuration()
    current = function_configuration(run, function.name)
    if current is None:
        arn = run.arn("lambda", f"function:{function.name}")
        if not run.dry_run:
            arn = _create(run, function)["FunctionArn"]
        return arn, ResourceResult("lambda function", function.name, run.did("created"))
    changes = []
    if current.get("CodeSha256") != code_sha256(function.code):
        changes.append("code")
        if not run.dry_run:
            lambda_.update_function_code(FunctionName=function.name, ZipFile=function.code)
            _wait_until_updated(lambda_, function.name)
    differing = [
        key for key, value in wanted.items()
        if (current.get(key) or ({"Variables": {}} if key == "Environment" else None)) != value
    ]
    if differing:
        changes += [key.lower() for key in differing]
        if not run.dry_run:
            lambda_.update_function_configuration(FunctionName=function.name, **wanted)
            _wait_until_updated(lambda_, function.name)
    result = ResourceResult("lambda function", function.name, run.did("updated" if changes else "unchanged"),
                            ", ".join(changes))
    return current["FunctionArn"], result


def _create(run: Provisioner, function: Function) -> dict[str, Any]:
    lambda_ = run.client("lambda")
    deadline = time.monotonic() + ROLE_RETRY_S
    while True:
        try:
            created = lambda_.create_function(
                FunctionName=function.name, Code={"ZipFile": function.code}, Description=function.description,
                **function.configuration(),
            )
            _wait_until_updated(lambda_, function.name)
            return dict(created)
        except ClientError as error:
            fresh_role = "cannot be assumed" in error.response.get("Error", {}).get("Message", "")
            if not fresh_role or time.monotonic() > deadline:
                raise
            time.sleep(3)


def _wait_until_updated(lambda_: Any, name: str) -> None:
    """Lambda refuses a second update while one is in progress; wait for it to settle."""
    for _ in range(120):
        status = lambda_.get_function_configuration(FunctionName=name)
        if status.get("State", "Active") != "Pending" and status.get("LastUpdateStatus") != "InProgress":
            return
        time.sleep(1)


def reserved_concurrency(run: Provisioner, name: str) -> int | None:
    """The function's reserved concurrency; None when unreserved (or there is no such function)."""
    answer = unless_missing(lambda: run.client("lambda").get_function_concurrency(FunctionName=name))
    return (answer or {}).get("ReservedConcurrentExecutions")


def concurrency_label(name: str) -> str:
    return f"{name} reserved concurrency"


def ensure_concurrency(
    run: Provisioner, name: str, reserved: int | None, *, new_function: bool = False
) -> ResourceResult:
    """Reserve ``reserved`` concurrent executions for the function, or none when ``reserved`` is None.

    A function this run creates (``new_function``; in a dry run, one it would create) gets its
    concurrency with it: reported as created, since there was none to leave unchanged.
    """
    shown = str(reserved or "unreserved")
    current = None if new_function else reserved_concurrency(run, name)
    if current == reserved and not new_function:
        return ResourceResult("lambda concurrency", concurrency_label(name), "unchanged", shown)
    if not run.dry_run and current != reserved:
        lambda_ = run.client("lambda")
        if reserved is None:
            lambda_.delete_function_concurrency(FunctionName=name)
        else:
            lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    action = "created" if new_function else "updated"
    return ResourceResult("lambda concurrency", concurrency_label(name), run.did(action), shown)


@dataclass(frozen=True)
class AsyncInvocation:
    """How Lambda retries an event sent asynchronously (as EventBridge sends them), and where an event
    goes when its retries run out or it grew too old (``on_failure_arn``; without one it is dropped)."""

    max_retry_attempts: int
    max_event_age_s: int
    on_failure_arn: str | None = None

    def configuration(self) -> dict[str, Any]:
        """The settings compared with GetFunctionEventInvokeConfig's answer and sent on put."""
        destination = {"OnFailure": {"Destination": self.on_failure_arn}} if self.on_failure_arn else {}
        return {
            "MaximumRetryAttempts": self.max_retry_attempts,
            "MaximumEventAgeInSeconds": self.max_event_age_s,
            "DestinationConfig": destination,
        }

    def describe(self) -> str:
        where = f"failures to {self.on_failure_arn}" if self.on_failure_arn else "failures dropped"
        return f"{self.max_retry_attempts} retries, events up to {self.max_event_age_s} s old, {where}"


def async_invocation(run: Provisioner, name: str) -> AsyncInvocation | None:
    """The function's asynchronous invocation settings, None when none were set (or no function)."""
    answer = unless_missing(lambda: run.client("lambda").get_function_event_invoke_config(FunctionName=name))
    if answer is None:
        return None
    return AsyncInvocation(
        int(answer.get("MaximumRetryAttempts", 2)),
        int(answer.get("MaximumEventAgeInSeconds", 21600)),
        answer.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
    )


def async_invocation_label(name: str) -> str:
    return f"{name} async invocation"


def ensure_async_invocation(run: Provisioner, name: str, wanted: AsyncInvocation) -> ResourceResult:
    """Set the function's retries, event age and on-failure destination to ``wanted``."""
    current = async_invocation(run, name)
    label, detail = async_invocation_label(name), wanted.describe()
    if current == wanted:
        return ResourceResult("lambda async config", label, "unchanged", detail)
    if not run.dry_run:
        # Put replaces the whole configuration: a setting not given returns to Lambda's default.
        run.client("lambda").put_function_event_invoke_config(FunctionName=name, **wanted.configuration())
    action = "created" if current is None else "updated"
    return ResourceResult("lambda async config", label, run.did(action), detail)


def describe_async_invocation(run: Provisioner, name: str) -> ResourceResult:
    current = async_invocation(run, name)
    if current is None:
        return ResourceResult("lambda async config", async_invocation_label(name), "missing")
    return ResourceResult("lambda async config", async_invocation_label(name), "present", current.describe())


def permission_source(run: Provisioner, name: str, sid: str) -> str | None:
    """The source ARN the statement ``sid`` of the function's policy names ("" for none); None without it."""
    policy = unless_missing(lambda: run.client("lambda").get_policy(FunctionName=name)["Policy"])
    statements = json.loads(policy)["Statement"] if policy else []
    mine = [statement for statement in statements if statement.get("Sid") == sid]
    return mine[0].get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "") if mine else None


def ensure_permission(
    run: Provisioner, name: str, sid: str, principal: str, source_arn: str
) -> ResourceResult:
    """Let ``principal`` invoke the function, from ``source_arn`` only (statement ``sid``)."""
    detail = f"{principal} may invoke"
    source = permission_source(run, name, sid)
    if source == source_arn:
        return ResourceResult("lambda permission", sid, "unchanged", detail)
    if not run.dry_run:
        lambda_ = run.client("lambda")
        if source is not None:
            lambda_.remove_permission(FunctionName=name, StatementId=sid)
        lambda_.add_permission(
            FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction", Principal=principal,
            SourceArn=source_arn,
        )
    action = "created" if source is None else "updated"
    return ResourceResult("lambda permission", sid, run.did(action), detail)


def describe_permission(run: Provisioner, name: str, sid: str) -> ResourceResult:
    source = permission_source(run, name, sid)
    if source is None:
        return ResourceResult("lambda permission", sid, "missing")
    return ResourceResult("lambda permission", sid, "present", f"invoked from {source}")


def remove_function(run: Provisioner, name: str, exists: bool) -> ResourceResult:
    """Delete the function (with its concurrency and permissions) when ``exists``."""
    if exists and not run.dry_run:
        run.client("lambda").delete_function(FunctionName=name)
    return ResourceResult("lambda function", name, run.did("deleted") if exists else "missing")
