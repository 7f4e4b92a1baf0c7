"""The one AWS access layer: sessions, clients with one retry configuration, account id and region.

Every AWS call of the plugin goes through an :class:`AwsSession` (as every call of the Braket SDK goes
through its own ``AwsSession``). Settings are applied to that session only, never to ``os.environ``:
two executors with different profiles may run in one Covalent server at the same time, and setting
``AWS_PROFILE`` process-wide would let one electron's settings leak into another's. Endpoints are
left to boto3's own configuration (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``, a profile's
``endpoint_url``), so the same session talks to AWS or to the local Braket stack.

Outside this module, only code that cannot import the package builds boto3 sessions of its own: the
program inside a job (``job/``), the guard's Lambda handler and the local stack's server side.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from covalent_braket_plugin.errors import ExecutorConfigError

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})
"""The retry configuration of every client: botocore's standard mode with 10 attempts, so throttling
and short outages are ridden out the same way by the executor and by every command."""
CHECK_CLIENT_CONFIG = CLIENT_CONFIG.merge(Config(connect_timeout=10, read_timeout=30))
"""For ``covalent-braket doctor``: the executor's retries, so a check does not report a fault the
executor rides out, with short timeouts, so an endpoint that never answers is reported within
minutes instead of after ten 60-second connection timeouts."""

DEFAULT_CREDENTIALS_FILE = os.path.expanduser("~/.aws/credentials")


def botocore_session(credentials: str | None = None, profile: str | None = None) -> botocore.session.Session:
    """A botocore session reading the shared credentials file ``credentials`` and ``profile``.

    Raises:
        ExecutorConfigError: the credentials file does not exist or the profile is not in it.
    """
    session = botocore.session.Session()
    if credentials:
        # Earlier releases wrote boto3's default location into covalent.conf whether or not a file
        # was there; credentials from the environment or an instance role must keep working with it.
        if not os.path.isfile(credentials) and credentials != DEFAULT_CREDENTIALS_FILE:
            raise ExecutorConfigError(
                f"credentials: no file at {credentials!r}; give the path of an AWS shared "
                "credentials file, or leave it empty for boto3's default"
            )
        session.set_config_variable("credentials_file", credentials)
    if profile:
        session.set_config_variable("profile", profile)
        try:
            session.get_scoped_config()
        except ProfileNotFound:
            raise ExecutorConfigError(
                f"profile: no profile {profile!r} in the AWS config or credentials file "
                f"({credentials or '~/.aws/credentials'}); set profile to one of "
                f"{sorted(session.available_profiles)} or leave it empty"
            ) from None
    return session


def region_of_arn(arn: str) -> str | None:
    """The region an ARN names (``arn:aws:braket:<region>:<account>:...``), None when it names none."""
    parts = arn.split(":")
    if len(parts) > 3 and parts[3]:
        return parts[3]
    return None


def profile_region(credentials: str | None = None, profile: str | None = None) -> str | None:
    """The region of the profile (or of ``AWS_DEFAULT_REGION`` and the config file), None if none."""
    return botocore_session(credentials, profile).get_config_variable("region") or None


class AwsSession:
    """One AWS identity in one region: its boto3 session, clients made once each, and account id.

    boto3 clients are thread-safe and expensive to build (botocore parses large service models), so
    they are cached here per service and region.
    """

    def __init__(
        self,
        boto_session: boto3.session.Session | None = None,
        *,
        credentials: str | None = None,
        profile: str | None = None,
        region: str | None = None,
        config: Config = CLIENT_CONFIG,
    ) -> None:
        if boto_session is None:
            boto_session = boto3.session.Session(
                botocore_session=botocore_session(credentials, profile), region_name=region
            )
        self.boto_session = boto_session
        self._config = config
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    @property
    def region(self) -> str | None:
        return self.boto_session.region_name

    def client(self, service: str, region: str | None = None) -> Any:
        """The session's client for ``service`` in ``region`` (default: the session's), made once."""
        key = (service, region or self.region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.boto_session.client(
                    service, region_name=key[1], config=self._config
                )
            return self._clients[key]

    @cached_property
    def account_id(self) -> str:
        """The caller's account, asked of STS once."""
        return str(self.client("sts").get_caller_identity()["Account"])
