"""Clients the local stack uses to reach its own AWS side (the moto half of the endpoint).

The Braket emulator, the quantum task runner and the job runners write results to S3, logs to
CloudWatch Logs, events to EventBridge and look roles up in IAM exactly as a client would: over
HTTP, through the stack's one endpoint, signed with the stack's own key like any client. That keeps
them independent of moto's internals.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from covalent_braket_plugin.local.credentials import StackCredentials
from covalent_braket_plugin.local.price_list import PRICE_OFFERS_VARIABLE, price_list_url

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

_CLIENT_CONFIG = Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=32)


class LocalServices:
    """Thread-safe cache of boto3 clients bound to the stack's endpoint, one per (service, region)."""

    def __init__(
        self, endpoint_url: str, credentials: StackCredentials, region: str = DEFAULT_REGION
    ) -> None:
        self.endpoint_url = endpoint_url
        self.credentials = credentials
        self.region = region
        self.account_id = ACCOUNT_ID
        # The stack's server side reaching its own endpoint: its own session, not the executor's AWS layer.
        self._session = boto3.session.Session(
            aws_access_key_id=credentials.aws_access_key_id,
            aws_secret_access_key=credentials.aws_secret_access_key,
            region_name=region,
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service, region_name=key[1], endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG
                )
            return self._clients[key]

    def environment(self) -> dict[str, str]:
        """Variables that point boto3 and the Braket SDK in a child process at this stack.

        Jobs get them, the stack's own key included, as a job on AWS gets its role's credentials.
        """
        return client_environment(self.endpoint_url, self.credentials, self.region)


def client_environment(
    endpoint_url: str, credentials: StackCredentials, region: str = DEFAULT_REGION
) -> dict[str, str]:
    """The environment a user (or a job's process) needs to talk to the stack at ``endpoint_url``,
    the price list the Braket SDK's Tracker reads included: AWS_ENDPOINT_URL does not reach it."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": credentials.aws_access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.aws_secret_access_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        PRICE_OFFERS_VARIABLE: price_list_url(endpoint_url),
    }
