"""The stack's admin API under ``/_local/``: health, fault injection and a status listing.

It is plain JSON over HTTP. Like every request to the stack, an admin request must be signed with
the stack's key (the gateway checks it): it changes faults and lists every job and task. ``LocalStack``
signs for the CLI; with curl, after ``eval "$(covalent-braket local env)"``::

    curl --aws-sigv4 aws:amz:us-east-1:local --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        "$AWS_ENDPOINT_URL/_local/status"


- ``GET /_local/health``: ``{"status": "ok"}`` once the stack serves requests.
- ``GET|PUT|DELETE /_local/faults``: read, change (JSON object of settings) or reset fault injection.
- ``GET /_local/status``: endpoint, job runner, registry address, faults, and the emulator's jobs and
  quantum tasks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from covalent_braket_plugin.local.faults import Faults


class StatusSource(Protocol):
    """What the Braket emulator's backend offers the status listing."""

    def status(self) -> dict[str, Any]: ...


class AdminApp:
    """WSGI app of the admin API.

    ``stack_info`` holds what the server knows about itself (endpoint, runner, registry); the server
    fills it once everything has started. ``backend`` adds the emulator's jobs and tasks.
    """

    def __init__(self, faults: Faults, backend: StatusSource | None = None) -> None:
        self.faults = faults
        self.backend = backend
        self.stack_info: dict[str, Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        return self._dispatch(request)(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path.removeprefix("/_local/").strip("/")
        if path == "health":
            return _json({"status": "ok"})
        if path == "status" and request.method == "GET":
            return _json(self.status())
        if path == "faults":
            if request.method == "GET":
                return _json(asdict(self.faults.settings))
            if request.method == "PUT":
                return self._update_faults(request)
            if request.method == "DELETE":
                return _json(asdict(self.faults.reset()))
            return _json({"message": f"method {request.method} not allowed"}, 405)
        return _json({"message": f"no admin resource {request.method} /_local/{path}"}, 404)

    def status(self) -> dict[str, Any]:
        """The stack's own details, its faults, then whatever the emulator reports (jobs, tasks)."""
        emulator = self.backend.status() if self.backend is not None else {}
        return {**self.stack_info, "faults": asdict(self.faults.settings), **emulator}

    def _update_faults(self, request: Request) -> Response:
        try:
            changes = json.loads(request.get_data() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of fault settings")
            return _json(asdict(self.faults.update(**changes)))
        except (ValueError, TypeError) as exc:
            return _json({"message": str(exc)}, 400)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")
