"""The metrics an electron logs with ``braket.jobs.metrics.log_metric``, read back after its job.

``log_metric`` prints a ``Metrics - timestamp=...; <name>=<value>; iteration_number=...;`` line,
which reaches the job's CloudWatch log (one stream per instance, ``<job name>/...``), where
``AwsQuantumJob.metrics()`` reads them. So does this module: it asks CloudWatch Logs for those lines
only (FilterLogEvents on the job's streams, with the lines' fixed start as the pattern) and parses
them with the SDK's own parser, so both read a line the same way. The electron's output then ends
with a summary per metric, and ``covalent-braket jobs metrics`` prints them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from braket.jobs.metrics_data.definitions import MetricStatistic, MetricType
from braket.jobs.metrics_data.log_metrics_parser import LogMetricsParser

METRICS_PATTERN = '"Metrics - "'
"""CloudWatch Logs' filter pattern for the lines ``log_metric`` prints."""
COLUMNS = ("timestamp", "iteration_number")
"""What the SDK's parser gives beside the metrics themselves."""
MAX_STREAMS = 100
"""FilterLogEvents names at most 100 streams a call."""


def read_metrics(logs: Any, log_group: str, job_name: str) -> dict[str, list[Any]]:
    """The job's metrics as ``AwsQuantumJob.metrics()`` gives them: a column per metric name, with
    ``timestamp`` and ``iteration_number`` columns, one row per logged value. Empty without any.

    The job's streams are named first (DescribeLogStreams by the ``<job name>/`` prefix), then
    searched by name, at most 100 names a call as FilterLogEvents takes them.
    """
    parser = LogMetricsParser()
    try:
        streams = [stream["logStreamName"]
                   for page in logs.get_paginator("describe_log_streams").paginate(
                       logGroupName=log_group, logStreamNamePrefix=f"{job_name}/")
                   for stream in page.get("logStreams", [])]
        for first in range(0, len(streams), MAX_STREAMS):
            pages = logs.get_paginator("filter_log_events").paginate(
                logGroupName=log_group, logStreamNames=streams[first:first + MAX_STREAMS],
                filterPattern=METRICS_PATTERN,
            )
            for page in pages:
                for event in page.get("events", []):
                    parser.parse_log_message(str(event.get("timestamp", "")), event["message"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return {}
        raise
    return parser.get_parsed_metrics(MetricType.TIMESTAMP, MetricStatistic.MAX)


@dataclass(frozen=True)
class MetricSummary:
    """One metric over the job: how many values, the last one logged, the least and the greatest."""

    name: str
    count: int
    last: float
    minimum: float
    maximum: float

    def line(self) -> str:
        return (f"{self.name}: {self.count} value{'s' if self.count != 1 else ''}, last {self.last:g}, "
                f"min {self.minimum:g}, max {self.maximum:g}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count, "last": self.last, "min": self.minimum,
                "max": self.maximum}


def summarize(metrics: dict[str, list[Any]]) -> list[MetricSummary]:
    """A summary per metric name (in name order); the last value is the one logged latest.

    The parser's columns are rows in the order the log gave them (streams one after another), with
    None where a row has no value of a metric, and a ``timestamp`` column.
    """
    times = metrics.get("timestamp") or []
    summaries = []
    for name in sorted(set(metrics) - set(COLUMNS)):
        rows = [(float(times[i] or 0), i, float(value)) for i, value in enumerate(metrics[name])
                if value is not None]
        if rows:
            values = [value for _, _, value in rows]
            summaries.append(MetricSummary(name, len(values), max(rows)[2], min(values), max(values)))
    return summaries


def report(logs: Any, log_group: str, job_name: str) -> str:
    """The lines the electron's output ends with: one per metric, or nothing without metrics."""
    summaries = summarize(read_metrics(logs, log_group, job_name))
    if not summaries:
        return ""
    return "".join(f"Braket job metrics: {summary.line()}\n" for summary in summaries)
