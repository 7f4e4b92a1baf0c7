"""What most executor tests share: the session's stack with one bucket for their electrons.

A module whose electrons need a bucket of their own (to count or list what is in it) or more of the
stack (prices, a covalent.conf) overrides ``stack`` with ``with_bucket_and_role`` and its own bucket.
"""

from __future__ import annotations

import pytest

from covalent_braket_plugin.local.stack import LocalStack
from tests.integration.conftest import with_bucket_and_role

BUCKET = "amazon-braket-covalent-integration"


@pytest.fixture
def stack(braket_local_env: LocalStack) -> LocalStack:
    """The session's local stack with the bucket and the job execution role the executor needs."""
    return with_bucket_and_role(braket_local_env, BUCKET)
