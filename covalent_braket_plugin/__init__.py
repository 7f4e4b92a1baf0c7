"""covalent-braket-plugin: Covalent electrons as Amazon Braket Hybrid Jobs, cost tools and a local Braket stack."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("covalent-braket-plugin")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
