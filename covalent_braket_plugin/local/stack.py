"""``LocalStack``: start the local Braket stack's server process, talk to it, stop it.

The server runs in a session of its own, so it and everything it starts (the registry, job
processes) form one process group that ``stop`` can end as a whole, and so that a stack started
by ``covalent-braket local up`` survives the shell that started it. A stack started elsewhere is
reached through ``LocalStack.attach(state_dir)``, from the ready file the server writes.
"""

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

import boto3
import psutil
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from covalent_braket_plugin.local import braket_images
from covalent_braket_plugin.local.credentials import StackCredentials, private_dir
from covalent_braket_plugin.local.faults import fault_flags
from covalent_braket_plugin.local.hosts import check_listen_address
from covalent_braket_plugin.local.jobs.manager import docker_client
from covalent_braket_plugin.local.jobs.orphans import end_orphans
from covalent_braket_plugin.local.services import DEFAULT_REGION, client_environment

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 90.0
RUNNERS = ("auto", "docker", "process")
READY_FILE = "ready.json"
SERVER_LOG = "server.log"
JOBS_DIR = "jobs"
"""The jobs' work dirs, under the state dir."""
ADMIN_SIGNING_NAME = "local"
"""The service name admin requests are signed for (``curl --aws-sigv4 aws:amz:us-east-1:local``)."""

# Variables that would make boto3 sign with other credentials than the stack's test ones.
JOBS_ROLE_NAME = "AmazonBraketJobsExecutionRole"
JOBS_ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "braket.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
CONFLICTING_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class LocalStackError(RuntimeError):
    """The local stack could not be started, reached or stopped."""


class LocalStack:
    """The local Braket stack as a context manager::

        with LocalStack(runner="process") as stack:
            braket = boto3.client("braket", **stack.client_kwargs())

    ``faults`` sets fault injection from the first request on (see ``FaultSettings`` for names);
    ``registry_binary`` names the registry program when it is not Debian's /usr/bin/docker-registry.
    With a Docker engine, the stack makes Braket's own job images (``braket_images``) unless
    ``braket_images`` is False. ``host`` must be a loopback address unless ``allow_remote``
    (ValueError otherwise). Requests, the admin API's included, are signed with the stack's key, read
    from its state dir.
    """

    def __init__(
        self,
        port: int = 0,
        runner: str = "auto",
        host: str = "127.0.0.1",
        state_dir: Path | None = None,
        region: str = DEFAULT_REGION,
        faults: dict[str, float] | None = None,
        registry_binary: Path | None = None,
        allow_remote: bool = False,
        braket_images: bool = True,
    ) -> None:
        check_listen_address(host, allow_remote)
        self.port = port
        self.runner = runner
        self.host = host
        self.allow_remote = allow_remote
        self.region = region
        self.initial_faults = dict(faults or {})
        self.registry_binary = registry_binary
        self.braket_images = braket_images
        self._own_state_dir = state_dir is None
        # Absolute, because the server's command line names it and ``attach`` looks for that name.
        chosen = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="braket-local-"))
        self.state_dir = chosen.absolute()
        self.info: dict[str, Any] = {}
        self.credentials: StackCredentials | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def attach(cls, state_dir: Path, region: str = DEFAULT_REGION) -> LocalStack:
        """The stack already running with ``state_dir``; LocalStackError when none runs there."""
        stack = cls(state_dir=state_dir, region=region)
        stack._own_state_dir = False
        ready_file = stack.state_dir / READY_FILE
        try:
            stack.info = json.loads(ready_file.read_text())
        except (OSError, ValueError) as exc:
            raise LocalStackError(
                f"the local stack is not running (nothing ready in {stack.state_dir})"
            ) from exc
        pid = int(stack.info.get("pid", 0))
        if not _serves(pid, stack.state_dir):
            ready_file.unlink(missing_ok=True)
            if pid and not _alive(pid):
                # A server that died without stopping (SIGKILL, crash) leaves its group behind (the
                # registry; with the leader gone its group id cannot have been reused), and its jobs'
                # programs, in sessions or containers of their own, which it recorded.
                _kill_group(pid)
                end_orphans(stack.state_dir / JOBS_DIR, docker_client)
            raise LocalStackError(
                f"the local stack is not running (its server, pid {stack.info.get('pid')}, has exited; "
                f"see {stack.state_dir / SERVER_LOG})"
            )
        try:
            stack.credentials = StackCredentials.load(stack.state_dir)
        except (OSError, ValueError, KeyError) as exc:
            raise LocalStackError(
                f"the local stack's credentials cannot be read from {stack.state_dir}: {exc}"
            ) from exc
        return stack

    @property
    def endpoint_url(self) -> str:
        return str(self.info.get("endpoint_url", ""))

    @property
    def registry_address(self) -> str | None:
        """``127.0.0.1:PORT`` of the image registry; None when the stack runs without one."""
        return self.info.get("registry")

    def wait_for_braket_images(self, timeout: float, poll_s: float = 1.0) -> str:
        """Wait until the stack has made Braket's own job images, or says why it could not; return
        ``ready``, ``failed: <reason>``, ``publishing`` when ``timeout`` seconds passed first, or ``off``
        for a stack that does not make them (no Docker engine, or ``braket_images=False``)."""
        if not self.info.get("braket_images"):
            return "off"
        deadline = time.monotonic() + timeout
        while (state := braket_images.read_state(self.state_dir)) == "publishing":
            if time.monotonic() >= deadline:
                break
            time.sleep(poll_s)
        return state

    @property
    def pid(self) -> int | None:
        return self.info.get("pid")

    def start(self) -> LocalStack:
        private_dir(self.state_dir)
        ready_file = self.state_dir / READY_FILE
        ready_file.unlink(missing_ok=True)
        log_path = self.state_dir / SERVER_LOG
        log_start = log_path.stat().st_size if log_path.exists() else 0
        command = [
            sys.executable, "-m", "covalent_braket_plugin.local.server",
            "--host", self.host, "--port", str(self.port), "--runner", self.runner,
            *(["--allow-remote"] if self.allow_remote else []),
            "--state-dir", str(self.state_dir), "--ready-file", str(ready_file),
            *fault_flags(self.initial_faults),
            *(["--registry-binary", str(self.registry_binary)] if self.registry_binary else []),
            *([] if self.braket_images else ["--no-braket-images"]),
        ]
        with open(log_path, "ab") as log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready_file.exists():
            if self._process.poll() is not None:
                self._process = None
                raise LocalStackError(f"the local stack did not start: {_last_error(log_path, log_start)}")
            if time.monotonic() > deadline:
                self.stop()
                raise LocalStackError(
                    f"the local stack did not start in {START_TIMEOUT_S:.0f} s; see {log_path}"
                )
            time.sleep(0.05)
        self.info = json.loads(ready_file.read_text())
        self.credentials = StackCredentials.load(self.state_dir)
        return self

    def stop(self) -> None:
        """Stop the server and, with it, every process it started; wait until all are gone."""
        pid = self._process.pid if self._process else self.pid
        if pid and _alive(pid):
            _end_process_group(pid, self._process)
        self._process = None
        self.info = {}
        self.credentials = None
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def detach(self) -> None:
        """Leave the server running after this object is gone (``covalent-braket local up`` does);
        ``LocalStack.attach`` finds it again."""
        self._process = None
        self._own_state_dir = False

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """Variables that point boto3 and the Braket SDK at this stack, with its credentials."""
        return client_environment(self.endpoint_url, self._require_credentials(), self.region)

    def _require_credentials(self) -> StackCredentials:
        if self.credentials is None:
            raise LocalStackError("the local stack is not running")
        return self.credentials

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client(service, **kwargs)`` against this stack."""
        env = self.environment()
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        }

    def create_jobs_role(self, name: str = JOBS_ROLE_NAME) -> str:
        """The ARN of a job execution role trusted by Braket in the stack's IAM, made if missing.

        CreateJob requires its roleArn to exist, as on AWS; the name matches what the managed
        AmazonBraketJobsExecutionPolicy lets a job pass, and what the SDK looks for by default.
        """
        # Stack-side setup of the stack's own IAM (its endpoint and test keys), not a call to AWS.
        iam = boto3.client("iam", **self.client_kwargs())
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            return iam.create_role(
                RoleName=name, Path="/service-role/", AssumeRolePolicyDocument=JOBS_ROLE_TRUST
            )["Role"]["Arn"]

    # Admin API

    def health(self) -> bool:
        try:
            return self._admin("GET", "health").get("status") == "ok"
        except LocalStackError:
            return False

    def status(self) -> dict[str, Any]:
        """Endpoint, runner, registry, faults, and the emulator's jobs and quantum tasks."""
        return self._admin("GET", "status")

    def faults(self) -> dict[str, float]:
        return self._admin("GET", "faults")

    def set_faults(self, **settings: float) -> dict[str, float]:
        """Change fault injection at run time (see ``FaultSettings`` for the names); ValueError if refused."""
        return self._admin("PUT", "faults", settings)

    def reset_faults(self) -> dict[str, float]:
        return self._admin("DELETE", "faults")

    def _admin(self, method: str, resource: str, json_body: object = None) -> dict[str, Any]:
        if not self.endpoint_url:
            raise LocalStackError("the local stack is not running")
        url = f"{self.endpoint_url}/_local/{resource}"
        body = json.dumps(json_body).encode() if json_body is not None else b""
        headers = self._admin_headers(method, url, body)
        try:
            response = requests.request(method, url, data=body, headers=headers, timeout=30)
        except requests.ConnectionError as exc:
            raise LocalStackError(f"the local stack does not answer at {self.endpoint_url}") from exc
        if response.status_code == 400:
            raise ValueError(response.json().get("message", response.text))
        if response.status_code != 200:
            raise LocalStackError(f"{method} /_local/{resource}: HTTP {response.status_code} {response.text}")
        return response.json()

    def _admin_headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        """The headers of an admin request signed with the stack's key, as the stack requires of every
        request; the credential scope names the service ``local``."""
        credentials = self._require_credentials()
        request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
        key = Credentials(credentials.aws_access_key_id, credentials.aws_secret_access_key)
        SigV4Auth(key, ADMIN_SIGNING_NAME, self.region).add_auth(request)
        return dict(request.headers)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _serves(pid: int, state_dir: Path) -> bool:
    """True if ``pid`` is the running server of ``state_dir`` (not a process that reused its pid)."""
    try:
        command = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return _alive(pid) and "covalent_braket_plugin.local.server" in command and str(state_dir) in command


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (psutil.Error, ProcessLookupError):
            continue
    return members


def _end_process_group(pgid: int, child: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the server (the group leader) so it shuts its parts down in order; SIGKILL whatever
    of its group is still there after that, so a stop never leaves a process behind."""
    os.kill(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _kill_group(pgid)
    if child is not None and child.poll() is None:
        child.wait()


def _kill_group(pgid: int) -> None:
    """SIGKILL every live process of the group and wait until they are gone."""
    leftovers = _group_members(pgid)
    for process in leftovers:
        try:
            process.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(leftovers, timeout=10)


def _last_error(log_path: Path, start: int) -> str:
    """The server's own error line (``error: ...``) of this run if it wrote one, else its last line."""
    try:
        with open(log_path, "rb") as log:
            log.seek(start)
            lines = log.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return f"no log at {log_path}"
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return errors[-1] if errors else (lines[-1] if lines else f"no output; see {log_path}")
