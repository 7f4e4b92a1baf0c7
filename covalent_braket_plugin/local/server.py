"""The local stack's server process: one threaded HTTP endpoint in front of moto and the emulator.

Run as ``python -m covalent_braket_plugin.local.server``; ``LocalStack`` and ``covalent-braket local
up`` start it this way and learn its address from the ready file it writes once it listens. The
process owns everything the stack starts (the image registry, job containers and processes) and
stops all of it when it receives SIGTERM or SIGINT, before it removes its ready and pid files.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from covalent_braket_plugin.local.admin import AdminApp
from covalent_braket_plugin.local.ecr import EcrApp
from covalent_braket_plugin.local.faults import Faults, FaultSettings, add_fault_arguments, fault_changes
from covalent_braket_plugin.local.gateway import Gateway, WSGIApp
from covalent_braket_plugin.local.registry import REGISTRY_BINARY, LocalRegistry, RegistryUnavailableError
from covalent_braket_plugin.local.services import LocalServices

RUNNERS = ("auto", "docker", "process")
PID_FILE = "server.pid"


class StartError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m covalent_braket_plugin.local.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    parser.add_argument("--runner", choices=RUNNERS, default="auto")
    parser.add_argument("--state-dir", type=Path, required=True, help="work files of jobs and the registry")
    parser.add_argument("--ready-file", type=Path, required=True, help="written once the stack listens")
    parser.add_argument(
        "--registry-binary", type=Path, default=REGISTRY_BINARY,
        help="the CNCF distribution registry program (Debian's docker-registry by default)",
    )
    add_fault_arguments(parser)
    return parser.parse_args(argv)


def serve(args: argparse.Namespace) -> None:
    """Start every part of the stack, serve until SIGTERM/SIGINT, then stop every part."""
    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        faults = Faults(FaultSettings(**fault_changes(args)))
    except ValueError as exc:
        raise StartError(f"bad fault setting: {exc}") from exc
    moto_app = DomainDispatcherApplication(create_backend_app)
    routes: dict[str, WSGIApp] = {}
    admin = AdminApp(faults)
    server = _bind(args.host, args.port, Gateway(routes=routes, admin=admin, fallback=moto_app))
    endpoint = f"http://{args.host}:{server.server_port}"
    services = LocalServices(endpoint)

    with ExitStack() as cleanup:
        cleanup.callback(server.server_close)
        pid_file = state_dir / PID_FILE
        pid_file.write_text(str(os.getpid()))
        cleanup.callback(pid_file.unlink, missing_ok=True)

        registry, registry_note = _start_registry(state_dir / "registry", args.registry_binary, args.runner)
        if registry is not None:
            cleanup.callback(registry.stop)
        routes["ecr"] = EcrApp(services, registry, fallback=moto_app)

        admin.stack_info = {
            "endpoint_url": endpoint,
            "pid": os.getpid(),
            "runner": args.runner,
            "registry": registry.address if registry else None,
            "registry_note": registry_note,
            "state_dir": str(state_dir),
        }
        _stop_on_signals(server)
        _write_ready(args.ready_file, admin.stack_info)
        cleanup.callback(args.ready_file.unlink, missing_ok=True)
        server.serve_forever()


def _bind(host: str, port: int, app: WSGIApp) -> BaseWSGIServer:
    try:
        return make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartError(
                f"port {port} on {host} is busy: another program (or another local stack) listens there; "
                "stop it or pick another port with --port"
            ) from exc
        raise


def _start_registry(
    registry_dir: Path, binary: Path, runner: str
) -> tuple[LocalRegistry | None, str | None]:
    """Start the image registry. Without the binary the stack can still run jobs as processes, so
    only ``--runner process`` starts without one (and says so in the status); others fail."""
    registry_dir.mkdir(parents=True, exist_ok=True)
    try:
        return LocalRegistry(registry_dir, binary=binary).start(), None
    except RegistryUnavailableError as exc:
        if runner != "process":
            raise StartError(f"{exc}") from exc
        return None, f"no image registry: {exc}"


def _stop_on_signals(server: BaseWSGIServer) -> None:
    stopping = threading.Event()

    def stop(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever to return, so it cannot run on the serving thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _write_ready(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(path)  # atomic, so a reader never sees half a file


def main(argv: list[str] | None = None) -> int:
    try:
        serve(parse_args(argv))
    except StartError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
