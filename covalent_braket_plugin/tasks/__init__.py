"""``AmazonBraketlib``: watch what quantum tasks cost from a notebook, a script or ``covalent-braket
tasks``: search them, price them, summarise a day, cancel queued ones.

The building blocks it is made of live below it, shared with the executor, the cost reports and the
guard (``quantum_tasks``, ``billing``); their names are handed on here, where the documentation shows
them."""

from covalent_braket_plugin.billing.day_totals import DaySummary, SummaryRow, summarize
from covalent_braket_plugin.billing.prices import DevicePrice, PriceTable
from covalent_braket_plugin.quantum_tasks import (
    TASK_STATUSES,
    CancelReport,
    cancel_tasks,
    day_bounds,
    iter_tasks,
)
from covalent_braket_plugin.tasks.braketlib import AmazonBraketlib

__all__ = [
    "TASK_STATUSES",
    "AmazonBraketlib",
    "CancelReport",
    "DaySummary",
    "DevicePrice",
    "PriceTable",
    "SummaryRow",
    "cancel_tasks",
    "day_bounds",
    "iter_tasks",
    "summarize",
]
