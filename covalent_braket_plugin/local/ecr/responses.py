"""The HTTP side of the local stack's ECR API: AWS JSON 1.1 requests in, JSON answers out.

Requests are ``POST /`` with ``X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Op>``. The image
operations and DeleteRepository are answered by ``models.EcrBackend``; every other ECR operation
goes to moto unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import requests
from werkzeug.wrappers import Response

from covalent_braket_plugin.local.braket_images import BraketImages
from covalent_braket_plugin.local.ecr.models import CONTENT_TYPE, TARGET_PREFIX, EcrBackend, EcrError
from covalent_braket_plugin.local.gateway import WSGIApp, signing_region
from covalent_braket_plugin.local.registry import LocalRegistry
from covalent_braket_plugin.local.services import LocalServices


class EcrApp:
    """WSGI app for requests signed for ``ecr``: image operations from the registry, the rest to moto."""

    def __init__(
        self, services: LocalServices, registry: LocalRegistry | None, fallback: WSGIApp,
        braket: BraketImages | None = None,
    ) -> None:
        self.services = services
        self.fallback = fallback
        self.backend = EcrBackend(services.account_id, registry, repositories=fallback, braket=braket)
        self._handlers: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "GetAuthorizationToken": self.backend.get_authorization_token,
            "DescribeImages": self.backend.describe_images,
            "BatchGetImage": self.backend.batch_get_image,
            "ListImages": self.backend.list_images,
            "BatchDeleteImage": self.backend.batch_delete_image,
            "DeleteRepository": self.backend.delete_repository,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operation = environ.get("HTTP_X_AMZ_TARGET", "").removeprefix(TARGET_PREFIX)
        handler = self._handlers.get(operation)
        if handler is None:
            return self.fallback(environ, start_response)
        region = signing_region(environ) or self.services.region
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            try:
                params = json.loads(environ["wsgi.input"].read(length) or b"{}")
            except ValueError as exc:
                raise EcrError("SerializationException", f"the request body is not JSON: {exc}") from exc
            try:
                response = _json_response(handler(params, region))
            except requests.RequestException as exc:
                raise EcrError("ServerException", f"the local image registry failed: {exc}", 500) from exc
        except EcrError as exc:
            response = _json_response({"__type": exc.code, "message": exc.message}, exc.status)
        return response(environ, start_response)


def _json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=CONTENT_TYPE)
