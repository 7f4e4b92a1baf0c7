"""The documentation site builds without a warning, nothing in it is left out or stale, and the
getting-started page's steps work when followed literally.

The site is built the way its readers get it (``sphinx-build -W -n``), into a temporary directory, so a
broken link, a bad heading level or a page missing from the table of contents fails the suite.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import toml

from covalent_braket_plugin.cli import build_parser
from covalent_braket_plugin.settings import settings_reference_markdown

DOCS = Path(__file__).parents[2] / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML site, built with warnings as errors (nitpicky: every reference must resolve)."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"sphinx-build failed:\n{done.stderr}\n{done.stdout[-3000:]}"
    return out


def _toctree_entries() -> list[str]:
    """The documents listed in the toctree of docs/index.md."""
    index = (DOCS / "index.md").read_text()
    blocks = re.findall(r"```\{toctree\}\n(.*?)```", index, flags=re.S)
    assert blocks, "docs/index.md has no toctree"
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith(":")
    ]


def test_the_site_builds_without_warnings(site: Path) -> None:
    assert (site / "index.html").is_file()
    for page in DOCS.glob("*.md"):
        assert (site / f"{page.stem}.html").is_file(), page.name


def test_every_page_is_in_the_table_of_contents() -> None:
    pages = {page.stem for page in DOCS.glob("*.md")} - {"index"}
    entries = _toctree_entries()
    assert len(entries) == len(set(entries)), entries
    assert set(entries) == pages, (
        f"pages missing from the toctree of docs/index.md: {sorted(pages - set(entries))}; "
        f"toctree entries without a page: {sorted(set(entries) - pages)}"
    )


def test_the_commands_page_documents_every_command(site: Path) -> None:
    (subparsers,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    commands = sorted(subparsers.choices)
    assert commands, "covalent-braket has no commands"
    page = (site / "commands.html").read_text()
    missing = [name for name in commands if f'id="covalent-braket-{name}"' not in page]
    assert not missing, f"docs/commands.md does not document: {missing}"


def test_the_configuration_page_is_the_generated_reference(site: Path) -> None:
    assert (DOCS / "configuration.md").read_text() == settings_reference_markdown()
    assert "<table" in (site / "configuration.html").read_text()


def test_the_architecture_page_draws_its_diagrams(site: Path) -> None:
    """The diagrams are mermaid source; the extension turns each into a block the browser draws."""
    source = (DOCS / "architecture.md").read_text()
    page = (site / "architecture.html").read_text()
    diagrams = source.count("```{mermaid}")
    assert diagrams >= 2
    assert page.count('class="mermaid"') == diagrams
    assert "sequenceDiagram" in page and "flowchart TD" in page


GETTING_STARTED = DOCS / "getting-started.md"
SET_CONFIG = re.compile(r'set_config\("executors\.braket\.(\w+)", "([^"]*)"\)')


def _fences(page: str, language: str) -> list[str]:
    """The contents of the page's fenced blocks of ``language``."""
    return re.findall(rf"^```{language}\n(.*?)^```", page, flags=re.S | re.M)


def test_getting_started_changes_covalent_conf_keys_in_place(tmp_path: Path) -> None:
    """covalent.conf as covalent leaves it once imported (every setting of the plugin, most of them
    empty) stays a file covalent reads after each of the page's steps: a TOML fragment without a
    table header goes into ``[executors.braket]``, where a key the section has already would be a
    duplicate, and each ``set_config`` command sets its key to its value."""
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("COVALENT_", "XDG_"))},
        "HOME": str(tmp_path),
        "COVALENT_CONFIG_DIR": str(tmp_path / "covalent"),
    }
    imported = [sys.executable, "-c", "import covalent"]
    subprocess.run(imported, env=environment, check=True, capture_output=True)
    conf = tmp_path / "covalent" / "covalent.conf"
    written = conf.read_text()
    assert "[executors.braket]\n" in written and 'ecr_image_uri = ""' in written
    page = GETTING_STARTED.read_text()
    for fragment in _fences(page, "toml"):
        if not re.search(r"^\[", fragment, flags=re.M):
            added = written.replace("[executors.braket]\n", f"[executors.braket]\n{fragment}", 1)
            try:
                toml.loads(added)
            except toml.TomlDecodeError as error:
                pytest.fail(f"adding {fragment.strip()!r} to [executors.braket] breaks the file: {error}")
    lines = [line for block in _fences(page, "bash") for line in block.splitlines()]
    commands = [line for line in lines if SET_CONFIG.search(line)]
    assert commands, "the page does not show how to set a key of covalent.conf"
    for command in commands:
        key, value = SET_CONFIG.search(command).groups()  # type: ignore[union-attr]
        argv = shlex.split(command, comments=True)
        assert argv[0] == "python", command
        subprocess.run([sys.executable, *argv[1:]], env=environment, check=True, capture_output=True)
        assert toml.loads(conf.read_text())["executors"]["braket"][key] == value, command


def test_getting_started_runs_only_scripts_it_gives() -> None:
    """A script the page runs is one it gives in full: the wheel ships no examples/."""
    page = GETTING_STARTED.read_text()
    run = re.compile(r"^python (\S+\.py)", flags=re.M)
    scripts = [name for block in _fences(page, "bash") for name in run.findall(block)]
    assert scripts, "the page runs no workflow"
    for script in set(scripts):
        given = re.search(rf"as `{re.escape(script)}`.*?\n```python\n(.*?)^```", page, flags=re.S | re.M)
        assert given, f"the page runs {script} without giving it"
        compile(given.group(1), script, "exec")
