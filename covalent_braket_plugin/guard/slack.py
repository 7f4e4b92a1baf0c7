"""Telling Slack about a breach through an incoming webhook.

Uses only the standard library, because the Lambda runtime ships boto3 but not ``requests``. A post
that fails raises ``SlackError``; the handler has already cancelled by then and only logs it, so a
Slack outage can never keep work running past a limit.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

POST_TIMEOUT_S = 5.0

# Keys under which a JSON secret may hold the webhook URL (a plain-text secret is the URL itself).
_SECRET_KEYS = ("url", "webhook_url", "SLACK_WEBHOOK_URL", "slack_webhook_url")

_secret_cache: dict[str, str] = {}


class SlackError(RuntimeError):
    """The webhook could not be reached or refused the message."""


def webhook_from_secret(secretsmanager: Any, secret_arn: str) -> str:
    """The webhook URL kept in a Secrets Manager secret, read once per warm Lambda container."""
    if secret_arn not in _secret_cache:
        text = secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"].strip()
        if text.startswith("{"):
            document = json.loads(text)
            found = [document[key] for key in _SECRET_KEYS if isinstance(document.get(key), str)]
            if not found:
                raise SlackError(f"secret {secret_arn} holds JSON without any key of {list(_SECRET_KEYS)}")
            text = found[0]
        _secret_cache[secret_arn] = text
    return _secret_cache[secret_arn]


def post(webhook_url: str, text: str, timeout: float = POST_TIMEOUT_S) -> None:
    """Post ``text`` to the webhook; raise ``SlackError`` unless Slack answers 2xx."""
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise SlackError(f"Slack answered HTTP {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        raise SlackError(f"Slack could not be reached: {error}") from error


def breach_message(
    *,
    device_arn: str,
    day: str,
    task_count: int,
    shots: int,
    cost_usd: str,
    limits: str,
    cancelled: Sequence[str],
    failed: Sequence[str] = (),
    include_jobs: bool = False,
) -> str:
    """The one message a breach produces: what was used, against which limit, what was cancelled.

    ``include_jobs`` says the dollars include the day's hybrid job instance time (the account limit).
    """
    jobs = " (job instance time included)" if include_jobs else ""
    lines = [
        f":rotating_light: Braket cost guard: daily limit passed on {device_arn} ({day})",
        f"Committed work today: {task_count} tasks, {shots} shots, estimated ${cost_usd}{jobs}",
        f"Limit: {limits}",
        f"Cancelled {len(cancelled)} created or queued tasks" + (":" if cancelled else "."),
        *(f"  {arn}" for arn in cancelled),
    ]
    if failed:
        lines += [f"Could not cancel {len(failed)} tasks:", *(f"  {arn}" for arn in failed)]
    lines.append("Later work of the day is cancelled whenever it passes the limit again.")
    return "\n".join(lines)
