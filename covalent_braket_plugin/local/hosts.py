"""Which address the stack listens on, and which Host headers it answers.

The stack runs code (hybrid jobs) for whoever holds its credentials, so by default it listens on
loopback only; another address needs ``--allow-remote``, said out loud. Requests must name the
stack's own address in their Host header: a web page the user opens cannot then reach the stack
through a DNS name of its own that resolves to 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket

import psutil

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen_address(host: str, allow_remote: bool) -> None:
    """ValueError naming ``--allow-remote`` when ``host`` is not loopback and remote use was not asked for."""
    if not allow_remote and not is_loopback(host):
        raise ValueError(
            f"--host {host or '(all addresses)'} would let other machines reach the stack, which runs "
            "jobs' code as you for anyone holding its credentials; pass --allow-remote as well if that "
            "is what you want, or keep the default --host 127.0.0.1"
        )


class AllowedHosts:
    """The Host header values that name the stack listening on ``host``:``port``.

    That is ``host`` itself; the loopback names when it listens on loopback or on every address; and
    this machine's addresses and names when it listens on every address. A name may carry a bucket
    as a subdomain (S3's virtual-hosted style). The port must be the stack's.
    """

    def __init__(self, host: str, port: int) -> None:
        self.port = port
        names = {host.lower()}
        if is_loopback(host) or host in WILDCARDS:
            names |= LOOPBACK_NAMES
        if host in WILDCARDS:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
            names |= {address.address.split("%")[0].lower()
                      for addresses in psutil.net_if_addrs().values() for address in addresses
                      if address.family in (socket.AF_INET, socket.AF_INET6)}
        self.names = frozenset(names)

    def __contains__(self, header: object) -> bool:
        if not isinstance(header, str) or not header:
            return False
        name, port = _split(header.lower())
        if port != self.port:
            return False
        if name in self.names:
            return True
        # bucket.localhost: only names have subdomains, and only S3 puts one there
        return any(name.endswith(f".{allowed}") for allowed in self.names if not _is_address(allowed))


def _split(header: str) -> tuple[str, int]:
    """(name, port) of a Host header; ``[::1]:4566`` style for IPv6; port 80 when none is given."""
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        name, _, port = header.rpartition(":") if ":" in header else (header, "", "")
    return name, int(port) if port.isdigit() else (80 if not port else -1)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
