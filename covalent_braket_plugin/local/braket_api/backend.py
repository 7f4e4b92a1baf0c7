"""State of the local Braket API, composed of one model per resource, as moto composes EC2's.

``BraketBackend`` is the one backend of a stack: devices (``device_model.py``), quantum tasks
(``quantum_task_model.py``), spending limits (``spending_limit_model.py``), hybrid jobs
(``hybrid_job_model.py``) and tags (``tag_model.py``), each a mixin over the state they share
(``resource_model.py``). Its operation methods, one per operation of the botocore model named in
snake case, take the validated request members (``params``) and the region the request was signed
for, and return the response members; ``responses.py`` does the HTTP. It is also the ``TaskStore``
of the task runner and the ``JobStore`` of the job manager.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.local.braket_api.device_model import DeviceModel
from covalent_braket_plugin.local.braket_api.hybrid_job_model import HybridJobModel, JobManagerLike
from covalent_braket_plugin.local.braket_api.quantum_task_model import QuantumTaskModel
from covalent_braket_plugin.local.braket_api.resource_model import ResourceModel
from covalent_braket_plugin.local.braket_api.spending_limit_model import SpendingLimitModel
from covalent_braket_plugin.local.braket_api.tag_model import TagModel
from covalent_braket_plugin.local.faults import Faults
from covalent_braket_plugin.local.public_objects import PublicObjects
from covalent_braket_plugin.local.services import LocalServices


class BraketBackend(DeviceModel, QuantumTaskModel, SpendingLimitModel, HybridJobModel, TagModel):
    """Thread-safe state and behaviour of the Braket API of the local stack."""

    def __init__(
        self,
        services: LocalServices | None,
        faults: Faults | None = None,
        job_manager: JobManagerLike | None = None,
        prices: PriceTable | None = None,
        workers: int | None = None,
        public: PublicObjects | None = None,
    ) -> None:
        ResourceModel.__init__(self, services)
        DeviceModel.__init__(self, public or PublicObjects())
        SpendingLimitModel.__init__(self, prices or PriceTable.load())
        QuantumTaskModel.__init__(self, faults or Faults(), workers)
        HybridJobModel.__init__(self, job_manager)

    def shutdown(self) -> None:
        """Stop the task workers and send the events still queued."""
        self.runner.shutdown()
        self.events.flush()

    def status(self) -> dict[str, Any]:
        """Counts of tasks and jobs by status and the jobs themselves (for ``/_local/status``)."""
        with self._lock:
            tasks, jobs = self._tasks.by_arn.values(), self._jobs.by_arn.values()
            return {
                "tasks": {"total": len(tasks), "byStatus": dict(Counter(t["status"] for t in tasks))},
                "jobs": {
                    "total": len(jobs),
                    "byStatus": dict(Counter(j["status"] for j in jobs)),
                    "items": [
                        {
                            k: (v.isoformat() if isinstance(v, datetime) else v)
                            for k, v in self._job_summary(j).items()
                            if v is not None
                        }
                        for j in jobs
                    ],
                },
                "spendingLimits": len(self._limits.by_arn),
            }
