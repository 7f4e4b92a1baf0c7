"""Helpers an electron calls inside its Braket job: where its input channels are.

The job image does not have this package, so this module is pickled by value (registered with
cloudpickle when the package is imported): an electron that calls :func:`input_path` carries the
function itself to the job. Hence the standard library only, here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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


cloudpickle.register_pickle_by_value(sys.modules[__name__])
