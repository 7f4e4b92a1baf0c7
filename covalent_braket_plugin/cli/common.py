"""What the ``jobs`` and ``images`` commands share: the account they talk to, durations, times and tables.

The commands act on what the executor made, so they find the account the way the executor does:
``[executors.braket]`` of covalent.conf through ``BraketExecutorSettings`` and ``make_session``,
with ``--region`` and ``--profile`` taking precedence over the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from covalent_braket_plugin.executor.covalent_conf import read_executor_section
from covalent_braket_plugin.executor.settings import BraketExecutorSettings

_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_DURATION_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def parse_duration(text: str, flag: str = "duration") -> timedelta:
    """``30d``, ``12h``, ``1d12h``, ``90m``, ``2w``, ``45s`` as a timedelta.

    Raises:
        ValueError: naming ``flag`` and the accepted form.
    """
    value = text.strip().lower()
    parts = _DURATION_PART.findall(value)
    if not value or "".join(number + unit for number, unit in parts) != value:
        raise ValueError(
            f"{flag}: {text!r} is not a duration; write a number and a unit (w, d, h, m, s), "
            "e.g. 30d, 12h or 1d12h"
        )
    return sum((timedelta(**{_DURATION_UNITS[unit]: int(number)}) for number, unit in parts), timedelta())


def parse_since(text: str, now: datetime, flag: str = "--since") -> datetime:
    """A point in time: a duration before ``now`` (``7d``) or an ISO date or date-time (UTC if no zone).

    Raises:
        ValueError: naming ``flag`` and the accepted forms.
    """
    try:
        return now - parse_duration(text, flag)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{flag}: {text!r} is neither a duration (7d, 12h) nor a date or date-time "
            "(2026-11-01, 2026-11-01T08:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime | None) -> str:
    """A time as UTC ``YYYY-MM-DD HH:MM:SS``, or ``-`` when there is none (a job still running)."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def iso_time(moment: datetime | None) -> str | None:
    """A time as ISO 8601 UTC for JSON output."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with left-aligned columns two spaces apart, for a terminal or a pipe."""
    widths = [max(len(str(line[i])) for line in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (header, *rows)
    ]
    return "\n".join(lines)


def load_settings(
    region: str | None = None, profile: str | None = None, conf_path: Path | None = None
) -> BraketExecutorSettings:
    """The executor's settings from covalent.conf's ``[executors.braket]``, with ``region`` and
    ``profile`` (the command's flags) in place of the file's when given.

    Raises:
        ExecutorConfigError: a setting of the file (or a flag) is invalid; the message names it.
        ValueError: covalent.conf is not TOML.
    """
    section = read_executor_section(conf_path) or {}
    flags = {name: value for name, value in (("region", region), ("profile", profile)) if value}
    return BraketExecutorSettings.from_options(**{**section, **flags})
