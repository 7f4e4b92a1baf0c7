"""A Covalent server of its own, for the demo and the end-to-end tests.

``covalent start`` keeps its configuration, results database, pid file and logs under the user's home
(``~/.config/covalent``, ``~/.local/share/covalent``, ``~/.cache/covalent``) and always serves the one
port written there. A server started for a demo or a test run must not touch a developer's own server,
so :class:`CovalentServer` runs ``covalent start`` with ``HOME`` pointing at a directory of its own, on
a free port, with a covalent.conf written beforehand (the ``[executors.*]`` sections it is given).
Client processes that dispatch to it run with :attr:`CovalentServer.env`, which carries that ``HOME``.

``covalent start`` leaves the server running as a daemon and ``covalent stop`` only ends the processes
it knows of, and nothing at all when the start did not finish. The start therefore runs in a session
of its own: the server and everything it starts belong to that process group, which :meth:`stop`
ends (after ``covalent stop`` had its chance to shut down cleanly), waiting until no member is left.
The group id is written to the home directory, so another process can stop the server too (the
``stop`` command below, which ``scripts/demo`` runs from its exit trap).

    python -m covalent_braket_plugin.testing.covalent_server start HOME   # prints the dispatcher address
    python -m covalent_braket_plugin.testing.covalent_server stop HOME
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
import toml

START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 60.0
STATE_FILE = "covalent-server.json"
# Variables that would point the server at another configuration, data or cache directory than the
# ones under its own HOME.
_FOREIGN_VARIABLES = ("XDG_CONFIG_HOME", "XDG_CONFIG_DIR", "XDG_CACHE_HOME", "XDG_DATA_HOME")


class CovalentServerError(RuntimeError):
    """The server did not start (the message holds what ``covalent start`` and the server's log said)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    """Whether a live process of the group remains (zombies are not: they only wait to be reaped,
    which is their parent's or init's business)."""
    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                return True
    return False


def _end_group(pgid: int, timeout_s: float) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``timeout_s``, wait until it is empty."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, timeout_s)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait_s
        while _group_alive(pgid):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        else:
            return
    raise CovalentServerError(f"processes of group {pgid} outlived SIGKILL")


class CovalentServer:
    """``covalent start`` in a home directory of its own, on a free port; a context manager.

    ``executors`` become covalent.conf sections (``{"braket": {"s3_bucket_name": ...}}`` gives
    ``[executors.braket]``), read by the server when it creates executors named by a string.
    ``environment`` is added to the server's environment and to :attr:`env` (the local stack's
    ``environment()``, so that the server and its clients reach the stack).
    """

    def __init__(
        self,
        home: Path,
        executors: Mapping[str, Mapping[str, Any]] | None = None,
        environment: Mapping[str, str] | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.home = Path(home).resolve()
        self.executors = {name: dict(settings) for name, settings in (executors or {}).items()}
        self.start_timeout_s = start_timeout_s
        base = {k: v for k, v in os.environ.items() if not k.startswith("COVALENT_")}
        if environment and any(k.startswith("AWS_") for k in environment):
            # the given AWS settings replace the caller's whole AWS configuration, not only some of it
            base = {k: v for k, v in base.items() if not k.startswith("AWS_")}
        for name in _FOREIGN_VARIABLES:
            base.pop(name, None)
        self.env: dict[str, str] = {
            **base,
            **(environment or {}),
            "HOME": str(self.home),
            # Dask would start a cluster of worker processes; electrons on Braket only wait on jobs.
            "COVALENT_DISABLE_DASK": "1",
            "PYTHONUNBUFFERED": "1",  # the server's output (image builds) reaches its log at once
        }
        self.port: int | None = None

    @property
    def config_file(self) -> Path:
        return self.home / ".config" / "covalent" / "covalent.conf"

    @property
    def address(self) -> str:
        """The dispatcher's URL."""
        if self.port is None:
            raise CovalentServerError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        """The server's log files, concatenated (empty before the first start)."""
        logs = sorted((self.home / ".cache" / "covalent").glob("*.log"))
        return "".join(path.read_text(errors="replace") for path in logs)

    def _covalent(self) -> str:
        return str(Path(sys.executable).with_name("covalent"))

    def start(self) -> CovalentServer:
        """Start the server and return once it answers HTTP; on failure nothing is left running."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.executors:
            self.config_file.parent.mkdir(parents=True, exist_ok=True)
            self.config_file.write_text(toml.dumps({"executors": self.executors}))
        port = _free_port()
        started = subprocess.Popen(
            [self._covalent(), "start", "--port", str(port), "--no-cluster"],
            env=self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its pid is the group id of the server and all it starts
        )
        (self.home / STATE_FILE).write_text(json.dumps({"pgid": started.pid}))
        try:
            # `covalent start` waits for the server without a time limit of its own
            output, _ = started.communicate(timeout=self.start_timeout_s)
            if started.returncode != 0 or "unable to start" in output:
                raise CovalentServerError(f"covalent start failed:\n{output}")
            # the port asked for, or the next free one if it was taken meanwhile
            self.port = int(toml.loads(self.config_file.read_text())["dispatcher"]["port"])
            self._wait_until_answering(time.monotonic() + self.start_timeout_s)
        except BaseException as exc:
            started.kill()
            with contextlib.suppress(CovalentServerError):
                self.stop()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise CovalentServerError(
                    f"the Covalent server did not answer within {self.start_timeout_s:.0f} s; "
                    f"its log:\n{self.log[-5000:]}"
                ) from exc
            raise
        return self

    def _wait_until_answering(self, deadline: float) -> None:
        while True:
            try:
                with urllib.request.urlopen(self.address, timeout=2):
                    return
            except urllib.error.HTTPError:  # any answer is an answer
                return
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise CovalentServerError(
                        f"the Covalent server at {self.address} does not answer ({exc}); "
                        f"its log:\n{self.log[-5000:]}"
                    ) from exc
                time.sleep(0.5)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """``covalent stop``, then end whatever of the server's process group is left.

        Returns once no process of the server remains. Stopping a server that is not running (or
        was stopped before) does nothing.
        """
        state = self.home / STATE_FILE
        if not state.exists():
            return
        pgid = int(json.loads(state.read_text())["pgid"])
        if _group_alive(pgid):
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(
                    [self._covalent(), "stop"],
                    env=self.env,
                    cwd=self.home,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=timeout_s,
                )
            _end_group(pgid, timeout_s)
        state.unlink()

    def __enter__(self) -> CovalentServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m covalent_braket_plugin.testing.covalent_server",
        description="Start or stop a Covalent server whose home (config, database, logs) is HOME.",
    )
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("home", type=Path, help="the server's home directory (created if missing)")
    args = parser.parse_args(argv)
    server = CovalentServer(args.home)
    if args.action == "start":
        print(server.start().address)
    else:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
