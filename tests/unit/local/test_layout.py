"""The local stack's import graph: acyclic, and the stack never depends on its test support.

Read from the source with ``ast`` (imports inside functions count too), so a cycle hidden behind a
function-level import fails here as well.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import covalent_braket_plugin

PACKAGE = Path(covalent_braket_plugin.__file__).parent
LOCAL = "covalent_braket_plugin.local"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path) -> set[str]:
    """The package modules ``name`` imports, resolved to the modules that exist."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    resolved = set()
    for target in found:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


GRAPH = {name: _imports(name, path) for name, path in MODULES.items() if name.startswith(LOCAL)}


def test_the_local_stack_has_no_import_cycle() -> None:
    local_only = {name: {d for d in deps if d.startswith(LOCAL)} for name, deps in GRAPH.items()}
    try:
        TopologicalSorter(local_only).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle in the local stack: {exc.args[1]}") from None


def test_the_local_stack_does_not_import_its_test_support() -> None:
    testing = "covalent_braket_plugin.testing"
    assert not {n: d for n, deps in GRAPH.items() for d in deps if d.startswith(testing)}


def test_the_task_runner_and_events_sit_below_the_backend() -> None:
    """The Braket API's layers point one way: protocol and errors under everything, the backend above
    the task runner and the events, the HTTP responses on top."""
    api = f"{LOCAL}.braket_api"
    assert f"{api}.backend" not in GRAPH[f"{api}.task_runner"] | GRAPH[f"{api}.events"]
    assert f"{api}.responses" not in GRAPH[f"{api}.backend"]
    assert not GRAPH[f"{api}.protocol"] - {f"{api}.errors"}
