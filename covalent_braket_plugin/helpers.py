"""What runs in the electron's Braket job on the plugin's behalf: where its input channels are
(:func:`input_path`), and the modules shipped with it (:class:`WithModules`, for ``include_modules``).

The job image does not have this package, so this module is pickled by value (registered with
cloudpickle when the package is imported): an electron that calls :func:`input_path` carries the
function itself to the job. Hence the standard library only, here.
"""

from __future__ import annotations

import linecache
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cloudpickle

INPUT_DIR_VARIABLE = "AMZN_BRAKET_INPUT_DIR"


def input_path(channel: str) -> Path:
    """The folder Braket downloaded the ``input_data`` channel ``channel`` into.

    A channel made from a local file holds that file under its own name; one made from a folder or
    an S3 prefix holds its content as it is.

    Raises:
        RuntimeError: called outside a Braket job, or the job has no such channel (naming those it has).
    """
    root = os.environ.get(INPUT_DIR_VARIABLE)
    if not root:
        raise RuntimeError(
            f"input_path({channel!r}) names an input channel of a Braket job, and {INPUT_DIR_VARIABLE} is "
            "not set: call it inside an electron that BraketExecutor runs with input_data"
        )
    path = Path(root) / channel
    if not path.is_dir():
        have = sorted(entry.name for entry in Path(root).iterdir()) if Path(root).is_dir() else []
        raise RuntimeError(
            f"the job has no input channel {channel!r} (it has: {', '.join(have) or 'none'}); add it to the "
            "executor's input_data"
        )
    return path


class WithModules:
    """The electron's function, run with the source files of ``include_modules`` in place.

    Before the function runs, the files are written under a fresh folder put first on ``sys.path``,
    so the modules import under their own names (Covalent's electron, deserialised only now, finds
    them), and their text is registered in ``linecache`` under the paths the client had them at, so
    ``inspect.getsource`` works on their functions that came pickled by value.
    """

    def __init__(self, function: Callable[..., Any], sources: Mapping[str, bytes],
                 client_paths: Mapping[str, str]) -> None:
        self.function = function
        self.sources = dict(sources)
        """relative path on ``sys.path`` (``pkg/mod.py``) -> the file's bytes"""
        self.client_paths = dict(client_paths)
        """the file's path on the client -> its relative path"""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        root = Path(tempfile.mkdtemp(prefix="covalent-braket-modules-"))
        for relative, data in self.sources.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        sys.path.insert(0, str(root))
        for client_path, relative in self.client_paths.items():
            text = self.sources[relative].decode("utf-8", errors="replace")
            linecache.cache[client_path] = (len(text), None, text.splitlines(keepends=True), client_path)
        return self.function(*args, **kwargs)


cloudpickle.register_pickle_by_value(sys.modules[__name__])
