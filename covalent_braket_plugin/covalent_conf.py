"""Read and write the ``[executors.braket]`` section of covalent.conf, leaving the rest of the file alone.

Covalent 0.240 keeps its configuration in one TOML file which it reads and rewrites itself (with the
``toml`` package, under a file lock ``<file>.lock``). Writing here goes through the same package and
the same lock, changes only the keys given, and writes nothing at all when they already hold those
values, so a second ``covalent-braket setup`` leaves the file's modification time alone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import filelock
import toml

from covalent_braket_plugin.settings import BraketExecutorSettings, given

SECTION = ("executors", "braket")
LOCK_TIMEOUT_S = 10.0


def covalent_conf_path() -> Path:
    """Where covalent 0.240 reads covalent.conf.

    The rule of ``covalent._shared_files.defaults.get_default_sdk_config``: ``$COVALENT_CONFIG_DIR``,
    else ``$XDG_CONFIG_DIR``, else ``~/.config/covalent``. Not imported from covalent because
    importing covalent creates the file (and its log and database directories) as a side effect.
    """
    directory = (
        os.environ.get("COVALENT_CONFIG_DIR")
        or os.environ.get("XDG_CONFIG_DIR")
        or os.path.join(os.path.expanduser("~"), ".config", "covalent")
    )
    return Path(directory) / "covalent.conf"


def _load(path: Path) -> dict[str, Any]:
    try:
        return toml.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except toml.TomlDecodeError as error:
        raise ValueError(f"{path} is not valid TOML ({error}); fix or remove the file") from None


def read_executor_section(path: Path | None = None) -> dict[str, Any] | None:
    """The raw ``[executors.braket]`` table of covalent.conf, or None when the file or section is missing.

    Raises:
        ValueError: the file is not TOML.
    """
    section: Any = _load(path or covalent_conf_path())
    for key in SECTION:
        if not isinstance(section, dict) or key not in section:
            return None
        section = section[key]
    return dict(section) if isinstance(section, dict) else None


def configured_settings(path: Path | None = None) -> dict[str, Any]:
    """The settings ``[executors.braket]`` of covalent.conf gives: its keys that hold a value
    (:func:`~covalent_braket_plugin.settings.given`); nothing when the file or section is missing.

    Raises:
        ValueError: the file is not TOML.
    """
    return given(read_executor_section(path) or {})


def unknown_keys(section: Mapping[str, Any]) -> list[str]:
    """Keys of ``section`` that ``BraketExecutorSettings`` does not know (the executor would refuse them)."""
    return sorted(set(section) - set(BraketExecutorSettings.model_fields))


def write_executor_section(values: Mapping[str, Any], path: Path | None = None) -> bool:
    """Set ``values`` in ``[executors.braket]``; True if the file changed.

    Every other section, and every other key of this one, keeps its value. The file is replaced
    atomically (a reader never sees half of it) under covalent's own lock, and not written at all
    when nothing changes. TOML comments are not kept: covalent drops them on its next start anyway.

    Raises:
        ValueError: the file is not TOML, or ``[executors]`` / ``[executors.braket]`` is not a table.
    """
    path = path or covalent_conf_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_S):
        document = _load(path)
        table = document
        for key in SECTION:
            table = table.setdefault(key, {})
            if not isinstance(table, dict):
                raise ValueError(f"{path}: {'.'.join(SECTION)} is not a table; fix the file")
        if all(key in table and table[key] == value for key, value in values.items()):
            return False
        table.update(values)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w") as stream:
                toml.dump(document, stream)
            if path.exists():
                os.chmod(temporary, path.stat().st_mode & 0o777)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    return True
