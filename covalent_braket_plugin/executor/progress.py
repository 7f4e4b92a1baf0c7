"""Progress of long steps (image builds and pushes, setup, checks): bars on a terminal, lines elsewhere.

A person at a terminal wants to see a build move (a bar per push, a spinner per step); a log file, a
CI run or the Covalent server's log wants one readable line per event and no escape codes. The same
calling code serves both: it asks a :class:`Progress` for a :meth:`Progress.task`, advances or
updates it, and the :class:`Progress` decides how that is shown::

    progress = Progress.for_stream()                   # rich display on a TTY, else quiet lines
    with progress.task("pushing layers", total=3 * 2**20, unit="B") as task:
        task.advance(2**20)
        task.update(status="layer 1 of 3")
    progress.note("image pushed")

Quiet mode writes ``"<description>..."`` when a task starts, ``"<description>: <status>"`` each time
its status changes, and ``"<description>: done (N unit)"`` (or ``": failed"``) when it ends.
Everything may be called from worker threads.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from rich.console import Console
from rich.filesize import decimal
from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.progress import Task as RichTask
from rich.table import Column
from rich.text import Text

BYTES_UNIT = "B"
STATUS_WIDTH = 48
"""Widest status shown on a terminal; longer ones end in an ellipsis (quiet lines keep them whole)."""


def format_amount(amount: float, unit: str = "") -> str:
    """``amount`` with its unit: bytes (unit ``"B"``) as ``12.3 MB``, anything else as ``3 steps``."""
    if unit == BYTES_UNIT:
        return decimal(int(amount))
    number = f"{amount:g}"
    return f"{number} {unit}" if unit else number


class ProgressTask:
    """One running step: how far it got (``completed`` of ``total``) and what it is doing (``status``)."""

    def __init__(self, progress: Progress, description: str, total: float | None, unit: str) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.completed = 0.0
        self.status = ""
        self._progress = progress
        self._rich_id: Any = None

    def advance(self, amount: float) -> None:
        """Count ``amount`` more done (bytes pushed, steps finished, ...)."""
        self.update(completed=self.completed + amount)

    def update(
        self, completed: float | None = None, total: float | None = None, status: str | None = None
    ) -> None:
        """Set how much is done, the total once it is known, and a short status text."""
        changed_status = status is not None and status != self.status
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if status is not None:
            self.status = status
        self._progress._updated(self, changed_status)


class Progress:
    """Shows tasks and notes either on a rich live display or as plain lines through ``write``.

    Build one with :meth:`for_stream` (a terminal gets the rich display) or :meth:`quiet` (lines
    only, e.g. to a logger: the executor runs inside the Covalent server, where nobody watches a bar).
    """

    def __init__(self, write: Callable[[str], None] | None = None, console: Console | None = None) -> None:
        if (write is None) == (console is None):
            raise ValueError("a Progress needs either a write function (quiet) or a console (rich)")
        self._write = write
        self._console = console
        self._lock = threading.RLock()
        self._live: RichProgress | None = None
        self._active = 0

    @classmethod
    def for_stream(cls, stream: IO[str] | None = None, *, enabled: bool | None = None) -> Progress:
        """A rich display on ``stream`` (default: stderr) when it is a terminal, else quiet lines to it.

        ``enabled`` forces the choice: True draws the display even on a non-terminal, False writes lines.
        """
        if enabled is None:
            shown = stream if stream is not None else sys.stderr
            enabled = bool(getattr(shown, "isatty", lambda: False)())
        if enabled:
            console = Console(file=stream, stderr=stream is None, force_terminal=True, highlight=False)
            return cls(console=console)

        def write(line: str) -> None:
            # Without a stream given, stderr as it is at each line: a process-wide display outlives
            # whoever replaced sys.stderr when it was made (a test's capture, a redirect).
            target = stream if stream is not None else sys.stderr
            target.write(line + "\n")
            target.flush()

        return cls(write=write)

    @classmethod
    def quiet(cls, write: Callable[[str], None]) -> Progress:
        """A Progress that only emits one-line messages through ``write`` (a logger's method, print, ...)."""
        return cls(write=write)

    @property
    def interactive(self) -> bool:
        """True when this Progress draws a live display rather than writing lines."""
        return self._console is not None

    @contextmanager
    def task(self, description: str, total: float | None = None, unit: str = "") -> Iterator[ProgressTask]:
        """A step shown while the block runs: a bar when ``total`` is known, else a spinner.

        The step is reported failed if the block raises; the exception goes on.
        """
        task = ProgressTask(self, description, total, unit)
        self._started(task)
        try:
            yield task
        except BaseException:
            self._ended(task, ok=False)
            raise
        self._ended(task, ok=True)

    def note(self, message: str) -> None:
        """One line, above the live display on a terminal."""
        with self._lock:
            if self._write is not None:
                self._write(message)
            elif self._live is not None:
                self._live.console.print(message, markup=False)
            else:
                assert self._console is not None
                self._console.print(message, markup=False)

    # --- rendering --------------------------------------------------------------------------------
    def _started(self, task: ProgressTask) -> None:
        with self._lock:
            if self._write is not None:
                self._write(f"{task.description}...")
                return
            if self._live is None:
                # A fresh display per burst of tasks: restarting a stopped one would draw its old rows again.
                self._live = _rich_display(self._console)
                self._live.start()
            self._active += 1
            task._rich_id = self._live.add_task(
                task.description, total=task.total, unit=task.unit, status=task.status
            )

    def _updated(self, task: ProgressTask, changed_status: bool) -> None:
        with self._lock:
            if self._write is not None:
                if changed_status and task.status:
                    self._write(f"{task.description}: {task.status}")
                return
            if self._live is not None and task._rich_id is not None:
                self._live.update(
                    task._rich_id, completed=task.completed, total=task.total, status=task.status
                )

    def _ended(self, task: ProgressTask, ok: bool) -> None:
        with self._lock:
            if self._write is not None:
                if not ok:
                    self._write(f"{task.description}: failed")
                elif task.completed or task.total is not None:
                    self._write(f"{task.description}: done ({format_amount(task.completed, task.unit)})")
                else:
                    self._write(f"{task.description}: done")
                return
            if self._live is None or task._rich_id is None:
                return
            # A spinner that finished shows as a full bar; a failed step keeps where it stopped.
            total = task.total if task.total is not None else max(task.completed, 1)
            completed = total if ok and task.total is None else task.completed
            self._live.update(
                task._rich_id, total=total, completed=completed, status="done" if ok else "failed"
            )
            self._active -= 1
            if self._active == 0:
                self._live.stop()
                self._live = None


class _AmountColumn(ProgressColumn):
    """``3/9 steps`` or ``1.2 MB/4.0 MB``, or only what is done while the total is unknown."""

    def render(self, task: RichTask) -> Text:
        unit = task.fields.get("unit", "")
        done = format_amount(task.completed, unit)
        if task.total is None:
            return Text(done if task.completed else "")
        if unit == BYTES_UNIT:
            return Text(f"{done}/{format_amount(task.total, unit)}")
        return Text(f"{task.completed:g}/{format_amount(task.total, unit)}")


def _rich_display(console: Console | None) -> RichProgress:
    return RichProgress(
        SpinnerColumn(finished_text="✓"),
        TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis")),
        BarColumn(bar_width=24),
        _AmountColumn(),
        TextColumn(
            "{task.fields[status]}",
            markup=False,
            table_column=Column(no_wrap=True, overflow="ellipsis", max_width=STATUS_WIDTH),
        ),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
