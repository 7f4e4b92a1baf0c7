"""The Braket API as a WSGI application: HTTP in, ``BraketBackend`` call, AWS rest-json out.

Every answer is either the operation's output shape with the model's status code or an AWS error
(``x-amzn-ErrorType`` header, ``{"message": ...}`` body) that botocore turns into ``ClientError``
with the right code. Anything unexpected becomes InternalServiceException JSON, never a traceback.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from botocore import xform_name

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.errors import BraketError
from covalent_braket_plugin.local.braket_api.protocol import (
    error_status,
    match_route,
    parse_request,
    serialize_output,
)
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.gateway import signing_region

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _respond(
    start_response: Callable[..., Any], status: int, body: bytes, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        *(extra or []),
    ]
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
    return [body]


_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    424: "Failed Dependency",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def error_response(start_response: Callable[..., Any], error: BraketError) -> list[bytes]:
    body = json.dumps({"message": error.message, **error.extra}).encode()
    return _respond(start_response, error_status(error.code), body, [("x-amzn-ErrorType", error.code)])


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BraketError("ValidationException", "Content-Length is not a number") from None
    if not length and environ.get("wsgi.input_terminated"):  # chunked: read to the end, within bounds
        body = stream.read(MAX_BODY + 1)
        length = len(body)
    elif length > MAX_BODY:
        body = b""
    else:
        body = stream.read(length) if length > 0 else b""
    if length > MAX_BODY:
        raise BraketError("ValidationException", f"The request body is larger than {MAX_BODY} bytes")
    return body


def _path(environ: dict[str, Any]) -> str:
    """PATH_INFO as text: WSGI hands over the URL-decoded bytes as latin-1; ARNs are UTF-8."""
    raw = environ.get("PATH_INFO", "") or "/"
    try:
        return raw.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:
        return raw


def make_braket_app(backend: BraketBackend, faults: Faults) -> WSGIApp:
    """The WSGI application of the Braket API, with the stack's fault injection applied first."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            body = _read_body(environ)  # read first, so a keep-alive connection stays in step on errors
            latency = faults.settings.latency_ms
            if latency:
                time.sleep(latency / 1000)
            fault = faults.draw()
            if fault == "throttle":
                raise BraketError("ThrottlingException", "Rate exceeded (injected by the local stack)")
            if fault == "error":
                raise BraketError(
                    "InternalServiceException", "Internal failure (injected by the local stack)"
                )
            method = environ.get("REQUEST_METHOD", "GET").upper()
            operation, uri_params = match_route(method, _path(environ))
            params = parse_request(operation, uri_params, environ.get("QUERY_STRING", ""), body)
            region = signing_region(environ) or backend.default_region
            result = getattr(backend, xform_name(operation.name))(params, region)
            payload = serialize_output(operation, result)
            return _respond(start_response, int(operation.http.get("responseCode", 200)), payload)
        except BraketError as exc:
            return error_response(start_response, exc)
        except Exception:
            log.exception("Braket API request failed")
            return error_response(
                start_response,
                BraketError("InternalServiceException", "An internal error occurred; try again."),
            )

    return app
