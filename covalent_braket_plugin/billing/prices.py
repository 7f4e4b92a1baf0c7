"""What a quantum task or a hybrid job costs: the Braket price list as data, with exact decimals.

Prices change more often than code, so they live in ``prices.json`` beside this module, each with the
page it was read from, the day it was read, whether the figure could be confirmed there, and whether
the device is retired. Any entry can be replaced or added by an override file
(``PriceTable.load(path)`` or the ``COVALENT_BRAKET_PRICES`` variable) or an override document (the
cost guard's ``PRICE_OVERRIDES`` setting). A device or instance type missing from the table, or listed
without a figure, is *unpriced*: its cost is ``None``, never a silent zero, so a budget check cannot
mistake an unknown device for a free one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

PRICES_ENV = "COVALENT_BRAKET_PRICES"

# Statuses of quantum tasks that Braket does not bill.
FREE_STATUSES = frozenset({"FAILED", "CANCELLED"})
RETIRED = "retired"

_SECONDS_PER_MINUTE = Decimal(60)
_MILLISECONDS_PER_HOUR = Decimal(3_600_000)


def device_key(device_arn: str) -> str:
    """The part of a device ARN that names the device (``qpu/ionq/Forte-1``).

    QPU ARNs carry their region and simulator ARNs carry none; matching on the device path makes a
    task's ARN find its price whichever region spelling it was created with.
    """
    _, marker, path = device_arn.partition("device/")
    return path if marker else device_arn


def _decimal(entry: Mapping[str, Any], key: str) -> Decimal | None:
    value = entry.get(key)
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation as error:
        raise ValueError(f"{key}={value!r} is not a decimal amount such as \"0.30\"") from error
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{key}={value!r} is not an amount of 0 or more")
    return amount


@dataclass(frozen=True)
class Provenance:
    """When a figure was read from its source, whether the source confirmed it, and what to know."""

    read: str = ""
    confirmed: bool = False
    note: str = ""

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Provenance:
        return cls(
            read=str(entry.get("read", "")),
            confirmed=bool(entry.get("confirmed", False)),
            note=str(entry.get("note", "")),
        )


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
    status: str = "current"
    provenance: Provenance = Provenance()

    @property
    def is_priced(self) -> bool:
        return self.per_shot is not None or self.per_minute is not None

    @property
    def is_simulator(self) -> bool:
        return self.per_minute is not None

    @property
    def retired(self) -> bool:
        return self.status == RETIRED

    @classmethod
    def from_json(cls, device_arn: str, entry: Mapping[str, Any]) -> DevicePrice:
        try:
            return cls(
                device_arn=device_arn,
                name=str(entry.get("name") or device_key(device_arn).rsplit("/", 1)[-1]),
                source=str(entry.get("source", "")),
                per_task=_decimal(entry, "per_task"),
                per_shot=_decimal(entry, "per_shot"),
                per_minute=_decimal(entry, "per_minute"),
                minimum_seconds=_decimal(entry, "minimum_seconds") or Decimal(0),
                status=str(entry.get("status", "current")),
                provenance=Provenance.from_json(entry),
            )
        except ValueError as error:
            raise ValueError(f"price of {device_arn}: {error}") from error

    def to_json(self) -> dict[str, Any]:
        def text(amount: Decimal | None) -> str | None:
            return None if amount is None else str(amount)

        return {
            "device_arn": self.device_arn,
            "name": self.name,
            "status": self.status,
            "per_task": text(self.per_task),
            "per_shot": text(self.per_shot),
            "per_minute": text(self.per_minute),
            "minimum_seconds": text(self.minimum_seconds) if self.is_simulator else None,
            "source": self.source,
            "read": self.provenance.read,
            "confirmed": self.provenance.confirmed,
            "note": self.provenance.note,
        }


@dataclass(frozen=True)
class InstancePrice:
    """Hourly price of one hybrid job instance type (``ml.m5.large``) in ``region``."""

    instance_type: str
    per_hour: Decimal | None
    region: str
    source: str
    provenance: Provenance = Provenance()

    @classmethod
    def from_json(cls, instance_type: str, entry: Mapping[str, Any]) -> InstancePrice:
        try:
            per_hour = _decimal(entry, "per_hour")
        except ValueError as error:
            raise ValueError(f"price of {instance_type}: {error}") from error
        return cls(
            instance_type=instance_type,
            per_hour=per_hour,
            region=str(entry.get("region", "")),
            source=str(entry.get("source", "")),
            provenance=Provenance.from_json(entry),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_type": self.instance_type,
            "per_hour": None if self.per_hour is None else str(self.per_hour),
            "region": self.region,
            "source": self.source,
            "read": self.provenance.read,
            "confirmed": self.provenance.confirmed,
            "note": self.provenance.note,
        }


class PriceTable:
    """Device and instance prices, answering "what does this task (or job) cost?"."""

    def __init__(
        self,
        prices: Mapping[str, DevicePrice],
        currency: str = "USD",
        instances: Mapping[str, InstancePrice] | None = None,
    ) -> None:
        self.currency = currency
        self._by_key = {device_key(arn): price for arn, price in prices.items()}
        self.instances = dict(instances or {})

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> PriceTable:
        """The packaged table, with the entries of ``path`` (or ``$COVALENT_BRAKET_PRICES``) merged in,
        then those of ``overrides`` (a document of the same shape).

        An override has the packaged file's shape (``{"devices": {arn: entry}}`` and/or
        ``{"instances": {type: entry}}``); each of its entries replaces the entry of the same device
        or instance type whole, so a stale field can't survive.
        """
        document = json.loads(resources.files(__package__).joinpath("prices.json").read_text())
        devices: dict[str, Mapping[str, Any]] = dict(document["devices"])
        instances: dict[str, Mapping[str, Any]] = dict(document.get("instances", {}))
        override = path if path is not None else os.environ.get(PRICES_ENV)
        if override:
            _merge(devices, instances, json.loads(Path(override).read_text()), str(override))
        if overrides is not None:
            _merge(devices, instances, overrides, "price overrides")
        return cls(
            {arn: DevicePrice.from_json(arn, entry) for arn, entry in devices.items()},
            currency=str(document.get("currency", "USD")),
            instances={name: InstancePrice.from_json(name, entry) for name, entry in instances.items()},
        )

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

    def least_task_cost(
        self,
        device_arn: str,
        shots: int,
        *,
        status: str | None = None,
        duration: timedelta | None = None,
    ) -> Decimal | None:
        """What a task costs at least: its cost when known, a simulator task's minimum billed time
        while its runtime is not; None only for a device without a price.

        A budget counts a simulator task from the moment it is created, before anyone knows how long
        it will run, so it never passes for free.
        """
        cost = self.task_cost(device_arn, shots, status=status, duration=duration)
        if cost is None and duration is None:
            return self.simulator_cost(device_arn, timedelta(0))
        return cost

    def simulator_cost(self, device_arn: str, duration: timedelta) -> Decimal | None:
        """Cost of ``duration`` of simulator runtime, with the device's minimum billed time applied."""
        price = self.price(device_arn)
        if price is None or price.per_minute is None:
            return None
        seconds = max(Decimal(str(duration.total_seconds())), price.minimum_seconds)
        return price.per_minute * seconds / _SECONDS_PER_MINUTE

    def instance_price(self, instance_type: str) -> InstancePrice | None:
        return self.instances.get(instance_type)

    def job_cost(self, instance_type: str, billable_ms: int, instance_count: int = 1) -> Decimal | None:
        """Instance time of a hybrid job: ``billableDuration`` (ms) x hourly price x instance count.

        None when the instance type has no price and the job was billed for some time: an unknown
        price is never counted as zero, while no billed time costs nothing at any price.
        """
        if billable_ms == 0:
            return Decimal(0)
        price = self.instance_price(instance_type)
        if price is None or price.per_hour is None:
            return None
        return price.per_hour * Decimal(billable_ms) * instance_count / _MILLISECONDS_PER_HOUR


def validate_overrides(document: Any, origin: str) -> None:
    """Raise ValueError, naming ``origin`` and the entry, unless ``document`` is a usable override."""
    _merge({}, {}, document, origin)


def _merge(
    devices: dict[str, Mapping[str, Any]],
    instances: dict[str, Mapping[str, Any]],
    extra: Any,
    origin: str,
) -> None:
    """Replace or add the entries of the override document ``extra`` (from ``origin``)."""
    if not isinstance(extra, Mapping) or not (
        isinstance(extra.get("devices"), Mapping) or isinstance(extra.get("instances"), Mapping)
    ):
        raise ValueError(
            f"{origin}: a price override needs a 'devices' object keyed by device ARN "
            "and/or an 'instances' object keyed by instance type"
        )
    by_key = {device_key(arn): arn for arn in devices}
    for arn, entry in dict(extra.get("devices") or {}).items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{origin}: the price of {arn} is not an object")
        try:
            DevicePrice.from_json(arn, entry)  # refuse a bad figure here, naming the device
        except ValueError as error:
            raise ValueError(f"{origin}: {error}") from error
        devices.pop(by_key.get(device_key(arn), arn), None)
        devices[arn] = entry
    for name, entry in dict(extra.get("instances") or {}).items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{origin}: the price of {name} is not an object")
        try:
            InstancePrice.from_json(name, entry)
        except ValueError as error:
            raise ValueError(f"{origin}: {error}") from error
        instances[name] = entry
