"""The stack's listening address and the Host headers it answers."""

from __future__ import annotations

import pytest

from covalent_braket_plugin.local.hosts import AllowedHosts, check_listen_address


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_addresses_need_no_flag(host: str) -> None:
    check_listen_address(host, allow_remote=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org"])
def test_other_addresses_need_allow_remote_and_say_why(host: str) -> None:
    with pytest.raises(ValueError, match="--allow-remote") as refused:
        check_listen_address(host, allow_remote=False)
    assert "credentials" in str(refused.value)
    check_listen_address(host, allow_remote=True)


def test_a_loopback_stack_answers_its_loopback_names_on_its_port_only() -> None:
    hosts = AllowedHosts("127.0.0.1", 4566)
    assert "127.0.0.1:4566" in hosts
    assert "localhost:4566" in hosts
    assert "bucket.localhost:4566" in hosts  # S3's virtual-hosted style
    assert "[::1]:4566" in hosts
    assert "127.0.0.1:4567" not in hosts
    assert "attacker.example:4566" not in hosts
    assert "localhost.attacker.example:4566" not in hosts
    assert "" not in hosts


def test_port_80_may_be_left_out() -> None:
    assert "localhost" in AllowedHosts("127.0.0.1", 80)
    assert "localhost" not in AllowedHosts("127.0.0.1", 4566)
