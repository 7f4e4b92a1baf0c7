"""The Braket API's wire protocol, read from botocore's own service model.

Routing (method + requestUri template), request parsing (URI, querystring and JSON body members),
validation against the input shape and serialization of the output shape all follow the model that
boto3 and the Braket SDK use, so the emulator accepts exactly what they send and rejects what the
real service would reject, with the same error codes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qs

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from covalent_braket_plugin.local.braket_api.errors import BraketError, validation

_TEMPLATE_PARAM = re.compile(r"\{([^}+]+)\+?\}")


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("braket")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: OperationModel


def _build_routes(model: ServiceModel) -> list[Route]:
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        template = operation.http["requestUri"].split("?")[0]
        # ARNs hold slashes and colons; a parameter takes the longest match that leaves the rest of
        # the template (e.g. "/cancel") intact, which the method and literal suffix make unambiguous.
        pattern = "".join(
            f"(?P<{part}>.+)" if i % 2 else re.escape(part)
            for i, part in enumerate(_TEMPLATE_PARAM.split(template))
        )
        routes.append(Route(operation.http["method"], re.compile(f"^{pattern}$", re.S), operation))
    return routes


@lru_cache(maxsize=1)
def routes() -> tuple[Route, ...]:
    return tuple(_build_routes(service_model()))


def match_route(method: str, path: str) -> tuple[OperationModel, dict[str, str]]:
    """The operation a request is for and its URI parameters (already URL-decoded)."""
    allowed = False
    for route in routes():
        found = route.pattern.match(path)
        if not found:
            continue
        if route.method == method:
            return route.operation, found.groupdict()
        allowed = True
    if allowed:
        raise BraketError("ValidationException", f"Method {method} is not allowed on {path}")
    raise BraketError("ResourceNotFoundException", f"No Braket API operation at {method} {path}")


def error_status(code: str) -> int:
    """HTTP status of an error code, from the model's error shape (400 for codes it does not define)."""
    try:
        return int(service_model().shape_for(code).metadata["error"]["httpStatusCode"])
    except Exception:
        return 400


def parse_request(
    operation: OperationModel, uri_params: dict[str, str], query: str, body: bytes
) -> dict[str, Any]:
    """Collect the input members from URI, querystring and body and validate them against the model."""
    shape = operation.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    query_values = parse_qs(query, keep_blank_values=True)
    body_members = {n: m for n, m in shape.members.items() if m.serialization.get("location") is None}
    if body_members and body.strip():
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BraketError("ValidationException", f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise validation("The request body must be a JSON object")
        params.update({k: v for k, v in document.items() if k in body_members})
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in uri_params:
            params[name] = uri_params[wire_name]
        elif location == "querystring" and wire_name in query_values:
            values = query_values[wire_name]
            params[name] = values if member.type_name == "list" else _query_scalar(member, wire_name, values)
    errors: list[str] = []
    _validate(shape, params, "", errors)
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise validation(f"{count} validation {noun} detected: " + "; ".join(errors[:10]))
    return _decode(shape, params)


def _query_scalar(member: Shape, wire_name: str, values: list[str]) -> Any:
    value = values[-1]
    if member.type_name in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            raise validation(f"Value '{value}' at '{wire_name}' must be an integer") from None
    return value


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


Validator = Callable[[Shape, Any, str, list[str]], None]
"""Appends to the list a message per constraint of the shape that the value at the path breaks."""


def _validate(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    """Append a message per constraint of ``shape`` that ``value`` breaks (AWS message wording)."""
    _VALIDATORS[shape.type_name](shape, value, path, errors)


def _at(path: str) -> str:
    """How messages name a location: the top-level structure is the request itself."""
    return path or "request"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _wrong_type(value: Any, at: str, expected: str) -> str:
    return f"Value '{_describe(value)}' at '{at}' must be {expected}"


def _null(at: str) -> str:
    return f"Value null at '{at}' failed to satisfy constraint: Member must not be null"


def _broken(value: Any, at: str, constraint: str) -> str:
    return f"Value '{_describe(value)}' at '{at}' failed to satisfy constraint: Member must {constraint}"


def _check_size(size: int, meta: dict[str, Any], value: Any, at: str, what: str, errors: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        errors.append(_broken(value, at, f"have {what} greater than or equal to {meta['min']}"))
    if "max" in meta and size > meta["max"]:
        errors.append(_broken(value, at, f"have {what} less than or equal to {meta['max']}"))


def _member(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    """An element of a list or a value of a map, which may not be null."""
    if value is None:
        errors.append(_null(path))
    else:
        _validate(shape, value, path, errors)


def _structure(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"Value at '{_at(path)}' must be a JSON object")
        return
    errors.extend(_null(_join(path, name)) for name in shape.required_members if value.get(name) is None)
    present = [n for n in shape.members if value.get(n) is not None]
    if shape.is_tagged_union and len(present) != 1:
        errors.append(f"Value at '{_at(path)}' must set exactly one of: {', '.join(shape.members)}")
    for name in present:
        _validate(shape.members[name], value[name], _join(path, name), errors)


def _list(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    at = _at(path)
    if not isinstance(value, list):
        errors.append(_wrong_type(value, at, "a list"))
        return
    _check_size(len(value), shape.metadata, value, at, "length", errors)
    for i, item in enumerate(value):
        _member(shape.member, item, f"{at}.{i + 1}.member", errors)


def _map(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    at = _at(path)
    if not isinstance(value, dict):
        errors.append(_wrong_type(value, at, "a JSON object"))
        return
    _check_size(len(value), shape.metadata, value, at, "length", errors)
    for key, item in value.items():
        _validate(shape.key, key, f"{at}.key", errors)
        _member(shape.value, item, f"{at}.{key}", errors)


def _string(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    at, meta = _at(path), shape.metadata
    if not isinstance(value, str):
        errors.append(_wrong_type(value, at, "a string"))
        return
    _check_size(len(value), meta, value, at, "length", errors)
    if shape.enum and value not in shape.enum:
        errors.append(_broken(value, at, f"satisfy enum value set: [{', '.join(shape.enum)}]"))
    if "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
        errors.append(_broken(value, at, f"satisfy regular expression pattern: {meta['pattern']}"))
    if shape.serialization.get("jsonvalue") or getattr(shape, "name", "") == "JsonValue":
        try:
            json.loads(value)
        except ValueError:
            errors.append(_wrong_type(value, at, "a JSON document"))


def _integer(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    """integer (32 bits) and long (64 bits)."""
    at = _at(path)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(_wrong_type(value, at, "an integer"))
        return
    limit = 2**31 if shape.type_name == "integer" else 2**63
    if not -limit <= value < limit:
        errors.append(f"Value '{value}' at '{at}' is out of range for a {shape.type_name}")
        return
    _check_size(value, shape.metadata, value, at, "value", errors)


def _number(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    """float and double."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        errors.append(_wrong_type(value, _at(path), "a number"))


def _boolean(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, bool):
        errors.append(_wrong_type(value, _at(path), "a boolean"))


def _timestamp(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    try:
        parse_timestamp(value)
    except ValueError as exc:
        errors.append(f"Value '{_describe(value)}' at '{_at(path)}' is not a timestamp: {exc}")


def _blob(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    """Nothing to check: a blob reaches the backend as the base64 text it was sent as."""


_VALIDATORS: dict[str, Validator] = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "float": _number,
    "double": _number,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "blob": _blob,
}
"""One validator per type of botocore's shapes: every type a service model can give a member."""


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.S)


def parse_timestamp(value: Any) -> datetime:
    """A timestamp as botocore sends it: epoch seconds (number) or an ISO 8601 / RFC 3339 string."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(str(exc)) from None
    if not isinstance(value, str):
        raise ValueError("expected a number of seconds or an ISO 8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected an RFC 3339 date-time such as 2024-01-31T12:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _decode(shape: Shape, value: Any) -> Any:
    """Validated input with timestamps turned into aware datetimes."""
    kind = shape.type_name
    if kind == "structure":
        return {
            k: _decode(shape.members[k], v) for k, v in value.items() if k in shape.members and v is not None
        }
    if kind == "list":
        return [_decode(shape.member, v) for v in value]
    if kind == "map":
        return {k: _decode(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return parse_timestamp(value)
    return value


def serialize_output(operation: OperationModel, result: dict[str, Any]) -> bytes:
    shape = operation.output_shape
    document = _encode(shape, result) if shape is not None else {}
    return json.dumps(document).encode()


def _encode(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _encode(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if kind == "list":
        return [_encode(shape.member, v) for v in value]
    if kind == "map":
        return {k: _encode(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        moment = value if isinstance(value, datetime) else parse_timestamp(value)
        if (
            shape.serialization.get("timestampFormat", shape.metadata.get("timestampFormat"))
            == "unixTimestamp"
        ):
            return moment.timestamp()
        return format_timestamp(moment)
    if kind == "string" and not isinstance(value, str):
        return json.dumps(value)
    return value


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, the form AWS uses in JSON bodies and events."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )
