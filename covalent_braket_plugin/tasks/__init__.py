"""Watch what quantum tasks cost: search them, price them, summarise a day, cancel queued ones."""

from covalent_braket_plugin.quantum_tasks import (
    TASK_STATUSES,
    CancelReport,
    cancel_tasks,
    day_bounds,
    iter_tasks,
)
from covalent_braket_plugin.tasks.braketlib import AmazonBraketlib
from covalent_braket_plugin.tasks.pricing import DevicePrice, PriceTable
from covalent_braket_plugin.tasks.summary import DaySummary, SummaryRow, summarize

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
