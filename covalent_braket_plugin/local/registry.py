"""A real image registry for the local stack: Debian's ``docker-registry`` (CNCF distribution 2.x).

Job images are pushed here with ``docker push`` exactly as they would be pushed to ECR, and the
docker job runner pulls them from here. The stack's ECR API (``ecr/models.py``) reads what this registry
holds, so DescribeImages answers from the images that really exist rather than from a model of them.

The registry runs as a child process of the stack's server, on 127.0.0.1 and a free port, with
filesystem storage under the stack's state dir and deletes enabled. It has no authentication:
any credentials ``docker login`` sends are accepted, which is what the ECR token stands for here.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from covalent_braket_plugin.images import INDEX_MANIFEST_TYPES, MANIFEST_TYPES

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
START_TIMEOUT_S = 30.0
_START_ATTEMPTS = 3
_HTTP_TIMEOUT_S = 30.0


class RegistryUnavailableError(RuntimeError):
    """The registry binary is missing or the registry did not come up."""


@dataclass(frozen=True)
class Manifest:
    """One manifest as the registry serves it: its digest, media type and raw bytes."""

    repository: str
    digest: str
    media_type: str
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MANIFEST_TYPES


class LocalRegistry:
    """Start, query and stop one ``docker-registry`` process.

    The query methods speak the registry HTTP API v2 (tags, manifests, deletes). Two things that API
    does not tell, the digests of untagged manifests and when a manifest or tag was pushed, are read
    from the registry's own filesystem storage, whose layout this class chose when it configured it.
    """

    def __init__(self, state_dir: Path, host: str = "127.0.0.1", binary: Path = REGISTRY_BINARY) -> None:
        self.state_dir = Path(state_dir)
        self.storage_dir = self.state_dir / "storage"
        self.host = host
        self.binary = Path(binary)
        self.address = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._http = requests.Session()

    def start(self) -> LocalRegistry:
        """Start the registry on a free port and return once ``/v2/`` answers."""
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise RegistryUnavailableError(
                f"no image registry binary at {self.binary}: install it with "
                "`apt-get install docker-registry`"
            )
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        failure: RegistryUnavailableError | None = None
        for _ in range(_START_ATTEMPTS):
            try:
                return self._start_on(_free_port(self.host))
            except RegistryUnavailableError as exc:
                # Another process may have taken the port between choosing and binding it.
                failure = exc
        raise failure or RegistryUnavailableError("docker-registry did not start")

    def _start_on(self, port: int) -> LocalRegistry:
        address = f"{self.host}:{port}"
        config = self.state_dir / "config.yml"
        config.write_text(json.dumps(self._config(address), indent=2))  # YAML is a superset of JSON
        environment = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        log_path = self.state_dir / "registry.log"
        with open(log_path, "ab") as log:
            self._process = subprocess.Popen(
                [str(self.binary), "serve", str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=environment,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                self._process = None
                raise RegistryUnavailableError(
                    f"docker-registry exited at start on {address}: {_tail(log_path)}"
                )
            try:
                if self._http.get(f"http://{address}/v2/", timeout=2).status_code == 200:
                    self.address = address
                    return self
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RegistryUnavailableError(f"docker-registry did not answer on {address}")
            time.sleep(0.05)

    def _config(self, address: str) -> dict[str, Any]:
        return {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
            },
            "http": {"addr": address, "secret": secrets.token_hex(16)},
        }

    def stop(self) -> None:
        """Stop the registry process; its storage stays so a restarted stack keeps its images."""
        process, self._process = self._process, None
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._http.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # Registry HTTP API v2

    def tags(self, repository: str) -> list[str]:
        """The repository's tags, sorted; empty when the registry has never seen the repository."""
        response = self._http.get(self._url(repository, "tags/list"), timeout=_HTTP_TIMEOUT_S)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(response.json().get("tags") or [])

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest a tag or digest names, in the format it was pushed; None when absent."""
        response = self._http.get(
            self._url(repository, f"manifests/{reference}"),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            timeout=_HTTP_TIMEOUT_S,
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return Manifest(
            repository=repository,
            digest=response.headers["Docker-Content-Digest"],
            media_type=response.headers.get("Content-Type", "").split(";")[0],
            body=response.content,
        )

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest (and so every tag pointing at it); False when it was not there."""
        response = self._http.delete(self._url(repository, f"manifests/{digest}"), timeout=_HTTP_TIMEOUT_S)
        if response.status_code == 404:
            return False
        response.raise_for_status()
        return True

    def _url(self, repository: str, rest: str) -> str:
        if not self.address:
            raise RegistryUnavailableError("the registry is not running")
        return f"http://{self.address}/v2/{repository}/{rest}"

    # Filesystem storage: what the v2 API does not expose

    def _manifests_dir(self, repository: str) -> Path:
        return self.storage_dir / "docker/registry/v2/repositories" / repository / "_manifests"

    def digests(self, repository: str) -> list[str]:
        """Digests of every manifest in the repository, tagged or not."""
        revisions = self._manifests_dir(repository) / "revisions"
        return sorted(
            f"{algorithm.name}:{entry.name}"
            for algorithm in _children(revisions)
            for entry in _children(algorithm)
            if (entry / "link").is_file()
        )

    def untag(self, repository: str, tag: str) -> None:
        """Remove one tag and keep the manifest. The v2 API of distribution 2.x cannot delete a tag
        (only a manifest, with every tag on it), so the tag is removed from storage as the registry's
        own tag store does it: by deleting the tag's directory."""
        shutil.rmtree(self._manifests_dir(repository) / "tags" / tag, ignore_errors=True)

    def pushed_at(self, repository: str, digest: str) -> datetime:
        """When the manifest was last pushed (the time the registry linked it into the repository)."""
        algorithm, _, hex_digest = digest.partition(":")
        link = self._manifests_dir(repository) / "revisions" / algorithm / hex_digest / "link"
        return datetime.fromtimestamp(link.stat().st_mtime, tz=UTC)


def _children(path: Path) -> list[Path]:
    return sorted(path.iterdir()) if path.is_dir() else []


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:]) or "(no output)"
    except OSError:
        return "(no log)"
