"""The stack's one HTTP endpoint: let in only requests for the stack's address signed with a key it
accepts (or unsigned reads of the objects it made public and of its price list), then route each to
the Braket emulator, the ECR overrides, the admin API or moto's server, by the service the request
was signed for."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Response

from covalent_braket_plugin.local.auth import Verifier, error_response
from covalent_braket_plugin.local.hosts import AllowedHosts
from covalent_braket_plugin.local.price_list import PriceList
from covalent_braket_plugin.local.public_objects import PublicObjects

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
ADMIN_PREFIX = "/_local/"


def signing_service(environ: dict[str, Any]) -> str | None:
    """The service name in the SigV4 credential scope of the request (its Authorization header or,
    for a presigned URL, its X-Amz-Credential), if it is signed.

    The scope, not the path or the host, is what tells services apart on one endpoint: boto3 signs
    every request with its service's signing name, while paths overlap (Braket's ``/job/...`` and
    S3's ``/<bucket>/...``) and the host is the same for all.
    """
    match = _scope(environ)
    if match:
        return match.group("service")
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    return "s3" if {"AWSAccessKeyId", "Signature"} <= set(query) else None  # SigV2 survives in S3's URLs only


def signing_region(environ: dict[str, Any]) -> str | None:
    """The region in the SigV4 credential scope of the request, if it is signed."""
    match = _scope(environ)
    return match.group("region") if match else None


def _scope(environ: dict[str, Any]) -> re.Match[str] | None:
    if match := _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")):
        return match
    credential = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential")
    return _SCOPE.search(f"Credential={credential}") if credential else None


class Gateway:
    """WSGI application that checks who asks, then dispatches to the parts of the stack.

    A request whose Host is not one of ``hosts`` gets HTTP 421 Misdirected Request (HTTP's answer
    for "this server does not serve that host"; AWS's front doors refuse such requests before any
    service sees them, so no service's error format applies). One not signed by a key ``verifier``
    accepts gets AWS's error for that, in the format of the service it was signed for. The admin API
    is no exception: it changes faults and lists every job. The exceptions are requests with no
    signature at all that read an object of ``public``, as anyone may read a public S3 object, or
    ``price_list``, as anyone may read AWS's price list (the Braket SDK's Tracker reads it unsigned);
    one signed badly is refused even there, as S3 checks every signature it is given.

    ``routes`` maps a signing service name (``"braket"``, ``"ecr"``) to the application that serves
    it; ``admin`` serves ``/_local/...``; everything else goes to ``fallback`` (moto's server app).
    """

    def __init__(
        self,
        routes: dict[str, WSGIApp],
        admin: WSGIApp,
        fallback: WSGIApp,
        hosts: AllowedHosts,
        verifier: Verifier,
        public: PublicObjects | None = None,
        price_list: PriceList | None = None,
    ) -> None:
        self._routes = routes
        self._admin = admin
        self._fallback = fallback
        self._hosts = hosts
        self._verifier = verifier
        self._public = public or PublicObjects()
        self._price_list = price_list

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "")
        if host not in self._hosts:
            served = f"{', '.join(sorted(self._hosts.names))} on port {self._hosts.port}"
            message = json.dumps({"message": f"this endpoint serves {served}, not Host {host!r}"})
            refusal = Response(message, status=421, content_type="application/json")
            return refusal(environ, start_response)
        failure = self._verifier.check(environ)
        unsigned = failure is not None and failure.kind == "missing"
        if unsigned and self._price_list is not None and self._price_list.serves(environ):
            return self._price_list(environ, start_response)
        if failure and not (unsigned and self._public.readable(environ)):
            return error_response(failure, signing_service(environ))(environ, start_response)
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
