"""``LocalStack``: start the local Braket stack's server process and talk to it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from covalent_braket_plugin.local.services import DEFAULT_REGION, client_environment

START_TIMEOUT_S = 60.0


class LocalStackError(RuntimeError):
    """The local stack could not be started or reached."""


class LocalStack:
    """The local Braket stack as a context manager::

        with LocalStack(runner="process") as stack:
            braket = boto3.client("braket", **stack.client_kwargs())
    """

    def __init__(
        self,
        port: int = 0,
        runner: str = "auto",
        host: str = "127.0.0.1",
        state_dir: Path | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.port = port
        self.runner = runner
        self.host = host
        self.region = region
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="braket-local-"))
        self.endpoint_url = ""
        self.info: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> LocalStack:
        ready_file = self.state_dir / "ready.json"
        ready_file.unlink(missing_ok=True)
        log = open(self.state_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child process
        command = [
            sys.executable, "-m", "covalent_braket_plugin.local.server",
            "--host", self.host, "--port", str(self.port), "--runner", self.runner,
            "--state-dir", str(self.state_dir), "--ready-file", str(ready_file),
        ]
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready_file.exists():
            if self._process.poll() is not None:
                raise LocalStackError(f"the local stack exited at start; see {self.state_dir / 'server.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise LocalStackError(f"the local stack did not start in {START_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        self.info = json.loads(ready_file.read_text())
        self.endpoint_url = self.info["endpoint_url"]
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """Variables that point boto3 and the Braket SDK at this stack."""
        return client_environment(self.endpoint_url, self.region)

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client(service, **kwargs)`` against this stack."""
        env = self.environment()
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        }

    def set_faults(self, **settings: float) -> dict[str, float]:
        """Change fault injection at run time (see ``FaultSettings`` for the names)."""
        response = requests.put(f"{self.endpoint_url}/_local/faults", json=settings, timeout=10)
        if response.status_code != 200:
            raise ValueError(response.json().get("message", response.text))
        return response.json()

    def reset_faults(self) -> dict[str, float]:
        return requests.delete(f"{self.endpoint_url}/_local/faults", timeout=10).json()
