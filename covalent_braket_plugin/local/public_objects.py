"""The S3 objects of the stack that anyone may read without signing, one by one.

AWS links a pulse device's native gate calibrations (GetDevice's ``nativeGateCalibrationsRef``) as
a URL that ``AwsDevice.gate_calibrations`` opens with plain urllib after cutting off any query
string, so no signature, presigned or not, ever reaches the server: on AWS that object is public.
Every other request to the stack must be signed, as on AWS; an object becomes readable unsigned
only when the stack publishes it here, so an unsigned request reads exactly those and nothing else.
"""

from __future__ import annotations

import threading
from typing import Any


class PublicObjects:
    """The path-style paths (``/<bucket>/<key>``) that an unsigned GET or HEAD may read."""

    def __init__(self) -> None:
        self._paths: set[str] = set()
        self._lock = threading.Lock()

    def publish(self, bucket: str, key: str) -> None:
        with self._lock:
            self._paths.add(f"/{bucket}/{key}")

    def readable(self, environ: dict[str, Any]) -> bool:
        """Whether the WSGI request ``environ`` reads a published object: a GET or HEAD of its path
        with no query string, since a query asks S3 for another operation on it (``?acl``,
        ``?tagging``), which being public does not grant."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return False
        with self._lock:
            return environ.get("PATH_INFO", "") in self._paths
