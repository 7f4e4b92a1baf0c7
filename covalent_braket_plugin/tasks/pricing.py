"""What a quantum task costs: the Braket price list as data, with exact decimal arithmetic.

Prices change more often than code, so they live in ``prices.json`` beside this module and any
entry can be replaced or added by an override file (``PriceTable.load(path)`` or the
``COVALENT_BRAKET_PRICES`` variable). A device missing from the table is *unpriced*: its cost is
``None``, never a silent zero, so a budget check cannot mistake an unknown device for a free one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

PRICES_ENV = "COVALENT_BRAKET_PRICES"

# Statuses of quantum tasks that Braket does not bill.
FREE_STATUSES = frozenset({"FAILED", "CANCELLED"})

_SECONDS_PER_MINUTE = Decimal(60)


def device_key(device_arn: str) -> str:
    """The part of a device ARN that names the device (``qpu/ionq/Forte-1``).

    QPU ARNs carry their region and simulator ARNs carry none; matching on the device path makes a
    task's ARN find its price whichever region spelling it was created with.
    """
    _, marker, path = device_arn.partition("device/")
    return path if marker else device_arn


@dataclass(frozen=True)
class DevicePrice:
    """Price of one device. QPUs have ``per_task`` and ``per_shot``; simulators ``per_minute``."""

    device_arn: str
    name: str
    source: str
    per_task: Decimal | None = None
    per_shot: Decimal | None = None
    per_minute: Decimal | None = None
    minimum_seconds: Decimal = Decimal(0)

    @property
    def is_priced(self) -> bool:
        return self.per_shot is not None or self.per_minute is not None

    @property
    def is_simulator(self) -> bool:
        return self.per_minute is not None

    @classmethod
    def from_json(cls, device_arn: str, entry: Mapping[str, Any]) -> DevicePrice:
        def decimal(key: str) -> Decimal | None:
            value = entry.get(key)
            return None if value is None else Decimal(str(value))

        return cls(
            device_arn=device_arn,
            name=str(entry.get("name") or device_key(device_arn).rsplit("/", 1)[-1]),
            source=str(entry.get("source", "")),
            per_task=decimal("per_task"),
            per_shot=decimal("per_shot"),
            per_minute=decimal("per_minute"),
            minimum_seconds=decimal("minimum_seconds") or Decimal(0),
        )


class PriceTable:
    """Device prices keyed by device ARN, answering "what does this task cost?"."""

    def __init__(self, prices: Mapping[str, DevicePrice], currency: str = "USD") -> None:
        self.currency = currency
        self._by_key = {device_key(arn): price for arn, price in prices.items()}

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> PriceTable:
        """The packaged table, with the entries of ``path`` (or ``$COVALENT_BRAKET_PRICES``) merged in.

        An override file has the packaged file's shape (``{"devices": {arn: entry}}``); each of its
        entries replaces the packaged entry of the same device whole, so a stale field can't survive.
        """
        document = json.loads(resources.files(__package__).joinpath("prices.json").read_text())
        entries: dict[str, Mapping[str, Any]] = dict(document["devices"])
        override = path if path is not None else os.environ.get(PRICES_ENV)
        if override:
            extra = json.loads(Path(override).read_text())
            if not isinstance(extra.get("devices"), dict):
                raise ValueError(f"{override}: a price file needs a 'devices' object keyed by device ARN")
            by_key = {device_key(arn): arn for arn in entries}
            for arn, entry in extra["devices"].items():
                entries.pop(by_key.get(device_key(arn), arn), None)
                entries[arn] = entry
        prices = {arn: DevicePrice.from_json(arn, entry) for arn, entry in entries.items()}
        return cls(prices, currency=str(document.get("currency", "USD")))

    def __iter__(self) -> Iterator[DevicePrice]:
        return iter(self._by_key.values())

    def price(self, device_arn: str) -> DevicePrice | None:
        """The table's entry for ``device_arn`` (priced or not), or None for an unknown device."""
        return self._by_key.get(device_key(device_arn))

    def resolve(self, device: str) -> str:
        """The ARN of a device named by ARN, by name (``Forte-1``, ``sv1``) or by ``provider/name``.

        Names are matched without regard to case against the devices this table lists, so a
        command line can say ``--device forte-1`` instead of the whole ARN.
        """
        if device.startswith("arn:"):
            return device
        wanted = device.lower()
        matches = [
            price.device_arn
            for key, price in self._by_key.items()
            if wanted in (key.lower(), key.lower().split("/", 1)[-1], key.lower().rsplit("/", 1)[-1])
        ]
        if len(matches) != 1:
            known = ", ".join(sorted(key.rsplit("/", 1)[-1] for key in self._by_key))
            problem = "is ambiguous" if matches else "is not a known device"
            raise ValueError(f"{device!r} {problem}; give its ARN or one of: {known}")
        return matches[0]

    def is_priced(self, device_arn: str) -> bool:
        price = self.price(device_arn)
        return price is not None and price.is_priced

    def task_cost(
        self,
        device_arn: str,
        shots: int,
        *,
        status: str | None = None,
        duration: timedelta | None = None,
    ) -> Decimal | None:
        """Cost of one task, or None when it cannot be known.

        FAILED and CANCELLED tasks cost nothing on any device. A QPU task costs its per-task fee plus
        its shots. A simulator task is billed by runtime, so without ``duration`` it is unpriced.
        """
        if status in FREE_STATUSES:
            return Decimal(0)
        price = self.price(device_arn)
        if price is None:
            return None
        if price.is_simulator:
            return None if duration is None else self.simulator_cost(device_arn, duration)
        if price.per_shot is None:
            return None
        return (price.per_task or Decimal(0)) + price.per_shot * int(shots)

    def simulator_cost(self, device_arn: str, duration: timedelta) -> Decimal | None:
        """Cost of ``duration`` of simulator runtime, with the device's minimum billed time applied."""
        price = self.price(device_arn)
        if price is None or price.per_minute is None:
            return None
        seconds = max(Decimal(str(duration.total_seconds())), price.minimum_seconds)
        return price.per_minute * seconds / _SECONDS_PER_MINUTE
