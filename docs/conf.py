"""Sphinx configuration of the covalent-braket-plugin documentation site.

The pages are Markdown (MyST); the command reference is generated from the CLI's own parser by
sphinx-argparse, so it cannot drift from ``covalent-braket --help``. Diagrams are mermaid source in
the pages (sphinxcontrib-mermaid), drawn by the reader's browser, so they are edited like text. The
suite builds the site with warnings as errors (tests/unit/test_docs_site.py), so a broken link or
heading fails a test.
"""

from __future__ import annotations

from importlib.metadata import version as _installed_version

project = "covalent-braket-plugin"
author = "covalent-braket-plugin contributors"
release = _installed_version("covalent-braket-plugin")
version = release

extensions = ["myst_parser", "sphinxarg.ext", "sphinxcontrib.mermaid"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# "fence" (the default) keeps ``` blocks literal; colon_fence allows ::: directives as well.
myst_enable_extensions = ["colon_fence"]
# Anchors for headings down to ###, so pages can link to [a section](page.md#a-section).
myst_heading_anchors = 3

html_theme = "furo"
html_title = "covalent-braket-plugin"
