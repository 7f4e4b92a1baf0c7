"""The cost guard's settings, read from the Lambda function's environment.

Every setting is checked at once and every problem is named in one error, so a bad deployment is
told apart from a quiet one at its very first invocation, before anything could be cancelled on a
misread limit. Money is parsed with ``Decimal`` (never ``int`` or ``float``): "12.50" is twelve
dollars fifty, and "1e3" or "NaN" are refused rather than guessed at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from covalent_braket_plugin.billing.prices import validate_overrides

# Names of the variables, shared with deploy.py so the deployed function and the handler agree.
MAX_SHOTS = "MAX_SHOTS"
MAX_COST_USD = "MAX_COST_USD"
DAY_TIMEZONE = "DAY_TIMEZONE"
DEVICE_ARNS = "DEVICE_ARNS"
SLACK_WEBHOOK_URL = "SLACK_WEBHOOK_URL"
SLACK_POST_URL = "SLACK_POST_URL"  # the name the earlier monitoring tool used; still honoured
SLACK_WEBHOOK_SECRET_ARN = "SLACK_WEBHOOK_SECRET_ARN"
LEDGER_TABLE = "LEDGER_TABLE"
DEVICE_LIMITS = "DEVICE_LIMITS"
ACCOUNT_MAX_SHOTS = "ACCOUNT_MAX_SHOTS"
ACCOUNT_MAX_COST_USD = "ACCOUNT_MAX_COST_USD"
CANCEL_SCOPE = "CANCEL_SCOPE"
PRICE_OVERRIDES = "PRICE_OVERRIDES"

DEFAULT_TIMEZONE = "UTC"
# How much queued work a breach cancels: the newest until the day is back within its limit, or all.
CANCEL_EXCESS = "excess"
CANCEL_ALL = "all"

_DEVICE_ARN = re.compile(r"^arn:aws[a-z-]*:braket:[a-z0-9-]*::device/[A-Za-z0-9_./-]+$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_DOLLARS = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,15})?$")
_SHOT_COUNT = re.compile(r"^[0-9]{1,15}$")


class GuardConfigError(ValueError):
    """One or more settings are missing or invalid; ``problems`` names each of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid cost guard settings: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Limits:
    """A daily shot limit and/or dollar limit; passing means strictly more than either."""

    max_shots: int | None = None
    max_cost_usd: Decimal | None = None

    def __bool__(self) -> bool:
        return self.max_shots is not None or self.max_cost_usd is not None

    def passed(self, shots: int, cost_usd: Decimal) -> bool:
        """Whether the work is past a limit (reaching a limit exactly is still within it)."""
        return (self.max_shots is not None and shots > self.max_shots) or (
            self.max_cost_usd is not None and cost_usd > self.max_cost_usd
        )

    def describe(self) -> str:
        parts = []
        if self.max_shots is not None:
            parts.append(f"{self.max_shots} shots")
        if self.max_cost_usd is not None:
            parts.append(f"${self.max_cost_usd}")
        return " / ".join(parts)


@dataclass(frozen=True)
class GuardConfig:
    """What the guard enforces and where it reports. At least one limit is always set.

    ``max_shots`` and ``max_cost_usd`` hold for every device without an entry in ``device_limits``;
    ``account_limits`` holds for all devices and job instance time of the region together.
    """

    max_shots: int | None
    max_cost_usd: Decimal | None
    timezone: ZoneInfo
    device_arns: frozenset[str] | None
    slack_webhook_url: str | None = None
    slack_webhook_secret_arn: str | None = None
    ledger_table: str | None = None
    device_limits: Mapping[str, Limits] = field(default_factory=dict)
    account_limits: Limits = Limits()
    cancel_scope: str = CANCEL_EXCESS
    price_overrides: Mapping[str, object] | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GuardConfig:
        """Parse the settings, raising ``GuardConfigError`` that lists every bad one."""
        problems: list[str] = []

        def setting(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        max_shots = _parse_shots(setting(MAX_SHOTS), problems)
        max_cost = _parse_dollars(setting(MAX_COST_USD), problems)
        account = Limits(
            _parse_shots(setting(ACCOUNT_MAX_SHOTS), problems, ACCOUNT_MAX_SHOTS),
            _parse_dollars(setting(ACCOUNT_MAX_COST_USD), problems, ACCOUNT_MAX_COST_USD),
        )
        device_limits = _parse_device_limits(setting(DEVICE_LIMITS), problems)
        limit_names = (MAX_SHOTS, MAX_COST_USD, ACCOUNT_MAX_SHOTS, ACCOUNT_MAX_COST_USD, DEVICE_LIMITS)
        if all(setting(name) is None for name in limit_names):
            problems.append(f"set {MAX_SHOTS} and/or {MAX_COST_USD} (or {DEVICE_LIMITS}, "
                            f"{ACCOUNT_MAX_SHOTS}, {ACCOUNT_MAX_COST_USD}): no limit is set")
        scope = (setting(CANCEL_SCOPE) or CANCEL_EXCESS).lower()
        if scope not in (CANCEL_EXCESS, CANCEL_ALL):
            problems.append(
                f"{CANCEL_SCOPE}={setting(CANCEL_SCOPE)!r} is neither {CANCEL_EXCESS!r} nor {CANCEL_ALL!r}"
            )
        overrides = _parse_price_overrides(setting(PRICE_OVERRIDES), problems)
        timezone = _parse_timezone(setting(DAY_TIMEZONE) or DEFAULT_TIMEZONE, problems)
        devices = _parse_devices(setting(DEVICE_ARNS), problems)
        webhook = _parse_webhook(setting(SLACK_WEBHOOK_URL), setting(SLACK_POST_URL), problems)
        secret_arn = setting(SLACK_WEBHOOK_SECRET_ARN)
        if secret_arn is not None and not _SECRET_ARN.match(secret_arn):
            problems.append(f"{SLACK_WEBHOOK_SECRET_ARN}={secret_arn!r} is not a Secrets Manager secret ARN")
        if secret_arn is not None and webhook is not None:
            problems.append(
                f"set either a webhook URL ({SLACK_WEBHOOK_URL}) or {SLACK_WEBHOOK_SECRET_ARN}, not both"
            )
        table = setting(LEDGER_TABLE)
        if table is not None and not _TABLE_NAME.match(table):
            problems.append(f"{LEDGER_TABLE}={table!r} is not a DynamoDB table name (3-255 of A-Za-z0-9_.-)")
        if problems:
            raise GuardConfigError(problems)
        assert timezone is not None  # a bad zone is a problem above
        return cls(
            max_shots=max_shots,
            max_cost_usd=max_cost,
            timezone=timezone,
            device_arns=devices,
            slack_webhook_url=webhook,
            slack_webhook_secret_arn=secret_arn,
            ledger_table=table,
            device_limits=device_limits,
            account_limits=account,
            cancel_scope=scope,
            price_overrides=overrides,
        )

    def watches(self, device_arn: str) -> bool:
        """Whether tasks on ``device_arn`` fall under the guard (every device unless DEVICE_ARNS)."""
        return self.device_arns is None or device_arn in self.device_arns

    def limits_for(self, device_arn: str) -> Limits:
        """The daily limits of one device: its ``DEVICE_LIMITS`` entry, else MAX_SHOTS / MAX_COST_USD."""
        return self.device_limits.get(_device_path(device_arn), Limits(self.max_shots, self.max_cost_usd))

    def describe_all_limits(self) -> str:
        """Every limit in words: per device, on single devices, per account; for ``guard deploy``."""
        every_device = Limits(self.max_shots, self.max_cost_usd)
        parts = [f"{every_device.describe()} per device"] if every_device else []
        parts += [f"{limits.describe()} on {path}" for path, limits in self.device_limits.items()]
        if self.account_limits:
            parts.append(f"{self.account_limits.describe()} per account")
        return f"{', '.join(parts)}, per day ({self.timezone.key})"

    def describe_limits(self, device_arn: str | None = None) -> str:
        """The limits in words, for logs and the Slack message (a device's, or the account's)."""
        if device_arn is None:
            return f"{self.account_limits.describe()} per account per day ({self.timezone.key})"
        return f"{self.limits_for(device_arn).describe()} per device per day ({self.timezone.key})"


def _parse_shots(value: str | None, problems: list[str], name: str = MAX_SHOTS) -> int | None:
    if value is None:
        return None
    if not _SHOT_COUNT.match(value):
        problems.append(f"{name}={value!r} is not a whole number of shots (0 or more)")
        return None
    return int(value)


def _parse_dollars(value: str | None, problems: list[str], name: str = MAX_COST_USD) -> Decimal | None:
    if value is None:
        return None
    if not _DOLLARS.match(value):
        problems.append(f"{name}={value!r} is not an amount in dollars such as 25 or 12.50")
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        problems.append(f"{name}={value!r} is not a decimal amount")
        return None


def _device_path(device_arn: str) -> str:
    """A device ARN without its region, so a limit matches whichever region spelling a task uses."""
    _, marker, path = device_arn.partition("device/")
    return path if marker else device_arn


def _parse_device_limits(value: str | None, problems: list[str]) -> dict[str, Limits]:
    """``{"<device ARN>": {"max_shots": 1000, "max_cost_usd": "12.50"}, ...}``."""
    if value is None:
        return {}
    example = f'{DEVICE_LIMITS}=\'{{"arn:aws:braket:...": {{"max_shots": 1000, "max_cost_usd": "12.50"}}}}\''
    try:
        document = json.loads(value)
    except ValueError:
        problems.append(f"{DEVICE_LIMITS} is not JSON; write it as {example}")
        return {}
    if not isinstance(document, dict):
        problems.append(f"{DEVICE_LIMITS} is not a JSON object keyed by device ARN; write it as {example}")
        return {}
    limits: dict[str, Limits] = {}
    for arn, entry in document.items():
        if not _DEVICE_ARN.match(str(arn)) or not isinstance(entry, dict) or not entry or set(entry) - {
            "max_shots", "max_cost_usd"
        }:
            problems.append(f"{DEVICE_LIMITS}: {arn!r} needs a device ARN and max_shots and/or max_cost_usd")
            continue
        where = f"{DEVICE_LIMITS}[{arn}]"
        shots, cost = entry.get("max_shots"), entry.get("max_cost_usd")
        limits[_device_path(arn)] = Limits(
            None if shots is None else _parse_shots(str(shots), problems, f"{where}.max_shots"),
            None if cost is None else _parse_dollars(str(cost), problems, f"{where}.max_cost_usd"),
        )
    return limits


def _parse_price_overrides(value: str | None, problems: list[str]) -> dict[str, object] | None:
    """Prices in the shape of an override file, kept in the function's configuration."""
    if value is None:
        return None
    try:
        document = json.loads(value)
    except ValueError:
        problems.append(f'{PRICE_OVERRIDES} is not JSON; write it like a price file: {{"devices": {{...}}}}')
        return None
    try:
        validate_overrides(document, PRICE_OVERRIDES)
    except ValueError as error:
        problems.append(str(error))
        return None
    return document


def _parse_timezone(value: str, problems: list[str]) -> ZoneInfo | None:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{DAY_TIMEZONE}={value!r} is not an IANA time zone such as UTC or Europe/Berlin")
        return None


def _parse_devices(value: str | None, problems: list[str]) -> frozenset[str] | None:
    if value is None:
        return None
    arns = [part.strip() for part in value.split(",")]
    bad = [arn for arn in arns if not _DEVICE_ARN.match(arn)]
    if bad:
        problems.append(f"{DEVICE_ARNS} holds entries that are not Braket device ARNs: {bad}")
        return None
    return frozenset(arns)


def _parse_webhook(url: str | None, legacy_url: str | None, problems: list[str]) -> str | None:
    if url is not None and legacy_url is not None and url != legacy_url:
        problems.append(f"{SLACK_WEBHOOK_URL} and {SLACK_POST_URL} name different webhooks; keep one")
        return None
    chosen = url or legacy_url
    if chosen is None:
        return None
    name = SLACK_WEBHOOK_URL if url else SLACK_POST_URL
    parts = urlsplit(chosen)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        problems.append(f"{name} is not an http(s) URL")
        return None
    return chosen
