"""The Debian image that job images start ``FROM`` when no container registry can be reached.

Job images are built from ``Dockerfile.template`` on top of a Debian image with Python in it. On a
machine that reaches no registry (an offline laptop, CI next to the local stack) no such image can be
pulled, so this module makes one from Debian packages alone: ``debootstrap`` writes a minimal root
file system and the Docker engine imports it as an image. That takes about a minute, once per engine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import docker.utils

from covalent_braket_plugin.images import ImageError, MissingPrerequisiteError, docker_client

DEFAULT_BASE_IMAGE = "covalent-braket/base:bookworm"
DEFAULT_SUITE = "bookworm"
PACKAGES = ("python3", "python3-pip", "python3-venv", "ca-certificates")
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    # Debian marks its Python "externally managed" (PEP 668); job images pip-install the electron's
    # dependencies into it, as they would into the python:3.x images a registry offers.
    "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
    'CMD ["/bin/bash"]',
)
_CHUNK_BYTES = 1 << 20
_OUTPUT_TAIL_LINES = 20

Progress = Callable[[str], None]


_build_locks: dict[str, threading.Lock] = {}
_build_locks_guard = threading.Lock()


def ensure_base_image(
    tag: str = DEFAULT_BASE_IMAGE,
    suite: str = DEFAULT_SUITE,
    progress: Progress = print,
    client: docker.DockerClient | None = None,
) -> str:
    """Return ``tag`` once the engine holds it, building it from Debian ``suite`` if it does not.

    Callers in one process that ask for the same tag at the same time wait for a single build.
    """
    client = client or docker_client()
    with _lock_for(tag):
        if _has_image(client, tag):
            return tag
        debootstrap = _build_tool()
        progress(f"building {tag} from Debian {suite} with debootstrap (about a minute, once per engine)")
        work_dir = Path(tempfile.mkdtemp(prefix="braket-base-image-"))
        rootfs = work_dir / "rootfs"
        try:
            _debootstrap(debootstrap, suite, rootfs, progress)
            _drop_package_caches(rootfs)
            progress(f"importing the {suite} root file system as {tag}")
            _import_rootfs(client, rootfs, tag)
        finally:
            _remove_tree(work_dir)
        progress(f"{tag} is ready")
    return tag


def _lock_for(tag: str) -> threading.Lock:
    with _build_locks_guard:
        return _build_locks.setdefault(tag, threading.Lock())


def _has_image(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _build_tool() -> str:
    """The path of ``debootstrap``, after checking that it can run here (it needs root)."""
    debootstrap = shutil.which("debootstrap")
    problems = []
    if debootstrap is None:
        problems.append("debootstrap is not installed (install it with `apt-get install debootstrap`)")
    if os.geteuid() != 0:
        problems.append("debootstrap must run as root (it creates device nodes and chroots)")
    if problems or debootstrap is None:
        raise MissingPrerequisiteError("cannot build the base image: " + "; ".join(problems))
    return debootstrap


def _debootstrap(debootstrap: str, suite: str, rootfs: Path, progress: Progress) -> None:
    command = [debootstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(rootfs)]
    tail: deque[str] = deque(maxlen=_OUTPUT_TAIL_LINES)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip())
            progress(tail[-1])
        returncode = process.wait()
    except BaseException:
        # debootstrap unmounts what it mounted in the rootfs on its way out; wait for that before
        # the caller deletes the tree.
        process.terminate()
        process.wait()
        raise
    if returncode != 0:
        output = "\n".join(tail)
        raise ImageError(f"debootstrap {suite} failed with exit code {returncode}:\n{output}")


def _drop_package_caches(rootfs: Path) -> None:
    """Delete the downloaded .deb files and package lists (about 100 MB), as Debian's own images do."""
    for leftover in [*rootfs.glob("var/cache/apt/archives/*.deb"), *rootfs.glob("var/lib/apt/lists/*")]:
        if leftover.is_file():
            leftover.unlink()


def _import_rootfs(client: docker.DockerClient, rootfs: Path, tag: str) -> None:
    """``docker import`` the tree, streamed through ``tar`` so no tarball is written to disk."""
    repository, image_tag = docker.utils.parse_repository_tag(tag)
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", "-", "."], stdout=subprocess.PIPE
    )
    stdout = tar.stdout
    assert stdout is not None
    chunks: Iterator[bytes] = iter(lambda: stdout.read(_CHUNK_BYTES), b"")
    try:
        response = client.api.import_image_from_stream(
            chunks, repository=repository, tag=image_tag, changes=list(IMAGE_CHANGES)
        )
    except docker.errors.DockerException as exc:
        raise ImageError(f"the engine refused to import {tag}: {exc}") from exc
    finally:
        stdout.close()
        tar_status = tar.wait()
    if tar_status != 0:
        raise ImageError(f"tar of {rootfs} failed with exit code {tar_status}")
    _raise_on_stream_error(response, tag)


def _raise_on_stream_error(response: str, tag: str) -> None:
    """The engine answers 200 and reports import failures inside its JSON progress stream."""
    decoder = json.JSONDecoder()
    position = 0
    while position < len(response):
        if response[position].isspace():
            position += 1
            continue
        message, position = decoder.raw_decode(response, position)
        if "error" in message:
            raise ImageError(f"the engine could not import {tag}: {message['error']}")


def _remove_tree(path: Path) -> None:
    """Delete ``path``, first unmounting anything still mounted below it.

    A debootstrap that was killed can leave /proc or /sys of the new system mounted; deleting through
    such a mount would reach into the host's own.
    """
    for mount_point in _mount_points_below(path, Path("/proc/self/mounts").read_text()):
        subprocess.run(["umount", "--lazy", mount_point], check=True)
    shutil.rmtree(path)


def _mount_points_below(path: Path, mounts_table: str) -> list[str]:
    """Mount points under ``path`` in a ``/proc/self/mounts`` table, deepest first."""
    prefix = f"{path}/"
    points = []
    for line in mounts_table.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        # The table escapes blanks in paths as octal (e.g. "\040").
        point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), fields[1])
        if point.startswith(prefix):
            points.append(point)
    return sorted(points, key=len, reverse=True)
