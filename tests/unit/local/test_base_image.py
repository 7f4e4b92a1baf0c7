"""Building and inspecting the job base image, with a stand-in debootstrap and Docker engine.

The stand-in debootstrap is a shell script on PATH that records its arguments and writes a tiny root
file system; ``tar`` is real, so the tests read back exactly what the engine would be sent.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from covalent_braket_plugin.images import ImageError, MissingPrerequisiteError, image_python_version
from covalent_braket_plugin.local import base_image
from covalent_braket_plugin.local.base_image import DEFAULT_BASE_IMAGE, ensure_base_image

FAKE_DEBOOTSTRAP = """#!/bin/sh
printf '%s\\n' "$*" >> "$(dirname "$0")/calls"
sleep 0.2
for target; do :; done
mkdir -p "$target/usr/bin" "$target/var/cache/apt/archives" "$target/var/lib/apt/lists/partial"
echo '#!/bin/sh' > "$target/usr/bin/python3"
touch "$target/var/cache/apt/archives/python3_3.11.2_amd64.deb" "$target/var/lib/apt/lists/debian_InRelease"
echo "I: Retrieving InRelease"
echo "I: Base system installed successfully."
"""

FAILING_DEBOOTSTRAP = """#!/bin/sh
echo "I: Retrieving InRelease"
echo "E: Failed getting release file http://deb.debian.org/debian/dists/nosuch/InRelease" >&2
exit 1
"""


class FakeImages:
    def __init__(self, present: Iterable[str] = ()) -> None:
        self.present = set(present)

    def get(self, tag: str) -> object:
        if tag not in self.present:
            raise docker.errors.ImageNotFound(f"No such image: {tag}")
        return object()


class FakeApi:
    def __init__(self, images: FakeImages, response: str = '{"status":"sha256:0123abcd"}\r\n') -> None:
        self.images = images
        self.response = response
        self.imports: list[dict[str, Any]] = []

    def import_image_from_stream(
        self, stream: Iterable[bytes], repository: str, tag: str | None, changes: list[str]
    ) -> str:
        data = b"".join(stream)
        self.imports.append({"data": data, "repository": repository, "tag": tag, "changes": changes})
        if '"error"' not in self.response:
            self.images.present.add(f"{repository}:{tag}")
        return self.response


class FakeContainers:
    def __init__(self, output: bytes = b"3.11\n", error: Exception | None = None) -> None:
        self.output = output
        self.error = error
        self.runs: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def run(self, *args: Any, **kwargs: Any) -> bytes:
        self.runs.append((args, kwargs))
        if self.error:
            raise self.error
        return self.output


class FakeClient:
    def __init__(self, present: Iterable[str] = (), import_response: str | None = None) -> None:
        self.images = FakeImages(present)
        self.api = FakeApi(self.images) if import_response is None else FakeApi(self.images, import_response)
        self.containers = FakeContainers()


@pytest.fixture
def tool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory first on PATH, for stand-in tools; the build runs 'as root'."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(base_image.os, "geteuid", lambda: 0)
    return bin_dir


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the build's temporary directory goes, so a test can see it was removed."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def install_tool(tool_dir: Path, name: str, script: str) -> Path:
    path = tool_dir / name
    path.write_text(script)
    path.chmod(0o755)
    return path


def test_present_image_is_not_rebuilt(tool_dir: Path) -> None:
    install_tool(tool_dir, "debootstrap", FAKE_DEBOOTSTRAP)
    client = FakeClient(present=[DEFAULT_BASE_IMAGE])
    messages: list[str] = []

    assert ensure_base_image(progress=messages.append, client=client) == DEFAULT_BASE_IMAGE

    assert messages == []
    assert client.api.imports == []
    assert not (tool_dir / "calls").exists()


def test_missing_image_is_debootstrapped_and_imported(tool_dir: Path, temp_root: Path) -> None:
    install_tool(tool_dir, "debootstrap", FAKE_DEBOOTSTRAP)
    client = FakeClient()
    messages: list[str] = []

    assert ensure_base_image(progress=messages.append, client=client) == DEFAULT_BASE_IMAGE

    (call,) = (tool_dir / "calls").read_text().splitlines()
    options, suite, target = call.rsplit(" ", 2)
    assert options == "--variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates"
    assert suite == "bookworm"
    assert Path(target).parent.parent == temp_root
    assert Path(target).name == "rootfs"
    assert list(temp_root.iterdir()) == []

    (imported,) = client.api.imports
    assert imported["repository"] == "covalent-braket/base"
    assert imported["tag"] == "bookworm"
    assert imported["changes"] == [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
        'CMD ["/bin/bash"]',
    ]
    with tarfile.open(fileobj=io.BytesIO(imported["data"])) as archive:
        names = set(archive.getnames())
        assert archive.getmember("./usr/bin/python3").uid == 0
    assert {"./usr/bin/python3", "./var/cache/apt/archives", "./var/lib/apt/lists/partial"} <= names
    assert "./var/cache/apt/archives/python3_3.11.2_amd64.deb" not in names
    assert "./var/lib/apt/lists/debian_InRelease" not in names

    assert messages == [
        "building covalent-braket/base:bookworm from Debian bookworm with debootstrap "
        "(about a minute, once per engine)",
        "I: Retrieving InRelease",
        "I: Base system installed successfully.",
        "importing the bookworm root file system as covalent-braket/base:bookworm",
        "covalent-braket/base:bookworm is ready",
    ]


def test_other_tag_and_suite(tool_dir: Path, temp_root: Path) -> None:
    install_tool(tool_dir, "debootstrap", FAKE_DEBOOTSTRAP)
    client = FakeClient()

    assert ensure_base_image("127.0.0.1:5000/base", suite="trixie", progress=lambda _: None, client=client)

    assert (tool_dir / "calls").read_text().split()[2] == "trixie"
    (imported,) = client.api.imports
    assert (imported["repository"], imported["tag"]) == ("127.0.0.1:5000/base", None)


def test_concurrent_callers_share_one_build(tool_dir: Path, temp_root: Path) -> None:
    install_tool(tool_dir, "debootstrap", FAKE_DEBOOTSTRAP)
    client = FakeClient()
    start = threading.Barrier(8)
    results: list[str] = []

    def call() -> None:
        start.wait()
        results.append(ensure_base_image(progress=lambda _: None, client=client))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [DEFAULT_BASE_IMAGE] * 8
    assert len((tool_dir / "calls").read_text().splitlines()) == 1
    assert len(client.api.imports) == 1


def test_missing_debootstrap_says_how_to_install_it(tool_dir: Path) -> None:
    with pytest.raises(MissingPrerequisiteError) as error:
        ensure_base_image(progress=lambda _: None, client=FakeClient())

    assert str(error.value) == (
        "cannot build the base image: debootstrap is not installed "
        "(install it with `apt-get install debootstrap`)"
    )


def test_building_needs_root(tool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_tool(tool_dir, "debootstrap", FAKE_DEBOOTSTRAP)
    monkeypatch.setattr(base_image.os, "geteuid", lambda: 1000)

    with pytest.raises(MissingPrerequisiteError) as error:
        ensure_base_image(progress=lambda _: None, client=FakeClient())

    assert str(error.value) == (
        "cannot build the base image: debootstrap must run as root (it creates device nodes and chroots)"
    )
    assert not (tool_dir / "calls").exists()


def test_failed_debootstrap_reports_its_output_and_cleans_up(tool_dir: Path, temp_root: Path) -> None:
    install_tool(tool_dir, "debootstrap", FAILING_DEBOOTSTRAP)
    client = FakeClient()

    with pytest.raises(ImageError) as error:
        ensure_base_image(suite="nosuch", progress=lambda _: None, client=client)

    assert str(error.value) == (
        "debootstrap nosuch failed with exit code 1:\n"
        "I: Retrieving InRelease\n"
        "E: Failed getting release file http://deb.debian.org/debian/dists/nosuch/InRelease"
    )
    assert client.api.imports == []
    assert list(temp_root.iterdir()) == []


def test_import_error_in_the_engine_stream_is_raised(tool_dir: Path, temp_root: Path) -> None:
    install_tool(tool_dir, "debootstrap", FAKE_DEBOOTSTRAP)
    client = FakeClient(
        import_response='{"status":"Importing"}\r\n'
        '{"errorDetail":{"message":"no space left on device"},"error":"no space left on device"}\r\n'
    )

    with pytest.raises(ImageError) as error:
        ensure_base_image(progress=lambda _: None, client=client)

    assert str(error.value) == (
        "the engine could not import covalent-braket/base:bookworm: no space left on device"
    )
    assert list(temp_root.iterdir()) == []


def test_no_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kwargs: Any) -> None:
        raise docker.errors.DockerException("Error while fetching server API version")

    monkeypatch.setattr(base_image.docker, "from_env", refuse)

    with pytest.raises(MissingPrerequisiteError) as error:
        ensure_base_image(progress=lambda _: None)

    assert str(error.value) == (
        "no Docker engine answers (Error while fetching server API version) at DOCKER_HOST or the default "
        "socket: start one (e.g. `sudo systemctl start docker`, or Docker Desktop), or set DOCKER_HOST to "
        "one that runs"
    )


def test_python_version_runs_python3_in_a_throwaway_host_network_container() -> None:
    client = FakeClient()

    assert image_python_version("job:abc", client=client) == "3.11"

    assert client.containers.runs == [
        (
            ("job:abc", ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]),
            {"network_mode": "host", "remove": True},
        )
    ]


def test_python_version_failures_name_the_image() -> None:
    client = FakeClient()
    client.containers.error = docker.errors.ContainerError(
        "c0ffee", 127, "python3", "job:abc", b"exec: python3: not found\n"
    )
    with pytest.raises(ImageError) as error:
        image_python_version("job:abc", client=client)
    assert str(error.value) == "python3 failed in job:abc (exit 127): exec: python3: not found"

    client.containers.error = None
    client.containers.output = b"Python is great\n"
    with pytest.raises(ImageError) as error:
        image_python_version("job:abc", client=client)
    assert str(error.value) == "python3 in job:abc printed 'Python is great', not a version"


def test_mount_points_below_a_tree_are_listed_deepest_first() -> None:
    table = (
        "proc /proc proc rw 0 0\n"
        "proc /tmp/build/rootfs/proc proc rw 0 0\n"
        "sysfs /tmp/build/rootfs/sys sysfs rw 0 0\n"
        "devpts /tmp/build/rootfs/dev/pts devpts rw 0 0\n"
        "tmpfs /tmp/build-other/x tmpfs rw 0 0\n"
        "tmpfs /tmp/build/with\\040blank tmpfs rw 0 0\n"
    )

    assert base_image._mount_points_below(Path("/tmp/build"), table) == [
        "/tmp/build/rootfs/dev/pts",
        "/tmp/build/rootfs/proc",
        "/tmp/build/rootfs/sys",
        "/tmp/build/with blank",
    ]
