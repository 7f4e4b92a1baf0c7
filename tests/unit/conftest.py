"""Fixtures shared by the unit tests of several packages."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber


@pytest.fixture
def braket() -> Iterator[tuple[object, Stubber]]:
    """A Braket client whose answers come from its Stubber; every stubbed answer must be asked for."""
    client = boto3.client(
        "braket", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
