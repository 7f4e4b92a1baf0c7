"""include_modules on the local stack: an electron reads the source of a helper from a module the
job's Python does not have (process runner: the job process gets neither this test's sys.path nor
the module's folder)."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from pathlib import Path

import pytest

from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import electron_metadata, executor_for
from tests.integration.executor.conftest import BUCKET

HELPER = '''
def cost(angle):
    """A function a source-reading library would compile."""
    return angle * 2
'''


def test_inspect_getsource_on_a_helper_of_an_included_module(
    stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"included_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(HELPER))
    monkeypatch.syspath_prepend(str(tmp_path))
    helper = __import__(module).cost

    def electron() -> tuple[str, float]:
        import importlib
        import inspect

        return inspect.getsource(helper), importlib.import_module(helper.__module__).cost(0.25)

    executor = executor_for(BUCKET, include_modules=[module])
    metadata = electron_metadata()
    source = textwrap.dedent(HELPER).lstrip("\n")
    assert asyncio.run(executor.run(electron, [], {}, metadata)) == (source, 0.5)
