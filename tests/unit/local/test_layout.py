"""The local stack's own layering, read from its imports with the collector of tests/unit/test_layout.py
(which already forbids cycles in the whole package).

The stack must not need its test support, and the Braket API's layers point one way: protocol and
errors under everything, the task runner (with the simulation it hands to worker processes) and the
events under the backend, the HTTP responses on top.
"""

from __future__ import annotations

from tests.unit.test_layout import MODULES, PACKAGE, _in, package_imports

LOCAL = f"{PACKAGE}.local"
API = f"{LOCAL}.braket_api"


def _reached(module: str) -> set[str]:
    return {reached for reached, _ in package_imports(module)}


def test_the_local_stack_does_not_import_its_test_support() -> None:
    offending = {
        module: reached
        for module in MODULES
        if _in(module, LOCAL)
        for reached in _reached(module)
        if _in(reached, f"{PACKAGE}.testing")
    }
    assert not offending


def test_the_braket_api_layers_point_one_way() -> None:
    assert _reached(f"{API}.protocol") <= {f"{API}.errors"}
    below_backend = _reached(f"{API}.task_runner") | _reached(f"{API}.events")
    assert not {f"{API}.backend", f"{API}.responses"} & below_backend
    assert f"{API}.responses" not in _reached(f"{API}.backend")
