"""How the commands that create AWS resources tell "already there and the same" from "to be written",
and how they report what they did.

``setup`` and ``guard deploy`` both create-or-update resources and report created / updated /
unchanged; they compare policy documents and recognise "not found" answers the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class ResourceResult:
    """One resource and what happened to it (created, updated, unchanged, would create, ...)."""

    kind: str
    name: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f"  ({self.detail})" if self.detail else ""
        return f"{self.kind:<18} {self.name:<60} {self.action}{detail}"


_NOT_FOUND_CODES = frozenset({
    "ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException",
    "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",  # SQS, JSON and query wording
})


def same_document(left: Any, right: Any) -> bool:
    """True when two JSON documents (objects or their text, as IAM and ECR return them) are equal."""

    def load(document: Any) -> Any:
        return json.loads(document) if isinstance(document, str) else document

    return json.dumps(load(left), sort_keys=True) == json.dumps(load(right), sort_keys=True)


def not_found(error: ClientError) -> bool:
    """True when the error says the resource does not exist (IAM, Lambda, ECR, EventBridge, SQS wording)."""
    return error.response.get("Error", {}).get("Code") in _NOT_FOUND_CODES
