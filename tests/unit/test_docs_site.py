"""The documentation site builds without a warning, and nothing in it is left out or stale.

The site is built the way its readers get it (``sphinx-build -W -n``), into a temporary directory, so a
broken link, a bad heading level or a page missing from the table of contents fails the suite.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from covalent_braket_plugin.cli import build_parser
from covalent_braket_plugin.executor.settings import settings_reference_markdown

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
