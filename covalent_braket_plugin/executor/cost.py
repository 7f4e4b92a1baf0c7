"""An electron's bill once its job ended: measured from AWS's records and kept with the job.

The executor measures the job's usage (:mod:`covalent_braket_plugin.tasks.cost`: instance time from
GetJob, tasks by the job's ARN, simulator runtimes from their results), prices it for the electron's
output, and tags the job with the usage (``covalent:cost``): what the searches of ``covalent-braket
cost`` cannot tell, so a workflow's report needs no call per job, from any machine, long after the
electron's objects were cleaned up.
"""

from __future__ import annotations

from typing import Any

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.tasks.cost import COST_TAG, ElectronCost, measure_job, price_usage, usage_tag
from covalent_braket_plugin.tasks.pricing import PriceTable


def bill(aws: AwsSession, record: dict[str, Any], prices: PriceTable) -> ElectronCost:
    """Measure and price the ended job of ``record``, and tag the job with its usage.

    ``record`` may be the watcher's summary, which lacks the instances and the billable time: GetJob
    then gives them.
    """
    braket = aws.client("braket")
    if "billableDuration" not in record or "instanceConfig" not in record:
        record = hybrid_jobs.get_job(braket, record["jobArn"])
    cost = price_usage(measure_job(braket, aws.client("s3"), record, prices), prices)
    tag = usage_tag(cost.usage)
    if tag is not None:
        braket.tag_resource(resourceArn=record["jobArn"], tags={COST_TAG: tag})
    return cost
