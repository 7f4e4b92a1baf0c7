"""Records in creation order and the Search* operations over them: filters, pages and next tokens.

Every searchable resource (devices, quantum tasks, hybrid jobs, spending limits) keeps its records
in ``Records``, whose creation order is createdAt order, so a page is a slice of positions: stable
while records are added, and narrowed by bisection when a filter bounds createdAt. A next token
names the position to resume at and the resource and filters it was made for, so it cannot resume
another search.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
from collections.abc import Callable
from typing import Any

from covalent_braket_plugin.local.braket_api.errors import not_found, validation
from covalent_braket_plugin.local.braket_api.protocol import parse_timestamp

DEFAULT_MAX_RESULTS = 100

Record = dict[str, Any]


class Records:
    """Records kept in creation order (createdAt never decreases), for stable, fast paging.

    ``noun`` names the resource in errors ("Quantum task"), and binds next tokens to it.
    """

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.by_arn: dict[str, Record] = {}
        self.order: list[str] = []
        self.times: list[float] = []

    def add(self, arn: str, record: Record) -> None:
        self.by_arn[arn] = record
        self.order.append(arn)
        self.times.append(record["createdAt"].timestamp())

    def existing(self, arn: str) -> Record:
        """The record of ``arn``; ResourceNotFoundException if there is none."""
        record = self.by_arn.get(arn)
        if record is None:
            raise not_found(f"{self.noun} {arn} not found")
        return record

    def live(self, position: int) -> Record | None:
        """The record at ``position``, or None if it was deleted since."""
        return self.by_arn.get(self.order[position])


class SearchFilter:
    """One search filter: EQUAL (any of the values), LT/LTE/GT/GTE (one value), BETWEEN (two), CONTAINS."""

    def __init__(
        self,
        raw: dict[str, Any],
        fields: dict[str, Callable[[Record], Any]],
        time_fields: frozenset[str],
    ) -> None:
        self.name = raw["name"]
        self.operator = raw.get("operator", "EQUAL")
        if self.name not in fields:
            raise validation(f"Unsupported filter name '{self.name}'; use one of: {', '.join(fields)}")
        self.get = fields[self.name]
        self.is_time = self.name in time_fields
        values = list(raw["values"])
        expected = {"BETWEEN": 2, "LT": 1, "LTE": 1, "GT": 1, "GTE": 1}.get(self.operator)
        if expected is not None and len(values) != expected:
            raise validation(
                f"Filter '{self.name}' with operator {self.operator} takes exactly {expected} "
                f"value(s), got {len(values)}"
            )
        if self.is_time:
            try:
                self.values: list[Any] = [parse_timestamp(v) for v in values]
            except ValueError:
                raise validation(
                    f"Filter '{self.name}' values must be RFC 3339 date-times such as "
                    f"2024-01-31T12:00:00Z, got {values}"
                ) from None
            if self.operator == "CONTAINS":
                raise validation(f"Operator CONTAINS does not apply to '{self.name}'")
        else:
            self.values = values
        if self.operator == "BETWEEN" and self.values[0] > self.values[1]:
            raise validation(f"Filter '{self.name}' BETWEEN needs the lower bound first")

    def time_range(self) -> tuple[float, float, bool, bool]:
        """(low, high, low inclusive, high inclusive) this time filter allows."""
        ts = [v.timestamp() for v in self.values]
        op = self.operator
        if op == "BETWEEN":
            return ts[0], ts[1], True, True
        if op == "EQUAL":
            return min(ts), max(ts), True, True
        if op in ("GT", "GTE"):
            return ts[0], float("inf"), op == "GTE", True
        return float("-inf"), ts[0], True, op == "LTE"

    def __call__(self, record: Record) -> bool:
        value = self.get(record)
        if value is None:
            return False
        op, values = self.operator, self.values
        if op == "EQUAL":
            return value in values
        if op == "CONTAINS":
            return any(v in value for v in values)
        if op == "BETWEEN":
            return values[0] <= value <= values[1]
        bound = values[0]
        return {"LT": value < bound, "LTE": value <= bound, "GT": value > bound, "GTE": value >= bound}[op]


def filters_of(
    params: dict[str, Any],
    fields: dict[str, Callable[[Record], Any]],
    time_fields: frozenset[str] = frozenset(),
) -> list[SearchFilter]:
    """The request's ``filters``, each checked against the fields the resource can be searched by."""
    return [SearchFilter(raw, fields, time_fields) for raw in params.get("filters", [])]


def search_page(
    records: Records,
    filters: list[SearchFilter],
    params: dict[str, Any],
    summary: Callable[[Record], Record],
) -> tuple[list[Record], str | None]:
    """One page of the records ``filters`` match, as summaries, and the token of the next page."""
    limit = params.get("maxResults", DEFAULT_MAX_RESULTS)
    fingerprint = hashlib.sha256(
        json.dumps([records.noun, params.get("filters", [])], sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    start = _decode_token(params.get("nextToken"), fingerprint)
    low, high = 0, len(records.order)
    for f in filters:
        if f.is_time and f.name == "createdAt":
            lo_t, hi_t, lo_inc, hi_inc = f.time_range()
            low = max(low, (bisect.bisect_left if lo_inc else bisect.bisect_right)(records.times, lo_t))
            high = min(high, (bisect.bisect_right if hi_inc else bisect.bisect_left)(records.times, hi_t))
    items: list[Record] = []
    position = max(start, low)
    while position < high:
        record = records.live(position)
        if record is not None and all(f(record) for f in filters):
            if len(items) == limit:
                return items, _encode_token(position, fingerprint)
            items.append(summary(record))
        position += 1
    return items, None


def _encode_token(position: int, fingerprint: str) -> str:
    raw = json.dumps({"p": position, "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str | None, fingerprint: str) -> int:
    if token is None:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        position = data["p"]
        if data["f"] != fingerprint or not isinstance(position, int) or position < 0:
            raise ValueError
        return position
    except Exception:
        raise validation(
            "The nextToken is not valid for this request; repeat the request with the "
            "same filters and the token the previous page returned"
        ) from None
