"""The local stack's own layering, read from its imports with the collector of tests/unit/test_layout.py
(which already forbids cycles in the whole package).

The stack must not need its test support, and the Braket API's layers point one way: protocol and
errors under everything, the task runner (with the simulation it hands to worker processes), the
state-change events and the search of records under the backend, the HTTP responses on top. The
backend is composed of one model per resource, which meet only there: each stands on the state they
share, never on another model.
"""

from __future__ import annotations

from tests.unit.test_layout import MODULES, PACKAGE, _in, package_imports

LOCAL = f"{PACKAGE}.local"
API = f"{LOCAL}.braket_api"
RESOURCE_MODELS = {
    module for module in MODULES if _in(module, API) and module.endswith("_model")
} - {f"{API}.resource_model"}
"""The models the backend is composed of, one per resource."""


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
    composed = RESOURCE_MODELS | {f"{API}.resource_model", f"{API}.backend", f"{API}.responses"}
    below = ("task_runner", "state_changes", "record_search")
    below_backend = set().union(*(_reached(f"{API}.{name}") for name in below))
    assert not composed & below_backend
    assert f"{API}.responses" not in _reached(f"{API}.backend")


def test_the_resource_models_meet_only_in_the_backend() -> None:
    assert len(RESOURCE_MODELS) == 5  # devices, quantum tasks, spending limits, hybrid jobs, tags
    above_models = RESOURCE_MODELS | {f"{API}.backend", f"{API}.responses"}
    for model in RESOURCE_MODELS:
        assert f"{API}.resource_model" in _reached(model), model
        assert not above_models & _reached(model), model
    assert not above_models & _reached(f"{API}.resource_model")
    assert _reached(f"{API}.backend") >= RESOURCE_MODELS
