"""IAM roles with one inline policy: ensure, describe, remove.

The job role of ``setup`` and the guard's function role are both "a role this service may assume,
with exactly this inline policy". Policies attached by someone else are left as they are and said
in the report; IAM cannot move a role to another path, so a role found elsewhere is said too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from covalent_braket_plugin.provisioning.engine import Provisioner, unless_missing
from covalent_braket_plugin.provisioning.resources import ResourceResult, same_document


@dataclass(frozen=True)
class Role:
    """A role as it should be: who may assume it (``trust``) and its one inline policy."""

    name: str
    trust: dict[str, Any]
    policy_name: str
    policy: dict[str, Any]
    description: str
    path: str = "/"


@dataclass(frozen=True)
class RoleOutcome:
    """What :func:`ensure_role` found and did; actions are plain (``created``), before ``did``."""

    arn: str
    role_action: str
    policy_action: str
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        """The role and its policy as one resource: created, updated (anything changed) or unchanged."""
        if self.role_action == "created":
            return "created"
        return "updated" if self.changes else "unchanged"


def role_arn(run: Provisioner, name: str, path: str = "/") -> str:
    return run.arn("iam", f"role{path}{name}", regional=False)


def ensure_role(run: Provisioner, role: Role) -> RoleOutcome:
    """Create the role or bring its trust and inline policy to ``role``; other policies stay."""
    iam = run.client("iam")
    current = unless_missing(lambda: iam.get_role(RoleName=role.name)["Role"])
    if current is None:
        if not run.dry_run:
            iam.create_role(
                RoleName=role.name, Path=role.path, AssumeRolePolicyDocument=json.dumps(role.trust),
                Description=role.description,
            )
            _put_policy(iam, role)
        return RoleOutcome(role_arn(run, role.name, role.path), "created", "created")
    changes: list[str] = []
    if not same_document(current["AssumeRolePolicyDocument"], role.trust):
        changes.append("trust policy")
        if not run.dry_run:
            iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=json.dumps(role.trust))
    role_action = "updated" if changes else "unchanged"
    policy = unless_missing(
        lambda: iam.get_role_policy(RoleName=role.name, PolicyName=role.policy_name)["PolicyDocument"]
    )
    policy_action = "created" if policy is None else "unchanged" if same_document(policy, role.policy) \
        else "updated"
    if policy_action != "unchanged":
        changes.append(f"inline policy {role.policy_name}")
        if not run.dry_run:
            _put_policy(iam, role)
    notes = []
    attached = [policy["PolicyName"] for policy in
                iam.list_attached_role_policies(RoleName=role.name)["AttachedPolicies"]]
    if attached:
        notes.append(f"also attached, left as they are: {', '.join(attached)}")
    if current.get("Path", "/") != role.path:
        notes.append(f"its path is {current.get('Path')} (IAM cannot move a role)")
    return RoleOutcome(current["Arn"], role_action, policy_action, changes, notes)


def _put_policy(iam: Any, role: Role) -> None:
    iam.put_role_policy(
        RoleName=role.name, PolicyName=role.policy_name, PolicyDocument=json.dumps(role.policy)
    )


def role_path(run: Provisioner, name: str) -> str | None:
    """The path of the role ``name``, None when there is no such role."""
    role = unless_missing(lambda: run.client("iam").get_role(RoleName=name)["Role"])
    return None if role is None else str(role.get("Path", "/"))


def describe_role(run: Provisioner, name: str, policy_name: str) -> list[ResourceResult]:
    """The role and its inline policy, ``present`` or ``missing``."""
    iam = run.client("iam")
    role = unless_missing(lambda: iam.get_role(RoleName=name)["Role"])
    if role is None:
        return [ResourceResult("iam role", name, "missing")]
    present = policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]
    return [
        ResourceResult("iam role", name, "present", role["Arn"]),
        ResourceResult("iam policy", policy_name, "present" if present else "missing"),
    ]


def remove_role(run: Provisioner, name: str) -> ResourceResult:
    """Delete the role and its inline policies (IAM refuses to delete a role that still has them)."""
    iam = run.client("iam")
    policies = unless_missing(lambda: iam.list_role_policies(RoleName=name)["PolicyNames"])
    if policies is None:
        return ResourceResult("iam role", name, "missing")
    if not run.dry_run:
        for policy in policies:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)
    return ResourceResult("iam role", name, run.did("deleted"))
