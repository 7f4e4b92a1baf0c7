"""``include_modules``: local modules whose source files ship with the electron, as ``@hybrid_job``'s
``include_modules`` does.

Libraries that read a function's source (CUDA-Q kernels, AutoQASM, anything calling
``inspect.getsource``) fail on helpers that arrive only as pickles. So each named module (a package
with all its ``.py`` files) is pickled by value, and its files travel inside the task: in the job,
``helpers.WithModules`` writes them onto ``sys.path`` before the electron runs, so they import under
their own names and their source can be read.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cloudpickle

from covalent_braket_plugin.helpers import WithModules
from covalent_braket_plugin.validation import module_source


def source_files(names: Iterable[str]) -> dict[Path, str]:
    """Each file to ship (its path here) -> its path relative to its ``sys.path`` entry.

    A package brings every ``.py`` file under it; a dotted name also brings the ``__init__.py`` of
    the packages above it, so it imports in the job as it does here.
    """
    files: dict[Path, str] = {}
    for name in names:
        origin = module_source(name)
        depth = name.count(".") + (1 if origin.name == "__init__.py" else 0)
        root = origin.parents[depth]
        found = origin.parent.rglob("*.py") if origin.name == "__init__.py" else [origin]
        parents = [root.joinpath(*name.split(".")[:i], "__init__.py") for i in range(1, name.count(".") + 1)]
        for file in [*found, *parents]:
            if file.is_file():
                files[file] = file.relative_to(root).as_posix()
    return files


def with_modules(function: Callable[..., Any], names: Iterable[str]) -> Callable[..., Any]:
    """``function`` as it must travel: unchanged without modules, else wrapped with their files and
    their modules pickled by value (cloudpickle's registration lasts for the process)."""
    names = list(names)
    if not names:
        return function
    for name in names:
        module = importlib.import_module(name)
        cloudpickle.register_pickle_by_value(module)
    files = source_files(names)
    sources = {relative: path.read_bytes() for path, relative in files.items()}
    return WithModules(function, sources, {str(path): relative for path, relative in files.items()})
