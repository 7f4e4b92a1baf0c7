"""The package's layout rules (docs/architecture.md), read from the code's own imports.

Imports are parsed with ``ast``, at module level and inside functions alike (a function-level import
is a dependency all the same), leaving out ``if TYPE_CHECKING:`` blocks, which never run, and
counting ``importlib.import_module("...")`` calls with a literal name, which are imports spelled
differently. Each rule's failure names the module and line that break it.
"""

from __future__ import annotations

import ast
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import covalent_braket_plugin
from tests.conftest import FreshPython

PACKAGE = covalent_braket_plugin.__name__
PACKAGE_DIR = Path(covalent_braket_plugin.__file__).parent


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written and resolved to a module of the package if it is one."""

    target: str  # the dotted name imported, made absolute
    module: str | None  # the package's module it resolves to; None outside the package
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {
    _module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py")) if "__pycache__" not in path.parts
}


def _resolve(name: str) -> str | None:
    """The package's module that importing ``name`` runs: ``name`` itself or its closest parent."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self._package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, int]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:  # the else branch does run
                self.visit(statement)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.extend((alias.name, node.lineno) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self._package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            # `from pkg import module` imports pkg.module; `from module import name` imports module.
            submodule = f"{source}.{alias.name}"
            self.found.append((submodule if submodule in MODULES else source, node.lineno))

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        argument = node.args[0] if node.args else None
        if name == "import_module" and isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            self.found.append((argument.value, node.lineno))
        self.generic_visit(node)


def imports_of(module: str) -> list[Import]:
    """Every import of ``module`` that runs, in source order."""
    path = MODULES[module]
    collector = _ImportCollector(module, path.name == "__init__.py")
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    return [Import(target, _resolve(target), line) for target, line in collector.found]


def package_imports(module: str) -> Iterator[tuple[str, Import]]:
    """(the package's module reached, the import) for each import of ``module`` reaching another."""
    for found in imports_of(module):
        if found.module is not None and found.module != module:
            yield found.module, found


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _where(module: str, found: Import) -> str:
    return f"{MODULES[module].relative_to(PACKAGE_DIR.parent)}:{found.line} imports {found.target}"


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) per strongly connected component (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_within(component, graph) for component in components]


def _cycle_within(component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & component):
                if successor == start:
                    return [*paths[node], start]
                if successor not in paths:
                    paths[successor] = [*paths[node], successor]
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{sorted(component)} is strongly connected, so it holds a cycle")


def test_the_collector_sees_every_kind_of_import() -> None:
    """The parser the rules stand on: relative, function-level and import_module imports count;
    TYPE_CHECKING blocks do not, their else branch does."""
    source = textwrap.dedent(
        """
        import importlib
        from typing import TYPE_CHECKING
        from . import errors
        from .executor import runtime

        if TYPE_CHECKING:
            from covalent_braket_plugin.doctor import checks
        else:
            from covalent_braket_plugin import braket

        def later():
            import covalent_braket_plugin.quantum_tasks
            importlib.import_module("covalent_braket_plugin.cli.local")
        """
    )
    collector = _ImportCollector(f"{PACKAGE}.aws", is_package=False)
    collector.visit(ast.parse(source))
    found = {target for target, _ in collector.found}
    assert {
        f"{PACKAGE}.errors",
        f"{PACKAGE}.executor.runtime",
        f"{PACKAGE}.braket",
        f"{PACKAGE}.quantum_tasks",
        f"{PACKAGE}.cli.local",
    } <= found
    assert f"{PACKAGE}.doctor.checks" not in found


def test_cycles_are_found_and_reported_as_a_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert sorted(find_cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_has_no_cycle() -> None:
    graph = {module: {reached for reached, _ in package_imports(module)} for module in MODULES}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


# The house's floors, bottom up: a module may import its own room and the floors below it, never a room
# beside it or above it (docs/architecture.md draws them). The package root is not on a floor: its
# lazy names (AmazonBraketlib, input_path) are the public way in, resolved on first use.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("job", "errors", "helpers"),
    ("aws",),
    ("validation", "s3_layout", "hybrid_jobs", "images", "quantum_tasks", "job_stop"),
    ("settings",),
    ("covalent_conf", "billing"),
    ("executor", "local", "provisioning"),
    ("doctor", "inventory", "guard", "testing", "tasks"),
    ("cli", "braket"),
)
SHARED_FLOORS = frozenset({2, 4})
"""Floors of building blocks that may use each other (never in a circle: the cycle test says so)."""


def floor_of(module: str) -> tuple[int, str] | None:
    """(floor, room) of one of the package's modules; None for the package root."""
    room = module.removeprefix(f"{PACKAGE}.").split(".")[0] if module != PACKAGE else None
    for floor, rooms in enumerate(LAYERS):
        if room in rooms:
            return floor, room
    return None


def upward_imports(modules: Iterator[str] | list[str]) -> list[str]:
    """Each import of ``modules`` that reaches a room above its own, or beside it on a floor whose
    rooms must not use each other."""
    offending = []
    for module in modules:
        here = floor_of(module)
        if here is None:
            continue
        for reached, found in package_imports(module):
            there = floor_of(reached)
            if there is None or there[1] == here[1]:
                continue
            beside = there[0] == here[0] and here[0] not in SHARED_FLOORS
            if there[0] > here[0] or beside:
                offending.append(_where(module, found))
    return offending


def test_every_room_of_the_package_is_on_a_floor() -> None:
    rooms = {module.removeprefix(f"{PACKAGE}.").split(".")[0] for module in MODULES if module != PACKAGE}
    assert rooms == {room for rooms in LAYERS for room in rooms}


def test_dependencies_point_down_the_floors() -> None:
    offending = upward_imports(list(MODULES))
    assert not offending, "imports that run upward or sideways: " + "; ".join(offending)


def test_the_floor_rule_sees_an_upward_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule above would pass vacuously if it could not see the kind of import it forbids."""
    settings = f"{PACKAGE}.settings"
    executor = Import(f"{PACKAGE}.executor.runtime", f"{PACKAGE}.executor.runtime", 1)
    local = Import(f"{PACKAGE}.local.stack", f"{PACKAGE}.local.stack", 2)
    real = imports_of

    def with_upward(module: str) -> list[Import]:
        return [*real(module), executor, local] if module == settings else real(module)

    monkeypatch.setattr(f"{__name__}.imports_of", with_upward)
    found = upward_imports([settings])
    assert len(found) == 2 and "imports covalent_braket_plugin.executor.runtime" in found[0], found
    assert upward_imports([f"{PACKAGE}.local.stack"]) == []


def test_the_doctor_does_not_depend_on_the_local_stack() -> None:
    """A production command must not need the emulator: doctor reads images through executor/."""
    offending = [
        _where(module, found)
        for module in MODULES
        if _in(module, f"{PACKAGE}.doctor")
        for reached, found in package_imports(module)
        if _in(reached, f"{PACKAGE}.local")
    ]
    assert not offending, offending


def test_the_in_job_code_imports_nothing_of_the_package() -> None:
    """job/ is copied into images and source archives where the package is not installed."""
    offending = [
        _where(module, found)
        for module in MODULES
        if _in(module, f"{PACKAGE}.job")
        for found in imports_of(module)
        if _in(found.target, PACKAGE)
    ]
    assert not offending, offending


def test_the_aws_layer_imports_nothing_of_the_package_but_its_errors() -> None:
    """Everything else builds on aws.py, so it may depend on nothing else (no cycle can form)."""
    aws = f"{PACKAGE}.aws"
    errors = f"{PACKAGE}.errors"
    offending = [_where(aws, found) for reached, found in package_imports(aws) if reached != errors]
    assert not offending, offending


# Calls that make a boto3 session or a client configuration: only aws.py makes them, so every
# command and the executor share one retry configuration, one way to find the region and the account.
SESSION_FACTORIES = frozenset(
    {
        "boto3.session.Session",
        "boto3.Session",
        "boto3.client",
        "boto3.resource",
        "botocore.config.Config",
    }
)
# Where making them is right, and why.
SESSION_FACTORY_EXCEPTIONS = {
    # The AWS access layer itself.
    f"{PACKAGE}.aws": "the one AWS access layer",
    # Runs inside the job, where the package is not installed: job/ cannot import aws.py.
    f"{PACKAGE}.job": "runs inside the job, without the package",
    # Runs in AWS Lambda from a zip of the guard alone; Lambda's environment names the region.
    f"{PACKAGE}.guard.lambda_function": "runs in AWS Lambda, from the guard's zip",
    # The local stack's server side talks to its own moto services with its own clients.
    f"{PACKAGE}.local": "the local stack's server side, talking to its own services",
    # Test support: clients pointed at the local stack by its address, as a test's would be.
    f"{PACKAGE}.testing": "test support for the local stack",
}


def _qualified_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it was imported as (``Config`` -> ``botocore.config.Config``)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := _dotted(node.value)):
        return f"{base}.{node.attr}"
    return None


def session_factory_calls(source: str) -> Iterator[tuple[str, int]]:
    """(factory, line) for each call in ``source`` that makes a boto3 session, client or Config."""
    tree = ast.parse(source)
    names = _qualified_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (called := _dotted(node.func)):
            head, _, rest = called.partition(".")
            qualified = ".".join(filter(None, [names.get(head, head), rest]))
            if qualified in SESSION_FACTORIES:
                yield qualified, node.lineno


def test_the_factory_search_sees_aliases_and_attribute_chains() -> None:
    source = textwrap.dedent(
        """
        import boto3
        import boto3 as b
        from botocore.config import Config as C
        from boto3.session import Session

        boto3.session.Session()
        C(retries={})
        b.client("s3")
        Session()
        boto3.session.Session.get_available_regions("braket")
        """
    )
    assert list(session_factory_calls(source)) == [
        ("boto3.session.Session", 7),
        ("botocore.config.Config", 8),
        ("boto3.client", 9),
        ("boto3.session.Session", 10),
    ]


def test_only_the_aws_layer_makes_sessions_and_client_configurations() -> None:
    offending = [
        f"{MODULES[module].relative_to(PACKAGE_DIR.parent)}:{line} calls {factory}"
        for module in MODULES
        if not any(_in(module, allowed) for allowed in SESSION_FACTORY_EXCEPTIONS)
        for factory, line in session_factory_calls(MODULES[module].read_text())
    ]
    assert not offending, "make sessions and clients through covalent_braket_plugin.aws: " + "; ".join(
        offending
    )


def test_the_aws_layer_does_make_them() -> None:
    """The rule above would pass vacuously if the search could not see aws.py's own factories."""
    aws_source = MODULES[f"{PACKAGE}.aws"].read_text()
    assert {factory for factory, _ in session_factory_calls(aws_source)} >= {
        "boto3.session.Session",
        "botocore.config.Config",
    }


# Each module imported in a process of its own, forked from one interpreter that has imported
# nothing of the package, so a module that only works after another was imported fails here.
IMPORT_EACH = """
import os, sys, traceback
modules = sys.argv[1:]
for name in modules:
    pid = os.fork()
    if pid == 0:
        try:
            __import__(name)
        except BaseException as exc:
            print(f"{name}\\t{type(exc).__name__}: {exc}".replace("\\n", " "), flush=True)
            os._exit(1)
        print(f"{name}\\tok", flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
"""

# Modules that must refuse to be imported on their own, with the message that says what to do.
REFUSES_ALONE = {
    f"{PACKAGE}.executor.executor": "ImportError: import covalent or covalent_braket_plugin.braket",
}


def test_every_module_imports_on_its_own(fresh_python: FreshPython) -> None:
    done = fresh_python(IMPORT_EACH, *MODULES, timeout=600)
    outcomes = dict(line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line)
    assert set(outcomes) == set(MODULES), f"no outcome for {sorted(set(MODULES) - set(outcomes))}"
    failed = {
        name: outcome for name, outcome in outcomes.items() if name not in REFUSES_ALONE and outcome != "ok"
    }
    assert not failed, "\n".join(f"{name}: {outcome}" for name, outcome in sorted(failed.items()))
    for name, message in REFUSES_ALONE.items():
        assert outcomes[name].startswith(message), outcomes[name]


def test_every_data_file_of_the_package_ships_in_the_wheel() -> None:
    """Files other than Python modules reach the wheel only through package-data in pyproject.toml;
    a file that moves without its pattern works from a checkout and is missing once installed."""
    pyproject = tomllib.loads((PACKAGE_DIR.parent / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    shipped = {
        path
        for package, patterns in package_data.items()
        for pattern in patterns
        for path in (PACKAGE_DIR.parent / package.replace(".", "/")).glob(pattern)
    }
    data_files = {
        path
        for path in PACKAGE_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".py", ".pyc")
    }
    assert data_files, "the package has data files (the job's Dockerfile.template, the price list)"
    assert data_files <= shipped, f"not in package-data: {sorted(map(str, data_files - shipped))}"
