"""How the job and image listings show times and tables, on a terminal and in JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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
