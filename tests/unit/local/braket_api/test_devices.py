"""The device catalogue."""

from __future__ import annotations

from covalent_braket_plugin.local.braket_api.devices import DEVICES, capabilities


def test_every_device_has_valid_capabilities() -> None:
    for device in DEVICES.values():
        caps = capabilities(device)
        assert caps["service"]["shotsRange"][1] == device.max_shots
