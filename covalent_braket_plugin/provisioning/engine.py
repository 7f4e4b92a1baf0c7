"""The provisioning engine: one run over an account that ensures, describes or removes resources.

``setup`` and ``guard deploy`` are lists of resources; each resource kind (``provisioning/s3.py``,
``iam.py``, ...) is written once against a :class:`Provisioner`, which holds what every kind needs:

- the AWS session (clients with the one retry configuration, the account id asked once);
- the region and ARNs of resources in it, so a dry run can name what it would create;
- ``dry_run``: kinds make only read calls and report ``would create`` / ``would update``;
- the results so far, each also passed to ``log`` as soon as it is known;
- :meth:`Provisioner.step`: the one translation of what AWS (or the file system) refuses into a
  :class:`ProvisioningError` naming the step, the problem and the fix. What earlier steps did is
  kept, and every step is safe to repeat, so the fix always ends in "run it again".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from covalent_braket_plugin.aws import AwsSession
from covalent_braket_plugin.provisioning.policies import partition
from covalent_braket_plugin.provisioning.resources import ResourceResult, not_found

Logger = Callable[[ResourceResult], None]
T = TypeVar("T")

OPTIONS_STEP = "options"
"""The step of problems found in the command's own input, before any AWS call."""

_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403", "Forbidden"}
_DRY_RUN_ACTIONS = {"created": "would create", "updated": "would update", "deleted": "would delete"}


class ProvisioningError(RuntimeError):
    """A step cannot go ahead: ``step`` names it, ``problem`` says what is wrong, ``fix`` how to mend it.

    ``results`` holds what the steps before it did (they are not undone). The step ``options``
    means the command's input was refused before any AWS call.
    """

    def __init__(
        self, step: str, problem: str, fix: str, results: list[ResourceResult] | None = None
    ) -> None:
        super().__init__(f"{step}: {problem}; {fix}")
        self.step = step
        self.problem = problem
        self.fix = fix
        self.results = list(results or [])

    @property
    def refused_input(self) -> bool:
        """True when the command's own input was wrong (nothing was asked of AWS)."""
        return self.step == OPTIONS_STEP


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Provisioner:
    """One run of a provisioning command against one account and region.

    ``command`` (``setup``, ``guard deploy``) and ``permissions_doc`` (where its permissions are
    listed) go into the fixes of errors, so a refusal says which command to run again.
    """

    def __init__(
        self,
        session: AwsSession | boto3.session.Session | None,
        region: str | None = None,
        *,
        command: str,
        permissions_doc: str,
        dry_run: bool = False,
        log: Logger = print,
    ) -> None:
        self.aws = session if isinstance(session, AwsSession) else AwsSession(session)
        region = region or self.aws.region
        if not region:
            raise ProvisioningError(
                OPTIONS_STEP, "no AWS region",
                "pass --region or configure one (AWS_DEFAULT_REGION, the profile's region)",
            )
        self.region: str = region
        self.command = command
        self.permissions_doc = permissions_doc
        self.dry_run = dry_run
        self.log = log
        self.results: list[ResourceResult] = []

    def client(self, service: str, region: str | None = None) -> Any:
        """The session's client for ``service`` in ``region`` (default: the run's region)."""
        return self.aws.client(service, region or self.region)

    @property
    def account_id(self) -> str:
        return self.aws.account_id

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        """The ARN of ``resource`` of ``service`` in this account (and region, unless IAM-like global)."""
        region = self.region if regional else ""
        return f"arn:{partition(self.region)}:{service}:{region}:{self.account_id}:{resource}"

    def did(self, action: str) -> str:
        """The action as reported: ``created`` in a real run is ``would create`` in a dry run."""
        return _DRY_RUN_ACTIONS.get(action, action) if self.dry_run else action

    def record(self, *results: ResourceResult) -> None:
        for result in results:
            self.results.append(result)
            self.log(result)

    def step(self, name: str, work: Callable[[], T], *, file_fix: str | None = None) -> T:
        """Run one step; turn what AWS refuses into a ProvisioningError naming the step and the fix.

        With ``file_fix``, the step reads or writes a file, and an OSError or ValueError (a missing
        directory, a file that is not TOML) is reported with that fix; elsewhere they are bugs and
        are raised as they are.
        """
        try:
            return work()
        except ProvisioningError as error:
            raise ProvisioningError(name, error.problem, error.fix, self.results) from None
        except NoCredentialsError:
            raise self._failed(
                name, "no AWS credentials found",
                "configure them (aws configure, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or pass --profile",
            ) from None
        except ClientError as error:
            raise self._refused(name, error) from None
        except BotoCoreError as error:
            fix = "check the region, network and credentials, then run again"
            raise self._failed(name, str(error), fix) from None
        except (OSError, ValueError) as error:
            if file_fix is None:
                raise
            raise self._failed(name, str(error), file_fix) from None

    def _failed(self, step: str, problem: str, fix: str) -> ProvisioningError:
        return ProvisioningError(step, problem, fix, self.results)

    def _refused(self, step: str, error: ClientError) -> ProvisioningError:
        operation, code = error.operation_name, error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _DENIED or status == 403:
            return self._failed(
                step, f"access denied to {operation} ({message or code})",
                f"run {self.command} as an identity allowed to create it, or have an administrator run "
                f"{self.command} (the permissions are in {self.permissions_doc}); completed steps are "
                f"kept, run {self.command} again",
            )
        return self._failed(
            step, f"AWS refused {operation}: {code}: {message}",
            f"fix what the message names and run {self.command} again; completed steps are kept",
        )


def unless_missing(call: Callable[[], T]) -> T | None:
    """``call()``, or None when AWS answers that the resource does not exist."""
    try:
        return call()
    except ClientError as error:
        if not not_found(error):
            raise
        return None
