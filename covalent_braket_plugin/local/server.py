"""The local stack's server process: one threaded HTTP endpoint in front of moto and the emulator.

Run as ``python -m covalent_braket_plugin.local.server``; ``LocalStack`` and ``covalent-braket local
up`` start it this way and learn its address from the ready file it writes once it listens. The
process owns everything the stack starts (the image registry, job containers and processes) and
stops all of it when it receives SIGTERM or SIGINT, before it removes its ready and pid files.

Stopping happens in two steps. First, while the endpoint still serves, running jobs are cancelled
and the emulator sends its last events: both talk to the stack over HTTP, so the endpoint must
answer until they are done. Then the endpoint stops and the registry with it.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.local import braket_images
from covalent_braket_plugin.local.admin import AdminApp
from covalent_braket_plugin.local.auth import Verifier
from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.responses import make_braket_app
from covalent_braket_plugin.local.credentials import StackCredentials, private_dir
from covalent_braket_plugin.local.ecr.responses import EcrApp
from covalent_braket_plugin.local.faults import Faults, FaultSettings, add_fault_arguments, fault_changes
from covalent_braket_plugin.local.gateway import Gateway, OneAtATime, WSGIApp
from covalent_braket_plugin.local.hosts import AllowedHosts, check_listen_address
from covalent_braket_plugin.local.jobs.manager import JobManager, docker_client
from covalent_braket_plugin.local.price_list import PriceList
from covalent_braket_plugin.local.public_objects import PublicObjects
from covalent_braket_plugin.local.registry import REGISTRY_BINARY, LocalRegistry, RegistryUnavailableError
from covalent_braket_plugin.local.services import LocalServices
from covalent_braket_plugin.local.stack import JOBS_DIR, RUNNERS

PID_FILE = "server.pid"


class StartError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m covalent_braket_plugin.local.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--allow-remote", action="store_true", help="let --host name an address other machines can reach"
    )
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    parser.add_argument("--runner", choices=RUNNERS, default="auto")
    parser.add_argument("--state-dir", type=Path, required=True, help="work files of jobs and the registry")
    parser.add_argument("--ready-file", type=Path, required=True, help="written once the stack listens")
    parser.add_argument(
        "--registry-binary", type=Path, default=REGISTRY_BINARY,
        help="the CNCF distribution registry program (Debian's docker-registry by default)",
    )
    parser.add_argument(
        "--no-braket-images", dest="braket_images", action="store_false",
        help="do not make Braket's own job images (they need a Docker engine)",
    )
    add_fault_arguments(parser)
    return parser.parse_args(argv)


def serve(args: argparse.Namespace) -> None:
    """Start every part of the stack, serve until SIGTERM/SIGINT, then stop every part."""
    try:
        check_listen_address(args.host, args.allow_remote)
    except ValueError as exc:
        raise StartError(str(exc)) from exc
    try:
        faults = Faults(FaultSettings(**fault_changes(args)))
    except ValueError as exc:
        raise StartError(f"bad fault setting: {exc}") from exc
    state_dir = private_dir(args.state_dir)
    credentials = StackCredentials.load_or_create(state_dir)
    moto_app = DomainDispatcherApplication(create_backend_app)
    routes: dict[str, WSGIApp] = {}
    admin = AdminApp(faults)
    verifier = Verifier(credentials)
    public = PublicObjects()
    prices = PriceTable.load()  # one table for the spending limits and the price list: they agree
    price_list = PriceList(prices)
    server = _bind(
        args.host, args.port,
        lambda port: Gateway(
            routes, admin, moto_app, hosts=AllowedHosts(args.host, port), verifier=verifier, public=public,
            price_list=price_list,
        ),
    )
    endpoint = f"http://{args.host}:{server.server_address[1]}"
    services = LocalServices(endpoint, credentials)

    with ExitStack() as cleanup:
        cleanup.callback(server.server_close)
        pid_file = state_dir / PID_FILE
        pid_file.write_text(str(os.getpid()))
        cleanup.callback(pid_file.unlink, missing_ok=True)

        registry, registry_note = _start_registry(state_dir / "registry", args.registry_binary, args.runner)
        if registry is not None:
            cleanup.callback(registry.stop)
        try:
            jobs = JobManager(
                services=services, faults=faults, runner=args.runner, work_dir=state_dir / JOBS_DIR,
                registry_address=registry.address if registry else None,
                braket_images_state=state_dir / braket_images.STATE_FILE if args.braket_images else None,
            )
        except RuntimeError as exc:  # --runner docker without an engine
            raise StartError(str(exc)) from exc
        backend = BraketBackend(
            services=services, faults=faults, job_manager=jobs, public=public, prices=prices
        )
        jobs.bind_store(backend)
        routes["braket"] = make_braket_app(backend, faults)
        routes["ecr"] = EcrApp(services, registry, fallback=moto_app, braket=jobs.braket_images)
        routes["dynamodb"] = OneAtATime(moto_app)
        admin.backend = backend

        admin.stack_info = {
            "endpoint_url": endpoint,
            "pid": os.getpid(),
            "runner": jobs.runner_name,
            "registry": registry.address if registry else None,
            "registry_note": registry_note,
            "braket_images": jobs.braket_images is not None,
            "state_dir": str(state_dir),
        }
        _stop_on_signals(server, drain=[jobs.shutdown, backend.shutdown])
        _write_ready(args.ready_file, admin.stack_info)
        cleanup.callback(args.ready_file.unlink, missing_ok=True)
        server.serve_forever()


def _bind(host: str, port: int, app_on: Callable[[int], WSGIApp]) -> BaseWSGIServer:
    """Listen on ``host:port`` and serve ``app_on(the port bound)`` (``port`` 0 picks one).

    The socket is bound here, not by werkzeug, because werkzeug answers a busy port by printing its
    own advice and exiting; here it becomes a StartError that says what to do."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
        return make_server(
            host, port, app_on(listener.getsockname()[1]), threaded=True, request_handler=MotoRequestHandler,
            fd=listener.fileno(),
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartError(
                f"port {port} on {host} is busy: another program (or another local stack) listens there; "
                "stop it, or start with --port 0 to take a free port (or --port N to name one)"
            ) from exc
        raise
    finally:
        listener.close()  # the server holds its own duplicate of the socket


def _start_registry(
    registry_dir: Path, binary: Path, runner: str
) -> tuple[LocalRegistry | None, str | None]:
    """Start the image registry. Without it the stack can still run jobs as processes, so a stack
    whose jobs will be processes (``--runner process``, or ``auto`` with no Docker engine) starts
    without one and says so in its status; one that would run containers fails. Only the failure
    suggests ``--runner process``: the note of a stack that runs jobs as processes already says that
    they need no registry and how to get one for pushing images."""
    registry_dir.mkdir(parents=True, exist_ok=True)
    try:
        return LocalRegistry(registry_dir, binary=binary).start(), None
    except RegistryUnavailableError as exc:
        if runner == "docker" or (runner == "auto" and docker_client() is not None):
            raise StartError(
                f"{exc}; or start the stack with --runner process, which needs no registry"
            ) from exc
        return None, f"jobs run as processes and need none; to push job images to the stack, {exc}"


def _stop_on_signals(server: BaseWSGIServer, drain: list[Callable[[], None]]) -> None:
    """On SIGTERM/SIGINT run the ``drain`` steps while the endpoint still serves, then stop it."""
    stopping = threading.Event()

    def stop_in_order() -> None:
        try:
            for step in drain:
                try:
                    step()
                except Exception:  # one failing step must not keep the others or the stop from running
                    logging.exception("stopping the local stack: %s failed", step)
        finally:
            server.shutdown()

    def stop(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever to return, so it cannot run on the serving thread.
            threading.Thread(target=stop_in_order, daemon=True).start()

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
