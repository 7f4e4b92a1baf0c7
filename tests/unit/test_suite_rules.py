"""The suite's own rules (tests/conftest.py), checked on a small throwaway suite."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).parents[1] / "conftest.py"

SKIPPING_SUITE = """
import pytest

def test_runs():
    assert True

def test_skips():
    pytest.skip("no quantum computer on this desk")

@pytest.fixture
def engine():
    pytest.skip("no engine here")

def test_needs_engine(engine):
    assert engine

@pytest.mark.xfail(reason="known to fail", strict=True)
def test_expected_failure():
    assert False
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_sample=SKIPPING_SUITE)
    return pytester


def test_local_runs_may_skip(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)

    result = suite.runpytest("-rs")

    result.assert_outcomes(passed=1, skipped=2, xfailed=1)
    result.stdout.fnmatch_lines(["*no quantum computer on this desk*", "*no engine here*"])


def test_a_skip_under_ci_is_a_failure_with_its_reason(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")

    result = suite.runpytest()

    result.assert_outcomes(passed=1, failed=1, errors=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*skipped under CI=true, where every test must run: Skipped: no quantum computer on this desk*",
            "*skipped under CI=true, where every test must run: Skipped: no engine here*",
        ]
    )


def test_a_module_skipped_at_collection_under_ci_is_a_failure(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_gated='import pytest\npytest.importorskip("no_such_module_here")\n')

    result = pytester.runpytest()

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*skipped at collection under CI=true*no_such_module_here*"])


def test_tests_are_marked_by_directory(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    integration: local stack\n    e2e: real engine\n")
    for directory in ("unit", "integration", "e2e"):
        pytester.mkdir(directory)
        pytester.path.joinpath(directory, f"test_{directory}.py").write_text("def test_it():\n    pass\n")

    result = pytester.runpytest("-m", "not e2e", "--collect-only", "-q")

    result.stdout.fnmatch_lines(["integration/test_integration.py::test_it", "unit/test_unit.py::test_it"])
    result.stdout.no_fnmatch_line("*e2e*")
    assert pytester.runpytest("-m", "integration").parseoutcomes() == {"passed": 1, "deselected": 2}
