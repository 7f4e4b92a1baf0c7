"""covalent-braket-plugin: Covalent electrons as Braket Hybrid Jobs, cost tools and a local Braket stack."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("covalent-braket-plugin")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> object:
    """Import ``AmazonBraketlib`` and ``input_path`` on first use, so that importing the executor stays
    light and the guard's Lambda handler, which imports the package but runs without cloudpickle
    (``helpers`` registers itself with it), can still be deployed."""
    if name == "AmazonBraketlib":
        from covalent_braket_plugin.tasks.braketlib import AmazonBraketlib

        return AmazonBraketlib
    if name == "input_path":
        from covalent_braket_plugin.helpers import input_path

        return input_path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AmazonBraketlib", "__version__", "input_path"]
