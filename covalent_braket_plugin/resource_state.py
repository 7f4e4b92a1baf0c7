"""How the commands that create AWS resources tell "already there and the same" from "to be written".

``setup`` and ``guard deploy`` both create-or-update resources and report created / updated /
unchanged; they compare policy documents and recognise "not found" answers the same way.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

_NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException"})


def same_document(left: Any, right: Any) -> bool:
    """True when two JSON documents (objects or their text, as IAM and ECR return them) are equal."""

    def load(document: Any) -> Any:
        return json.loads(document) if isinstance(document, str) else document

    return json.dumps(load(left), sort_keys=True) == json.dumps(load(right), sort_keys=True)


def not_found(error: ClientError) -> bool:
    """True when the error says the resource does not exist (IAM, Lambda, ECR, EventBridge wording)."""
    return error.response.get("Error", {}).get("Code") in _NOT_FOUND_CODES
