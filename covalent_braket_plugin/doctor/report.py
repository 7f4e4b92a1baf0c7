"""The doctor's results as a table for people or as JSON for scripts."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from covalent_braket_plugin.doctor.catalog import Status
from covalent_braket_plugin.doctor.checks import Result

WIDTH = 110
_LABELS = {Status.PASS: "pass", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.SKIP: "skip"}


def failed(results: Sequence[Result]) -> bool:
    """True when any check failed: the command then exits non-zero. Warnings alone do not."""
    return any(result.status is Status.FAIL for result in results)


def summary(results: Sequence[Result]) -> str:
    counts = Counter(result.status for result in results)
    parts = [(Status.FAIL, "failed"), (Status.WARN, "warning"), (Status.PASS, "passed"),
             (Status.SKIP, "not checked")]
    return ", ".join(f"{counts[status]} {name}{'s' if name == 'warning' and counts[status] > 1 else ''}"
                     for status, name in parts if counts[status])


def to_table(results: Sequence[Result], conf_path: Path, width: int = WIDTH) -> str:
    """One block per check: status, title and message; under each warning or failure its fix."""
    title_width = max(len(result.title) for result in results)
    indent = " " * (4 + 2 + title_width + 2)
    lines = [f"covalent.conf: {conf_path}", ""]
    for result in results:
        head = f"{_LABELS[result.status]:<4}  {result.title:<{title_width}}  "
        lines += textwrap.wrap(result.message, width, initial_indent=head, subsequent_indent=indent,
                               break_on_hyphens=False, break_long_words=False) or [head.rstrip()]
        if result.fix:
            lines += textwrap.wrap(result.fix, width, initial_indent=f"{indent}fix: ",
                                   subsequent_indent=f"{indent}     ", break_on_hyphens=False,
                                   break_long_words=False)
    lines += ["", summary(results)]
    return "\n".join(lines)


def to_json(results: Sequence[Result], conf_path: Path) -> str:
    """``{"ok", "conf", "summary", "checks": [{check, title, status, message, fix, problem}]}``."""
    checks = [{**asdict(result), "status": result.status.value} for result in results]
    document = {"ok": not failed(results), "conf": str(conf_path), "summary": summary(results),
                "checks": checks}
    return json.dumps(document, indent=2)
