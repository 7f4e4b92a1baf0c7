"""Braket Direct reservations, which CreateQuantumTask and CreateJob take as associations.

None exist on the stack: they are bought, not created through the API, so every reservation ARN is
invalid, and simulators take none at all, as on AWS.
"""

from __future__ import annotations

from typing import Any

from covalent_braket_plugin.local.braket_api.devices import Device
from covalent_braket_plugin.local.braket_api.errors import validation


def check_associations(associations: list[dict[str, Any]] | None, device: Device | None) -> None:
    """Refuse a request that names a reservation, with AWS's message for ``device``."""
    for association in associations or []:
        if association.get("type") != "RESERVATION_TIME_WINDOW_ARN":
            continue
        if device is not None and not device.is_qpu:
            raise validation(f"Braket Direct is not supported for {device.name}.")
        raise validation(f"Reservation arn is invalid: {association.get('arn')}")
