"""The Braket API, the admin API and moto behind one ``Gateway`` on a free port of this process.

Tests and benchmarks of the emulator use it when they want the ``BraketBackend`` object at hand or
when no stack server process is wanted; it offers the client-side surface of ``LocalStack``
(``endpoint_url``, ``environment()``, ``client_kwargs()``, ``set_faults()``, ``reset_faults()``).
It starts no job manager: hybrid jobs stay QUEUED until cancelled.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from types import TracebackType
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from covalent_braket_plugin.local.admin import AdminApp
from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.responses import make_braket_app
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.gateway import Gateway, WSGIApp
from covalent_braket_plugin.local.services import DEFAULT_REGION, LocalServices, client_environment


class InProcessStack:
    """A running endpoint with the Braket emulator; stop it with ``stop()`` or use it as a context."""

    def __init__(self, host: str = "127.0.0.1", region: str = DEFAULT_REGION, workers: int = 4) -> None:
        self.faults = Faults()
        self.region = region
        routes: dict[str, WSGIApp] = {}
        admin = AdminApp(self.faults)
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            host,
            0,
            Gateway(routes=routes, admin=admin, fallback=moto_app),
            threaded=True,
            request_handler=_QuietHandler,
        )
        self.endpoint_url = f"http://{host}:{self._server.server_port}"
        self.backend = BraketBackend(LocalServices(self.endpoint_url, region), self.faults, workers=workers)
        admin.backend = self.backend
        routes["braket"] = make_braket_app(self.backend, self.faults)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="braket-endpoint", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Finish the tasks and send the events first: both still need the endpoint."""
        self.backend.shutdown()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> InProcessStack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        return client_environment(self.endpoint_url, self.region)

    def client_kwargs(self) -> dict[str, str]:
        env = self.environment()
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        }

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        return asdict(self.faults.update(**settings))

    def reset_faults(self) -> dict[str, Any]:
        return asdict(self.faults.reset())


class _QuietHandler(MotoRequestHandler):
    """Moto's request handler without a log line per request (benchmarks send tens of thousands)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass
