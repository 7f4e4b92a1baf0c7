"""``covalent-braket local ...``: run the local Braket stack in the background and look after it.

The stack started by ``local up`` outlives the command and the shell; the other commands find it
through its state dir (``$COVALENT_BRAKET_LOCAL_DIR``, by default ``~/.covalent-braket/local``),
where the server keeps its ready file, pid file, logs, registry storage and job work dirs.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from covalent_braket_plugin.cli.common import ServiceError, add_json_flag, guarded, print_json
from covalent_braket_plugin.local.faults import FaultSettings, add_fault_arguments, fault_changes
from covalent_braket_plugin.local.stack import CONFLICTING_VARIABLES, RUNNERS, LocalStack, LocalStackError

STATE_DIR_VARIABLE = "COVALENT_BRAKET_LOCAL_DIR"
DEFAULT_PORT = 4566
BRAKET_IMAGES_TIMEOUT_S = 900.0
"""How long `local up` waits for Braket's job images: a first build on a new engine takes minutes."""

# Columns of the status tables, in order; a column the emulator does not report is left out.
# The emulator's status groups jobs and tasks as {"total", "byStatus", "items"}.
JOB_COLUMNS = ("jobName", "status", "device", "createdAt", "endedAt", "failureReason")
TASK_COLUMNS = ("quantumTaskArn", "status", "deviceArn", "shots", "jobArn", "createdAt")


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_VARIABLE) or Path.home() / ".covalent-braket" / "local")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``local`` command group to the ``covalent-braket`` parser."""
    local = subparsers.add_parser(
        "local", help="run the local Braket stack (AWS side emulated on this machine)",
        description=f"The local Braket stack. State dir: ${STATE_DIR_VARIABLE} or ~/.covalent-braket/local.",
    )
    commands = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)

    up = commands.add_parser("up", help="start the stack in the background and wait until it answers")
    up.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one"
    )
    up.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: loopback only)")
    up.add_argument(
        "--allow-remote", action="store_true",
        help="let --host be an address other machines reach: they could run code as you with the stack's key",
    )
    up.add_argument(
        "--runner", choices=RUNNERS, default="auto",
        help="how hybrid jobs run: docker containers, plain processes, or auto (docker if an engine answers)",
    )
    up.add_argument(
        "--registry-binary", type=Path, default=None,
        help="the image registry program, if not Debian's /usr/bin/docker-registry",
    )
    up.add_argument(
        "--no-braket-images", dest="braket_images", action="store_false",
        help="do not make Braket's own job images (made with the docker runner, once per engine)",
    )
    add_fault_arguments(up)
    up.set_defaults(handler=_up)

    env = commands.add_parser("env", help='print shell exports; use as eval "$(covalent-braket local env)"')
    env.set_defaults(handler=_env)

    status = commands.add_parser("status", help="show the endpoint, faults, jobs and quantum tasks")
    add_json_flag(status, "the tables (the raw status document)")
    status.set_defaults(handler=_status)

    faults = commands.add_parser("faults", help="show or change fault injection while the stack runs")
    add_fault_arguments(faults)
    faults.add_argument("--reset", action="store_true", help="turn every fault off (before applying flags)")
    faults.set_defaults(handler=_faults)

    down = commands.add_parser("down", help="stop the stack and everything it started")
    down.set_defaults(handler=_down)


def _attach(fix: str = "") -> LocalStack:
    """The running stack of the state dir.

    Raises:
        ServiceError: no stack runs there (the message ends with ``fix`` when given).
    """
    try:
        return LocalStack.attach(state_dir())
    except LocalStackError as error:
        raise ServiceError(f"{error}{fix}") from None


def _guarded(work: Callable[[], int]) -> int:
    """``work`` under the exit statuses of every command: what the stack cannot do is status 1, a
    setting it refuses (a fault rate above 1, say) status 2."""

    def run() -> int:
        try:
            return work()
        except LocalStackError as error:
            raise ServiceError(str(error)) from None

    return guarded("error", run)


def _up(args: argparse.Namespace) -> int:
    def work() -> int:
        faults = fault_changes(args)
        FaultSettings(**faults).validate()  # a bad setting is refused before anything starts
        try:
            running = _attach()
        except ServiceError:
            running = None
        if running is not None:
            raise ServiceError(
                f"the local stack is already running at {running.endpoint_url} (pid {running.pid}); "
                "stop it first with `covalent-braket local down`"
            )
        stack = LocalStack(
            port=args.port, runner=args.runner, host=args.host, state_dir=state_dir(),
            faults=faults, registry_binary=args.registry_binary, allow_remote=args.allow_remote,
            braket_images=args.braket_images,
        )
        stack.start()
        stack.detach()
        registry = stack.registry_address or f"none ({stack.info.get('registry_note')})"
        print(f"Local Braket stack running at {stack.endpoint_url}")
        print(f"  runner: {stack.info.get('runner')}   registry: {registry}   state: {stack.state_dir}")
        print('  point boto3 and the Braket SDK at it: eval "$(covalent-braket local env)"')
        print("  stop it: covalent-braket local down")
        if stack.info.get("braket_images"):
            print("  making Braket's own job images (the first time on this engine takes a few minutes)...",
                  flush=True)
            print(f"  Braket's job images: {stack.wait_for_braket_images(BRAKET_IMAGES_TIMEOUT_S)}")
        return 0

    return _guarded(work)


def _env(args: argparse.Namespace) -> int:
    def work() -> int:
        stack = _attach("; start it with `covalent-braket local up`")
        print(f"unset {' '.join(CONFLICTING_VARIABLES)}")
        for name, value in stack.environment().items():
            print(f"export {name}={shlex.quote(value)}")
        return 0

    return _guarded(work)


def _status(args: argparse.Namespace) -> int:
    def work() -> int:
        stack = _attach()
        status = stack.status()
        status["braket_images"] = stack.wait_for_braket_images(timeout=0)
        if args.json:
            print_json(status)
            return 0
        registry = status.get("registry") or f"none ({status.get('registry_note')})"
        print(f"endpoint: {status.get('endpoint_url')}   pid: {status.get('pid')}")
        print(f"runner:   {status.get('runner')}   registry: {registry}")
        print(f"Braket's job images: {status['braket_images']}")
        print("faults:   " + _settings(status.get("faults") or {}))
        for title, key, columns in (("jobs", "jobs", JOB_COLUMNS), ("quantum tasks", "tasks", TASK_COLUMNS)):
            section = status.get(key) or {}
            counts = ", ".join(f"{state} {n}" for state, n in sorted((section.get("byStatus") or {}).items()))
            print(f"\n{title}: {section.get('total', 0)}" + (f" ({counts})" if counts else ""))
            if section.get("items"):
                print(_table(section["items"], columns))
        return 0

    return _guarded(work)


def _faults(args: argparse.Namespace) -> int:
    def work() -> int:
        stack = _attach()
        settings = stack.reset_faults() if args.reset else stack.faults()
        if changes := fault_changes(args):
            settings = stack.set_faults(**changes)
        print(_settings(settings))
        return 0

    return _guarded(work)


def _down(args: argparse.Namespace) -> int:
    def work() -> int:
        stack = _attach()
        endpoint, pid = stack.endpoint_url, stack.pid
        stack.stop()
        print(f"Stopped the local Braket stack at {endpoint} (pid {pid}) and everything it started.")
        return 0

    return _guarded(work)


def _settings(settings: dict[str, Any]) -> str:
    return "  ".join(f"{name}={value}" for name, value in settings.items())


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table of ``rows``; ARNs are cut to their last part to keep it narrow."""
    shown = [c for c in columns if any(row.get(c) not in (None, "") for row in rows)]
    cells = [[_cell(row.get(c)) for c in shown] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(shown)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(shown, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text
