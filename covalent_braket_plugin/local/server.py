"""The local stack's server process: one threaded HTTP endpoint in front of moto and the emulator.

Run as ``python -m covalent_braket_plugin.local.server``; ``LocalStack`` and ``covalent-braket local
up`` start it this way and learn its address from the ready file it writes once it listens.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from covalent_braket_plugin.local.admin import AdminApp
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.gateway import Gateway
from covalent_braket_plugin.local.services import LocalServices


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m covalent_braket_plugin.local.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    parser.add_argument("--runner", choices=("auto", "docker", "process"), default="auto")
    parser.add_argument("--state-dir", type=Path, required=True, help="work files of jobs and the registry")
    parser.add_argument("--ready-file", type=Path, required=True, help="written with the address once listening")
    return parser.parse_args(argv)


def serve(args: argparse.Namespace) -> None:
    faults = Faults()
    moto_app = DomainDispatcherApplication(create_backend_app)
    admin = AdminApp(faults)
    gateway = Gateway(routes={}, admin=admin, fallback=moto_app)
    server = make_server(args.host, args.port, gateway, threaded=True, request_handler=MotoRequestHandler)
    endpoint = f"http://{args.host}:{server.server_port}"
    services = LocalServices(endpoint)
    admin.services = services

    stopping = threading.Event()

    def stop(*_: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    ready = {"endpoint_url": endpoint, "pid": os.getpid(), "runner": args.runner}
    tmp = args.ready_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(ready))
    tmp.replace(args.ready_file)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    serve(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
