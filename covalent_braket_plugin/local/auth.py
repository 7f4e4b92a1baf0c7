"""SigV4 verification of every request the stack receives, with AWS's answers to bad ones.

The expected signature is computed from the request as received, with botocore's own signer
(``SigV4Auth``; ``S3SigV4Auth`` for S3, which signs the path as sent): the canonical request is
made of the method, the raw path, the raw query, the headers the client says it signed and the
payload hash, so a client signing with another key or secret, or a request changed after signing,
fails here as it would on AWS. Both forms of SigV4 are accepted: the Authorization header, and the
query string of presigned URLs (``X-Amz-Signature``); so are S3's SigV2 presigned URLs
(``AWSAccessKeyId``, ``Signature``, ``Expires``), which boto3's ``generate_presigned_url`` makes for
S3 by default and which S3 still accepts, checked with botocore's ``HmacV1Auth``.

Accepted keys are the stack's own (``StackCredentials``) and the keys its IAM and STS issued
(``iam create-access-key``, ``sts assume-role``), which are valid on AWS too.
"""

from __future__ import annotations

import hmac
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from hashlib import sha256
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import botocore.session
from botocore.auth import EMPTY_SHA256_HASH, UNSIGNED_PAYLOAD, HmacV1Auth, S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from botocore.exceptions import UnknownServiceError
from moto.iam.models import iam_backends
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_input_stream

from covalent_braket_plugin.local.credentials import StackCredentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
"""How far a signed request's time may be from the server's, as on AWS."""
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)\s*$"
)

_INVALID_TOKEN = "The security token included in the request is invalid."
_NO_KEY = "The AWS Access Key Id you provided does not exist in our records."
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
_SKEWED = "The difference between the request time and the current time is too large."
# (code, HTTP status, message) of each refusal, by the error family of the signing service's protocol.
_ERRORS: dict[str, dict[str, tuple[str, int, str]]] = {
    "json": {
        "missing": ("MissingAuthenticationTokenException", 403, "Missing Authentication Token"),
        "incomplete": ("IncompleteSignatureException", 400, "{detail}"),
        "unknown_key": ("UnrecognizedClientException", 403, _INVALID_TOKEN),
        "bad_signature": (
            "InvalidSignatureException", 403,
            _MISMATCH,
        ),
        "skewed": ("InvalidSignatureException", 403, "{detail}"),
        "expired": ("InvalidSignatureException", 403, "{detail}"),
    },
    "query": {
        "missing": ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
        "incomplete": ("IncompleteSignature", 400, "{detail}"),
        "unknown_key": ("InvalidClientTokenId", 403, _INVALID_TOKEN),
        "bad_signature": (
            "SignatureDoesNotMatch", 403,
            _MISMATCH,
        ),
        "skewed": ("SignatureDoesNotMatch", 403, "{detail}"),
        "expired": ("SignatureDoesNotMatch", 403, "{detail}"),
    },
    "s3": {
        "missing": ("AccessDenied", 403, "Access Denied"),
        "incomplete": ("AuthorizationHeaderMalformed", 400, "{detail}"),
        "unknown_key": ("InvalidAccessKeyId", 403, _NO_KEY),
        "bad_signature": (
            "SignatureDoesNotMatch", 403,
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        ),
        "skewed": ("RequestTimeTooSkewed", 403, _SKEWED),
        "expired": ("AccessDenied", 403, "{detail}"),
    },
}
"""AWS's codes and messages: "skewed" is a request signed more than 15 minutes away from the server's
time, "expired" a presigned URL past its X-Amz-Expires."""


@dataclass(frozen=True)
class AuthFailure:
    """Why a request was refused: ``kind`` is a key of the error tables, ``detail`` fills their message."""

    kind: str
    detail: str = ""


@dataclass(frozen=True)
class _Signature:
    access_key_id: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    timestamp: str
    presigned: bool
    expires_s: int | None


class Verifier:
    """Checks the SigV4 signature of WSGI requests against the keys the stack accepts."""

    def __init__(self, credentials: StackCredentials) -> None:
        self._credentials = credentials

    def check(self, environ: dict[str, Any]) -> AuthFailure | None:
        """None when the request is signed by an accepted key; else why it is refused."""
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if not environ.get("HTTP_AUTHORIZATION") and {"AWSAccessKeyId", "Signature", "Expires"} <= set(query):
            return self._check_v2_query(environ, query)
        try:
            signature = _parse(environ)
        except ValueError as exc:
            return AuthFailure("incomplete", str(exc))
        if signature is None:
            return AuthFailure("missing")
        secret = self._secret(signature.access_key_id)
        if secret is None:
            return AuthFailure("unknown_key")
        if late := _lateness(signature):
            return AuthFailure("expired" if signature.presigned else "skewed", late)
        expected = _expected_signature(environ, signature, Credentials(signature.access_key_id, secret))
        if not hmac.compare_digest(expected, signature.signature):
            return AuthFailure("bad_signature")
        return None

    def _check_v2_query(self, environ: dict[str, Any], query: dict[str, str]) -> AuthFailure | None:
        secret = self._secret(query["AWSAccessKeyId"])
        if secret is None:
            return AuthFailure("unknown_key")
        if not query["Expires"].isdigit():
            return AuthFailure("incomplete", "Expires must be a number of seconds since the epoch")
        if datetime.now(UTC).timestamp() > int(query["Expires"]):
            return AuthFailure("expired", "Request has expired")
        headers = HTTPHeaders()
        for name in ("content-md5", "content-type"):
            if (value := _header(environ, name)) is not None:
                headers[name] = value
        for key, value in environ.items():
            if key.startswith("HTTP_X_AMZ_"):
                headers[key[5:].lower().replace("_", "-")] = value
        signer = _HmacV1Query(Credentials(query["AWSAccessKeyId"], secret), query["Expires"])
        method = environ.get("REQUEST_METHOD", "GET")
        expected = signer.get_signature(method, urlsplit(_raw_uri(environ)), headers)
        if not hmac.compare_digest(expected, query["Signature"]):
            return AuthFailure("bad_signature")
        return None

    def _secret(self, access_key_id: str) -> str | None:
        if hmac.compare_digest(access_key_id, self._credentials.aws_access_key_id):
            return self._credentials.aws_secret_access_key
        return _issued_secret(access_key_id)


class _HmacV1Query(HmacV1Auth):
    """SigV2 of a presigned URL: the Expires value stands where a signed request's Date would."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._expires = expires

    def _get_date(self) -> str:
        return self._expires


def _issued_secret(access_key_id: str) -> str | None:
    """The secret of an active key the stack's IAM or STS issued (moto keeps both in IAM's backends)."""
    for account in list(iam_backends.values()):
        for backend in list(account.values()):
            key = backend.access_keys.get(access_key_id)
            if key is not None and getattr(key, "status", "Active") == "Active":
                return str(key.secret_access_key)
    return None


def _parse(environ: dict[str, Any]) -> _Signature | None:
    """The signature of the request (header or presigned query); None if unsigned, ValueError if malformed."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if authorization:
        match = _AUTHORIZATION.match(authorization)
        if not match:
            raise ValueError(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters "
                f"of {ALGORITHM}. Authorization={authorization.split(' ', 1)[0]}"
            )
        timestamp = environ.get("HTTP_X_AMZ_DATE", "")
        return _signature(match["credential"], match["signed"], match["signature"], timestamp, False, None)
    if "X-Amz-Signature" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise ValueError(f"X-Amz-Algorithm only supports {ALGORITHM}")
        expires = query.get("X-Amz-Expires", "")
        return _signature(
            query.get("X-Amz-Credential", ""), query.get("X-Amz-SignedHeaders", ""), query["X-Amz-Signature"],
            query.get("X-Amz-Date", ""), True, int(expires) if expires.isdigit() else None,
        )
    return None


def _signature(
    credential: str, signed: str, signature: str, timestamp: str, presigned: bool, expires_s: int | None
) -> _Signature:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise ValueError(f"Credential should be scoped to a valid region and service: {credential!r}")
    try:
        datetime.strptime(timestamp, _TIMESTAMP)
    except ValueError:
        raise ValueError("the request must carry its signing time as X-Amz-Date (yyyyMMddTHHmmssZ)") from None
    if not timestamp.startswith(parts[1]):
        raise ValueError(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date: {parts[1]}"
        )
    headers = signed.split(";")
    if "host" not in headers:
        raise ValueError("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    key_id, _, region, service, _ = parts
    return _Signature(key_id, region, service, headers, signature, timestamp, presigned, expires_s)


def _lateness(signature: _Signature) -> str:
    """AWS's words for a request signed too long ago (or ahead), or for a presigned URL past its expiry."""
    signed_at = datetime.strptime(signature.timestamp, _TIMESTAMP).replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if signature.presigned:
        if signature.expires_s is not None and now > signed_at + timedelta(seconds=signature.expires_s):
            return "Request has expired"
        return ""
    if signed_at < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(_TIMESTAMP)
        return (
            f"Signature expired: {signature.timestamp} is now earlier than {earliest} "
            f"({now.strftime(_TIMESTAMP)} - 15 min.)"
        )
    if signed_at > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(_TIMESTAMP)
        return (
            f"Signature not yet current: {signature.timestamp} is still later than {latest} "
            f"({now.strftime(_TIMESTAMP)} + 15 min.)"
        )
    return ""


def _expected_signature(environ: dict[str, Any], signature: _Signature, credentials: Credentials) -> str:
    signer_class = S3SigV4Auth if signature.service == "s3" else SigV4Auth
    signer = signer_class(credentials, signature.service, signature.region)
    raw_path, _, raw_query = _raw_uri(environ).partition("?")
    if signature.presigned:
        raw_query = "&".join(p for p in raw_query.split("&") if not p.startswith("X-Amz-Signature="))
    headers = HTTPHeaders()
    for name in signature.signed_headers:
        value = _header(environ, name)
        if value is not None:
            headers[name] = value
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"), url=f"http://stack{raw_path}?{raw_query}")
    request.context["timestamp"] = signature.timestamp
    canonical = "\n".join([
        request.method,
        signer._normalize_url_path(raw_path),  # S3 signs the path as sent, the others re-encode it
        signer.canonical_query_string(request),
        signer.canonical_headers(headers) + "\n",
        ";".join(signature.signed_headers),
        _payload_hash(environ, signature),
    ])
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


def _raw_uri(environ: dict[str, Any]) -> str:
    """The request target as the client sent it (werkzeug keeps it as RAW_URI), not decoded."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = environ.get("QUERY_STRING", "")
    return quote(environ.get("PATH_INFO", "/")) + (f"?{query}" if query else "")


def _header(environ: dict[str, Any], name: str) -> str | None:
    key = name.upper().replace("-", "_")
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return environ.get(key) or None
    return environ.get(f"HTTP_{key}")


def _payload_hash(environ: dict[str, Any], signature: _Signature) -> str:
    """The payload hash the client signed: its x-amz-content-sha256 header (S3 always sends one), the
    fixed UNSIGNED-PAYLOAD of presigned URLs, else the SHA-256 of the body, which is read here and
    put back for the application."""
    declared = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
    if declared:
        return str(declared)
    if signature.presigned:
        return UNSIGNED_PAYLOAD
    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return sha256(body).hexdigest() if body else EMPTY_SHA256_HASH


@cache
def _error_family(service: str | None) -> str:
    """"s3", "query" (IAM, STS: XML errors) or "json" (Braket, ECR, logs, DynamoDB, ...) for ``service``."""
    if service == "s3":
        return "s3"
    if service is None:
        return "json"
    try:
        protocol = botocore.session.get_session().get_service_model(service).metadata.get("protocol")
    except UnknownServiceError:
        return "json"
    return "query" if protocol in ("query", "ec2") else "s3" if protocol == "rest-xml" else "json"


def error_response(failure: AuthFailure, service: str | None) -> Response:
    """AWS's answer to ``failure``, in the error format of ``service``, the one the request was signed for."""
    family = _error_family(service)
    code, status, template = _ERRORS[family][failure.kind]
    message = template.format(detail=failure.detail)
    if family == "json":
        return Response(
            json.dumps({"__type": code, "message": message}), status=status,
            headers={"x-amzn-ErrorType": code}, content_type="application/json",
        )
    if family == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml(message)}</Message>"
            "</Error><RequestId>local</RequestId></ErrorResponse>"
        )
    else:
        body = (
            f"<Error><Code>{code}</Code><Message>{_xml(message)}</Message><RequestId>local</RequestId></Error>"
        )
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + body, status=status, content_type="text/xml")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
