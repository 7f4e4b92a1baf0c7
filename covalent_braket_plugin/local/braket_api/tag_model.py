"""Tags of Braket resources: ListTagsForResource, TagResource and UntagResource.

Tags are kept on the records themselves, as their Create* requests set them, so a resource's
summary in a search carries its current tags; this model reaches the records through the
``taggable`` collections the other resource models registered.
"""

from __future__ import annotations

from typing import Any

from covalent_braket_plugin.local.braket_api.errors import not_found, validation
from covalent_braket_plugin.local.braket_api.record_search import Record
from covalent_braket_plugin.local.braket_api.resource_model import ResourceModel


class TagModel(ResourceModel):
    """The tag operations, over every resource that carries tags."""

    def _tagged(self, arn: str) -> Record:
        if not arn.startswith("arn:aws") or ":braket:" not in arn:
            raise validation(f"{arn} is not a Braket resource ARN")
        for records in self.taggable:
            record = records.by_arn.get(arn)
            if record is not None:
                return record
        raise not_found(f"Resource {arn} not found")

    def list_tags_for_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            return {"tags": dict(self._tagged(params["resourceArn"]).get("tags") or {})}

    def tag_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            record = self._tagged(params["resourceArn"])
            record["tags"] = {**(record.get("tags") or {}), **params["tags"]}
        return {}

    def untag_resource(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            record = self._tagged(params["resourceArn"])
            record["tags"] = {
                k: v for k, v in (record.get("tags") or {}).items() if k not in params["tagKeys"]
            }
        return {}
