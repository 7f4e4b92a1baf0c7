"""include_modules: a module's files travel with the electron, importable and readable by
``inspect.getsource`` in a job that does not have them (a fresh interpreter without the module)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from covalent_braket_plugin.errors import ExecutorConfigError
from covalent_braket_plugin.executor import include_modules
from covalent_braket_plugin.helpers import WithModules
from covalent_braket_plugin.settings import BraketExecutorSettings

KERNELS = '''
def bell_kernel(qubits):
    """A kernel whose source a compiler would read."""
    return ["h 0", "cnot 0 1"][:qubits]
'''


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package ``shipme`` (with a subpackage) on this process's sys.path only."""
    root = tmp_path / "src"
    (root / "shipme" / "sub").mkdir(parents=True)
    (root / "shipme" / "__init__.py").write_text("")
    (root / "shipme" / "kernels.py").write_text(textwrap.dedent(KERNELS))
    (root / "shipme" / "sub" / "__init__.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(root))
    return root


def test_modules_are_checked_when_the_executor_is_made(package: Path) -> None:
    import json

    assert BraketExecutorSettings.from_options(include_modules=[json, "shipme.kernels"]).include_modules == [
        "json", "shipme.kernels"
    ]
    for bad, message in [("no_such_module_here", "cannot be found here; install it or put it on sys.path"),
                         ("sys", "has no Python source file here (found: built-in)"),
                         ("a..b", "is not a module name")]:
        with pytest.raises(ExecutorConfigError, match=r"include_modules: .*" + message.replace("(", r"\(")
                           .replace(")", r"\)")):
            BraketExecutorSettings.from_options(include_modules=[bad])


def test_a_package_ships_all_its_files_and_a_dotted_module_its_parents(package: Path) -> None:
    assert sorted(include_modules.source_files(["shipme"]).values()) == [
        "shipme/__init__.py", "shipme/kernels.py", "shipme/sub/__init__.py"
    ]
    assert sorted(include_modules.source_files(["shipme.kernels"]).values()) == [
        "shipme/__init__.py", "shipme/kernels.py"
    ]


def test_without_modules_the_function_travels_unchanged() -> None:
    def electron() -> int:
        return 1

    assert include_modules.with_modules(electron, []) is electron


def test_in_a_job_without_the_module_its_source_reads_and_it_imports(
    package: Path, tmp_path: Path, fresh_python: Any
) -> None:
    from shipme.kernels import bell_kernel

    def electron() -> dict[str, Any]:
        import inspect

        import shipme.sub

        return {"source": inspect.getsource(bell_kernel), "ops": bell_kernel(2), "value": shipme.sub.VALUE}

    wrapped = include_modules.with_modules(electron, ["shipme"])
    assert isinstance(wrapped, WithModules)
    pickled = tmp_path / "task.pkl"
    pickled.write_bytes(cloudpickle.dumps(wrapped))
    code = (
        "import pickle, sys, json\n"
        "sys.modules['covalent_braket_plugin'] = None  # the job image has no plugin\n"
        "assert not any('src' in entry for entry in sys.path)\n"
        "print(json.dumps(pickle.load(open(sys.argv[1], 'rb'))()))\n"
    )
    import json

    outcome = json.loads(fresh_python(code, str(pickled)).stdout)
    source = textwrap.dedent(KERNELS).lstrip("\n")
    assert outcome == {"source": source, "ops": ["h 0", "cnot 0 1"], "value": 42}
