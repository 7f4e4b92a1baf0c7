"""The stack's one HTTP endpoint: route each request to the Braket emulator, the ECR overrides,
the admin API or moto's server, by the service the request was signed for."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
ADMIN_PREFIX = "/_local/"


def signing_service(environ: dict[str, Any]) -> str | None:
    """The service name in the SigV4 credential scope of the request, if it is signed.

    The scope, not the path or the host, is what tells services apart on one endpoint: boto3 signs
    every request with its service's signing name, while paths overlap (Braket's ``/job/...`` and
    S3's ``/<bucket>/...``) and the host is the same for all.
    """
    match = _scope(environ)
    return match.group("service") if match else None


def signing_region(environ: dict[str, Any]) -> str | None:
    """The region in the SigV4 credential scope of the request, if it is signed."""
    match = _scope(environ)
    return match.group("region") if match else None


def _scope(environ: dict[str, Any]) -> re.Match[str] | None:
    return _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))


class Gateway:
    """WSGI application that dispatches to the parts of the stack.

    ``routes`` maps a signing service name (``"braket"``, ``"ecr"``) to the application that serves
    it; ``admin`` serves ``/_local/...``; everything else goes to ``fallback`` (moto's server app).
    """

    def __init__(self, routes: dict[str, WSGIApp], admin: WSGIApp, fallback: WSGIApp) -> None:
        self._routes = routes
        self._admin = admin
        self._fallback = fallback

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(ADMIN_PREFIX):
            return self._admin(environ, start_response)
        app = self._routes.get(signing_service(environ) or "", self._fallback)
        return app(environ, start_response)


class OneAtATime:
    """Serve the wrapped application's requests one at a time.

    moto's DynamoDB applies ``ADD`` updates without a lock and rolls a failed transaction back by
    restoring a snapshot of the whole table, so concurrent requests lose writes that real DynamoDB
    keeps. Serializing them gives clients the isolation they rely on (the cost guard's ledger).
    """

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))
