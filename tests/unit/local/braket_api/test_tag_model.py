"""Tags of Braket resources, and the errors for ARNs that name none."""

from __future__ import annotations

import pytest

from covalent_braket_plugin.local.braket_api.backend import BraketBackend
from covalent_braket_plugin.local.braket_api.errors import BraketError
from tests.unit.local.braket_api.conftest import code, job_params


def test_tags_and_unknown_resources(backend: BraketBackend) -> None:
    arn = backend.create_job(job_params(), "us-east-1")["jobArn"]
    backend.tag_resource({"resourceArn": arn, "tags": {"a": "1"}}, "us-east-1")
    assert backend.list_tags_for_resource({"resourceArn": arn}, "us-east-1") == {"tags": {"a": "1"}}
    with pytest.raises(BraketError) as exc:
        backend.list_tags_for_resource({"resourceArn": arn + "x"}, "us-east-1")
    assert code(exc) == "ResourceNotFoundException"
    with pytest.raises(BraketError) as exc:
        backend.list_tags_for_resource({"resourceArn": "not-an-arn"}, "us-east-1")
    assert code(exc) == "ValidationException"
