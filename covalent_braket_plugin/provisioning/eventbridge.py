"""EventBridge rules on the default bus with one target."""

from __future__ import annotations

import json
from typing import Any

from covalent_braket_plugin.provisioning.engine import Provisioner, unless_missing
from covalent_braket_plugin.provisioning.resources import ResourceResult, same_document


def ensure_rule(
    run: Provisioner, name: str, pattern: dict[str, Any], description: str, detail: str
) -> tuple[str, ResourceResult]:
    """Create the rule, or enable it and bring its pattern to ``pattern``; returns its ARN."""
    events = run.client("events")
    rule = unless_missing(lambda: events.describe_rule(Name=name))
    if rule is None:
        rule_arn, action = run.arn("events", f"rule/{name}"), "created"
    else:
        same = rule.get("State") == "ENABLED" and same_document(rule.get("EventPattern", "{}"), pattern)
        rule_arn, action = rule["Arn"], "unchanged" if same else "updated"
    if action != "unchanged" and not run.dry_run:
        rule_arn = events.put_rule(
            Name=name, EventPattern=json.dumps(pattern), State="ENABLED", Description=description
        )["RuleArn"]
    return rule_arn, ResourceResult("eventbridge rule", name, run.did(action), detail)


def rule_targets(run: Provisioner, name: str) -> list[dict[str, Any]] | None:
    """The rule's targets; None when there is no such rule."""
    return unless_missing(lambda: run.client("events").list_targets_by_rule(Rule=name)["Targets"])


def ensure_target(run: Provisioner, rule: str, target_id: str, target_arn: str) -> ResourceResult:
    """Make ``target_arn`` (as ``target_id``) the rule's one target."""
    targets = rule_targets(run, rule) or []
    label = f"{rule} -> {target_id}"
    if [(t["Id"], t["Arn"]) for t in targets] == [(target_id, target_arn)]:
        return ResourceResult("eventbridge target", label, "unchanged")
    if not run.dry_run:
        events = run.client("events")
        stale = [t["Id"] for t in targets if (t["Id"], t["Arn"]) != (target_id, target_arn)]
        if stale:
            events.remove_targets(Rule=rule, Ids=stale)
        events.put_targets(Rule=rule, Targets=[{"Id": target_id, "Arn": target_arn}])
    return ResourceResult("eventbridge target", label, run.did("updated" if targets else "created"))


def describe_rule(run: Provisioner, name: str) -> ResourceResult:
    rule = unless_missing(lambda: run.client("events").describe_rule(Name=name))
    if rule is None:
        return ResourceResult("eventbridge rule", name, "missing")
    targets = [target["Arn"] for target in rule_targets(run, name) or []]
    return ResourceResult("eventbridge rule", name, "present", f"{rule.get('State')}, targets {targets}")


def remove_rule(run: Provisioner, name: str) -> ResourceResult:
    """Delete the rule and its targets (EventBridge refuses to delete a rule that has targets)."""
    targets = rule_targets(run, name)
    if targets is None:
        return ResourceResult("eventbridge rule", name, "missing")
    if not run.dry_run:
        events = run.client("events")
        if targets:
            events.remove_targets(Rule=name, Ids=[target["Id"] for target in targets])
        events.delete_rule(Name=name)
    return ResourceResult("eventbridge rule", name, run.did("deleted"))
