"""Covalent's entry point of the plugin (``covalent.executor.executor_plugins``: ``braket``).

``executor="braket"`` and ``[executors.braket]`` in covalent.conf name this module. Covalent reads
``EXECUTOR_PLUGIN_NAME`` and ``_EXECUTOR_PLUGIN_DEFAULTS`` here and takes the class of that name
whose ``__module__`` is this module; the class itself lives in ``executor.executor``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any


class _HalfImportWarning(logging.Filter):
    """Drops covalent's warning that this module lacks a plugin class while it is half imported.

    Importing this module before covalent makes covalent load its plugins, this module among them,
    from the import below: covalent then finds this module half executed, warns that it defines no
    plugin, and skips it. ``_register_with_covalent`` registers it once the module is complete, so
    the warning is wrong; it is dropped for that one import.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return f"{__name__} does not seem to have a well-defined plugin class" not in record.getMessage()


_covalent_log = logging.getLogger("covalent._shared_files.logger")  # covalent's app_log
_half_import_warning = _HalfImportWarning()
_covalent_log.addFilter(_half_import_warning)
try:
    import covalent  # noqa: F401  (first: executor.executor requires it imported)

    from covalent_braket_plugin.executor.executor import BraketExecutor
    from covalent_braket_plugin.hybrid_jobs import TAG_DISPATCH_ID, TAG_NODE_ID
    from covalent_braket_plugin.settings import BraketExecutorSettings
finally:
    _covalent_log.removeFilter(_half_import_warning)

# Covalent takes the plugin class among the classes whose __module__ is the entry point's module;
# pickles of the class name it here as well, where it is importable.
BraketExecutor.__module__ = __name__

EXECUTOR_PLUGIN_NAME = "BraketExecutor"

_EXECUTOR_PLUGIN_DEFAULTS: dict[str, Any] = {
    name: value
    for name, value in BraketExecutorSettings().model_dump(mode="json").items()
    # Left out: once written to covalent.conf it would count as set, and a later lower poll_freq
    # would then be refused as shorter than it instead of pulling it down.
    if name != "initial_poll_freq"
}
"""Covalent writes these into ``[executors.braket]`` of covalent.conf for keys the file lacks."""


def _register_with_covalent() -> None:
    """Make sure Covalent knows this plugin, whichever of the two was imported first.

    Importing this module before covalent makes covalent load its plugins while this module is only
    half executed, so covalent finds no ``EXECUTOR_PLUGIN_NAME`` here, warns, and leaves
    ``executor="braket"`` unknown. Registering again now that the module is complete repairs that.
    When covalent is the one importing this module (its executor manager is still being built) it
    registers the plugin itself.
    """
    executor_package = sys.modules.get("covalent.executor")
    manager = getattr(executor_package, "_executor_manager", None)
    if manager is not None and manager.executor_plugins_map.get("braket") is not BraketExecutor:
        manager._populate_executor_map_from_module(sys.modules[__name__])
        executor_package.BraketExecutor = BraketExecutor


_register_with_covalent()

__all__ = ["EXECUTOR_PLUGIN_NAME", "TAG_DISPATCH_ID", "TAG_NODE_ID", "BraketExecutor"]
