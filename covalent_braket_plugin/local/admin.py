"""The stack's admin API under ``/_local/``: health, fault injection and a status listing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from werkzeug.wrappers import Request, Response

from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.services import LocalServices


class AdminApp:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.services: LocalServices | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        return self._dispatch(request)(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path.removeprefix("/_local/").strip("/")
        if path == "health":
            return _json({"status": "ok"})
        if path == "faults":
            if request.method == "GET":
                return _json(asdict(self.faults.settings))
            if request.method == "PUT":
                return self._update_faults(request)
            if request.method == "DELETE":
                return _json(asdict(self.faults.reset()))
            return _json({"message": f"method {request.method} not allowed"}, 405)
        return _json({"message": f"no admin resource /_local/{path}"}, 404)

    def _update_faults(self, request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of fault settings")
            return _json(asdict(self.faults.update(**changes)))
        except (ValueError, TypeError) as exc:
            return _json({"message": str(exc)}, 400)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")
