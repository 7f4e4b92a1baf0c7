"""covalent-braket-plugin: Covalent electrons as Braket Hybrid Jobs, cost tools and a local Braket stack."""

from importlib.metadata import PackageNotFoundError, version

from covalent_braket_plugin.helpers import input_path

try:
    __version__ = version("covalent-braket-plugin")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> object:
    """Import ``AmazonBraketlib`` on first use, so that importing the executor stays light."""
    if name == "AmazonBraketlib":
        from covalent_braket_plugin.tasks.braketlib import AmazonBraketlib

        return AmazonBraketlib
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AmazonBraketlib", "__version__", "input_path"]
