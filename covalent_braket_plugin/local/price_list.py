"""The stack's copy of AWS's price list of Amazon Braket, made from the package's own price table.

The Braket SDK's ``Tracker`` prices quantum tasks from the AWS Price List offer file of service code
``AmazonBraket``: a CSV it downloads, without credentials, from ``BRAKET_PRICE_OFFERS_URL`` (AWS's
file by default), skipping the five rows of metadata and reading the sixth as the column names. It
then looks for exactly one USD row per question, matching the task's region (``Region Code``), a
product family and the device: ``DeviceName`` for a standalone QPU task, ``Device Name`` for a QPU
task of a hybrid job, ``Version`` and ``operation`` for a simulator task. Served at the same path
as on AWS, that file lets the unmodified SDK price tasks on the stack as it does on AWS, and at the
prices ``PriceTable`` holds, overrides included.

Rows are those of priced entries only: a device or instance type without a figure has no row, so
the Tracker reports it as not found rather than as free. Job storage ("Braket Managed Jobs Volume")
has no price in the table, so no row either. The Tracker bills a simulator task at least 3 s of its
own accord; the table's ``minimum_seconds`` has no column in AWS's file.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Response

from covalent_braket_plugin.billing.prices import DevicePrice, PriceTable
from covalent_braket_plugin.settings import braket_regions

PRICE_OFFERS_VARIABLE = "BRAKET_PRICE_OFFERS_URL"
"""Where the Braket SDK's Tracker reads the price list."""
PRICE_LIST_PATH = "/offers/v1.0/aws/AmazonBraket/current/index.csv"
"""The offer file's path on AWS's price list endpoint, and on the stack's."""

COLUMNS = (
    "SKU", "TermType", "PriceDescription", "Unit", "PricePerUnit", "Currency", "Product Family",
    "serviceCode", "Region Code", "DeviceName", "Device Name", "Version", "operation", "Instance Type",
)
"""The columns of the offer file the Tracker reads, and those that tell a person what a row prices."""
_MINUTES = "minutes"
"""The unit of time-billed rows: the Tracker reads a simulator row's Unit as a timedelta keyword."""


def price_list_url(endpoint_url: str) -> str:
    """The URL of the stack's price list, for ``BRAKET_PRICE_OFFERS_URL``."""
    return f"{endpoint_url.rstrip('/')}{PRICE_LIST_PATH}"


def offer_file(prices: PriceTable, regions: Iterable[str], published: datetime) -> str:
    """The CSV offer file of ``prices``, with simulator rows in each of ``regions`` (simulators run in
    every Braket region; a QPU's and an instance type's price are of the region they name)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows([
        ("FormatVersion", "v1.0"),
        ("Disclaimer", "The local Braket stack's copy of the covalent-braket-plugin price table, in the "
                       "format of AWS's price list; not AWS's prices unless the table holds them."),
        ("Publication Date", published.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("Version", published.strftime("%Y%m%d%H%M%S")),
        ("OfferCode", "AmazonBraket"),
        COLUMNS,
    ])
    for product, price in [*_device_products(prices, tuple(regions)), *_instance_products(prices)]:
        row = _row(product, price, prices.currency)
        writer.writerow([row[column] for column in COLUMNS])
    return buffer.getvalue()


@dataclass(frozen=True)
class _Price:
    """What one row charges: the figure, the unit it is per, and what it is for."""

    per_unit: Decimal
    unit: str
    description: str


def _device_products(prices: PriceTable, regions: tuple[str, ...]) -> Iterator[tuple[dict[str, str], _Price]]:
    """(product attributes, price) of every priced device, standalone and inside a hybrid job."""
    for device in prices:
        if device.per_minute is not None:
            version = device.device_arn.rsplit("/", 1)[-1].upper()  # SV1, DM1
            price = _Price(device.per_minute, _MINUTES, f"{device.name} simulation time")
            for region in regions:
                for family, operation in (("Simulator Task", "CompleteTask"),
                                          ("Braket Managed Jobs Simulator Task", "Managed-Jobs")):
                    yield {"Product Family": family, "Region Code": region, "Version": version,
                           "operation": operation}, price
        elif device.per_shot is not None:
            region, name = device.device_arn.split(":")[3], qpu_name(device)
            # A missing per-task fee counts as none, as PriceTable.task_cost counts it.
            per_task = _Price(device.per_task or Decimal(0), "Task", f"{device.name} task")
            per_shot = _Price(device.per_shot, "Shot", f"{device.name} shot")
            for column, task_family, shot_family in (
                ("DeviceName", "Quantum Task", "Quantum Task-Shot"),
                ("Device Name", "Braket Managed Jobs QPU Task", "Braket Managed Jobs QPU Task Shot"),
            ):
                yield {"Product Family": task_family, "Region Code": region, column: name}, per_task
                yield {"Product Family": shot_family, "Region Code": region, column: name}, per_shot


def _instance_products(prices: PriceTable) -> Iterator[tuple[dict[str, str], _Price]]:
    """(product attributes, price) of every priced hybrid job instance type, by the minute as AWS
    bills it."""
    for name, instance in prices.instances.items():
        if instance.per_hour is not None and instance.region:
            price = _Price(instance.per_hour / 60, _MINUTES, f"{name} hybrid job instance time")
            yield {"Product Family": "Braket Managed Jobs Instance", "Region Code": instance.region,
                   "Instance Type": name}, price


def _row(product: dict[str, str], price: _Price, currency: str) -> dict[str, str]:
    """A whole row: the product's attributes, its price, and a SKU derived from the attributes, the
    same from one start of the stack to the next as AWS's are from one edition of its file to the next."""
    sku = hashlib.sha256(repr(sorted(product.items())).encode()).hexdigest()[:16].upper()
    return {
        **dict.fromkeys(COLUMNS, ""), **product, "SKU": sku, "TermType": "OnDemand",
        "PriceDescription": price.description, "Unit": price.unit, "PricePerUnit": str(price.per_unit),
        "Currency": currency, "serviceCode": "AmazonBraket",
    }


def qpu_name(price: DevicePrice) -> str:
    """The name AWS's file gives a QPU, which the Tracker derives from a task's device ARN: its last
    part with a capital first letter (``Forte-1``, ``Garnet``), AQT's Ibex in capitals (``IBEX-Q1``)."""
    name = price.device_arn.rsplit("/", 1)[-1]
    return (name[:1].upper() + name[1:]).replace("Ibex", "IBEX")


class PriceList:
    """WSGI app serving the offer file of ``prices``, made once: the table is read when the stack
    starts, as every other part of the stack reads it."""

    def __init__(self, prices: PriceTable) -> None:
        self._body = offer_file(prices, braket_regions(), datetime.now(UTC)).encode()

    @staticmethod
    def serves(environ: dict[str, Any]) -> bool:
        """Whether the WSGI request ``environ`` reads the price list: a GET or HEAD of its path with no
        query string, as the Tracker sends it."""
        return (environ.get("REQUEST_METHOD") in ("GET", "HEAD") and not environ.get("QUERY_STRING")
                and environ.get("PATH_INFO") == PRICE_LIST_PATH)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return Response(self._body, content_type="text/csv; charset=utf-8")(environ, start_response)
