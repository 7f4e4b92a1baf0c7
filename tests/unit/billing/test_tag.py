"""The usage kept as the job's ``covalent:cost`` tag (``billing/tag.py``), and read back."""

from __future__ import annotations

from covalent_braket_plugin.billing.tag import read_usage_tag, usage_from_records, usage_tag
from covalent_braket_plugin.billing.usage import measure
from tests.unit.billing.test_usage import JOB, PRICED, RECORD, TASKS


def test_the_tag_keeps_what_searches_cannot_tell_and_reads_back() -> None:
    usage = measure(RECORD, TASKS, PRICED, {"s1": 1200})
    tag = usage_tag(usage)
    assert tag == "v1 job=ml.m5.large*2*180000 quantum-simulator/amazon/sv1=13000~"
    tagged = read_usage_tag(JOB, tag)
    assert tagged is not None and tagged.job == usage.job
    assert usage_from_records(tagged, TASKS, PRICED) == usage
    assert read_usage_tag(JOB, "something else") is None
    assert read_usage_tag(JOB, "v1 job=nonsense") is None
