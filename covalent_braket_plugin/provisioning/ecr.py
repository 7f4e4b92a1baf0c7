"""ECR repositories with a lifecycle policy that keeps storage small."""

from __future__ import annotations

import json
from typing import Any

from covalent_braket_plugin.provisioning.engine import Provisioner
from covalent_braket_plugin.provisioning.resources import ResourceResult, same_document


def lifecycle_policy(keep_tagged: int, untagged_days: int) -> dict[str, Any]:
    """Expire untagged images ``untagged_days`` after their push, keep the newest ``keep_tagged`` tagged."""
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


def ensure_repository(run: Provisioner, name: str, keep_tagged: int, untagged_days: int) -> ResourceResult:
    """Create the repository (scan on push off) or bring its lifecycle policy up to date.

    Scan on push found on is left as it is: someone chose to pay for it.
    """
    ecr = run.client("ecr")
    wanted = lifecycle_policy(keep_tagged, untagged_days)
    try:
        repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        repository = None
    lifecycle = f"lifecycle: untagged expire after {untagged_days} d, newest {keep_tagged} tagged kept"
    if repository is None:
        if not run.dry_run:
            ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": False})
            ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(wanted))
        return ResourceResult("ecr repository", name, run.did("created"), f"scan on push off, {lifecycle}")
    try:
        current = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
        action = "unchanged" if same_document(current, wanted) else "updated"
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        action = "updated"
    if action == "updated" and not run.dry_run:
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(wanted))
    details = [lifecycle] if action == "updated" else []
    if repository.get("imageScanningConfiguration", {}).get("scanOnPush"):
        details.append("scan on push is on: left as it is")
    return ResourceResult("ecr repository", name, run.did(action), ", ".join(details))
