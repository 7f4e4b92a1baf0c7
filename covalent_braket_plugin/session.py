"""The boto3 session of an executor: its credentials file, profile and region.

The settings are applied to this session only, never to ``os.environ``: two executors with
different profiles may run in one Covalent server at the same time, and the 0.3 plugin's habit of
setting AWS_PROFILE process-wide let one electron's settings leak into another's. Endpoints are
left to boto3's own configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, profile
``endpoint_url``), so the same session talks to AWS or to the local Braket stack.
"""

from __future__ import annotations

import os

import boto3
import botocore.session
from botocore.exceptions import ProfileNotFound

from covalent_braket_plugin.settings import BraketExecutorSettings, ExecutorConfigError

DEFAULT_CREDENTIALS_FILE = os.path.expanduser("~/.aws/credentials")


def botocore_session(settings: BraketExecutorSettings) -> botocore.session.Session:
    """A botocore session reading ``settings.credentials`` and ``settings.profile``.

    Raises:
        ExecutorConfigError: the credentials file does not exist or the profile is not in it.
    """
    session = botocore.session.Session()
    if settings.credentials:
        # The 0.3 plugin wrote boto3's default location into covalent.conf whether or not a file was
        # there; credentials from the environment or an instance role must keep working with it.
        if not os.path.isfile(settings.credentials) and settings.credentials != DEFAULT_CREDENTIALS_FILE:
            raise ExecutorConfigError(
                f"credentials: no file at {settings.credentials!r}; give the path of an AWS shared "
                "credentials file, or leave it empty for boto3's default"
            )
        session.set_config_variable("credentials_file", settings.credentials)
    if settings.profile:
        session.set_config_variable("profile", settings.profile)
        try:
            session.get_scoped_config()
        except ProfileNotFound:
            raise ExecutorConfigError(
                f"profile: no profile {settings.profile!r} in the AWS config or credentials file "
                f"({settings.credentials or '~/.aws/credentials'}); set profile to one of "
                f"{sorted(session.available_profiles)} or leave it empty"
            ) from None
    return session


def profile_region(settings: BraketExecutorSettings) -> str | None:
    """The region boto3 would pick for the settings' profile (profile, AWS_DEFAULT_REGION, ...)."""
    return botocore_session(settings).get_config_variable("region")


def make_session(settings: BraketExecutorSettings) -> boto3.session.Session:
    """The boto3 session every AWS call of one executor goes through, in the jobs' region.

    Raises:
        ExecutorConfigError: bad credentials file or profile, or no region can be found.
    """
    return boto3.session.Session(
        botocore_session=botocore_session(settings), region_name=settings.resolve_region()
    )
