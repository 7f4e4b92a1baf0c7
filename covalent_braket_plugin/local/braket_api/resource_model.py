"""What every resource model of the Braket backend shares.

The backend is composed of one model per resource (devices, quantum tasks, spending limits, hybrid
jobs, tags), each a mixin over ``ResourceModel``: one lock over all records, because an operation on
one resource reads or moves others (a quantum task counts in its device's spending limit, CancelJob
cancels the job's waiting tasks), one creation clock, so that creation order is createdAt order in
every resource, and one table of client tokens, so a retried Create* answers with the first ARN.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from covalent_braket_plugin.local.braket_api.record_search import Records
from covalent_braket_plugin.local.braket_api.state_changes import EventPublisher
from covalent_braket_plugin.local.services import ACCOUNT_ID, DEFAULT_REGION, LocalServices


def now() -> datetime:
    return datetime.now(UTC)


class ResourceModel:
    """The state the resource models share, made once by the composed backend's ``__init__``.

    Each resource model's own ``__init__`` sets up its records only, as moto's EC2 models do, and
    adds those of them that can carry tags to ``taggable``.
    """

    def __init__(self, services: LocalServices | None) -> None:
        self.services = services
        self.account_id = services.account_id if services else ACCOUNT_ID
        self.default_region = services.region if services else DEFAULT_REGION
        self.events = EventPublisher(services)
        self.taggable: list[Records] = []
        self._lock = threading.RLock()
        self._client_tokens: dict[tuple[str, str], str] = {}
        self._last_created = datetime.min.replace(tzinfo=UTC)

    def _created_at(self) -> datetime:
        """Now, but never before the previous record: creation order is createdAt order."""
        moment = max(now(), self._last_created)
        self._last_created = moment
        return moment

    def _arn(self, region: str, kind: str) -> str:
        return f"arn:aws:braket:{region}:{self.account_id}:{kind}/{uuid.uuid4()}"

    def _created_for(self, kind: str, client_token: str) -> str | None:
        """The ARN an earlier Create* of ``kind`` with this client token made, if any."""
        with self._lock:
            return self._client_tokens.get((kind, client_token))

    def _remember_token(self, kind: str, client_token: str, arn: str) -> None:
        self._client_tokens[(kind, client_token)] = arn
