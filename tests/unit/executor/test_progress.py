"""Progress: a rich display on a terminal, plain lines everywhere else."""

from __future__ import annotations

import io
import threading

import pytest

from covalent_braket_plugin.executor.progress import Progress, format_amount


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_lines_for_a_task_with_a_total() -> None:
    lines: list[str] = []
    progress = Progress.quiet(lines.append)
    with progress.task("pushing layers", total=3_000_000, unit="B") as task:
        task.advance(1_000_000)
        task.advance(2_000_000)
    assert lines == ["pushing layers...", "pushing layers: done (3.0 MB)"]


def test_quiet_status_lines_only_when_the_status_changes() -> None:
    lines: list[str] = []
    progress = Progress.quiet(lines.append)
    with progress.task("building", total=3, unit="steps") as task:
        task.update(completed=1, status="Step 1/3 : FROM base")
        task.update(completed=1, status="Step 1/3 : FROM base")
        task.update(completed=2, status="Step 2/3 : RUN pip install")
        task.advance(1)
    assert lines == [
        "building...",
        "building: Step 1/3 : FROM base",
        "building: Step 2/3 : RUN pip install",
        "building: done (3 steps)",
    ]


def test_quiet_spinner_without_amount_and_failure() -> None:
    lines: list[str] = []
    progress = Progress.quiet(lines.append)
    with progress.task("looking up the image"):
        pass
    with pytest.raises(RuntimeError, match="boom"), progress.task("pushing"):
        raise RuntimeError("boom")
    progress.note("all done")
    assert lines == ["looking up the image...", "looking up the image: done", "pushing...", "pushing: failed",
                     "all done"]


def test_for_stream_writes_lines_to_a_non_terminal() -> None:
    stream = io.StringIO()
    progress = Progress.for_stream(stream)
    assert not progress.interactive
    with progress.task("checking", total=2, unit="checks") as task:
        task.advance(2)
    progress.note("fine")
    assert stream.getvalue() == "checking...\nchecking: done (2 checks)\nfine\n"
    assert "\x1b" not in stream.getvalue()


def test_for_stream_draws_a_rich_display_on_a_terminal() -> None:
    stream = _Terminal()
    progress = Progress.for_stream(stream)
    assert progress.interactive
    with progress.task("pushing layers", total=2_000_000, unit="B") as task:
        task.advance(1_000_000)
        task.update(status="layer abc")
        task.advance(1_000_000)
    progress.note("image pushed")
    output = stream.getvalue()
    assert "\x1b[" in output  # drawn with terminal control codes, not written as lines
    assert "pushing layers" in output
    assert "2.0 MB/2.0 MB" in output
    assert "image pushed" in output
    assert "pushing layers..." not in output


def test_enabled_overrides_the_terminal_check() -> None:
    forced = io.StringIO()
    assert Progress.for_stream(forced, enabled=True).interactive
    terminal = _Terminal()
    progress = Progress.for_stream(terminal, enabled=False)
    with progress.task("step"):
        pass
    assert terminal.getvalue() == "step...\nstep: done\n"


def test_rich_display_restarts_for_a_later_task_without_redrawing_the_first() -> None:
    stream = _Terminal()
    progress = Progress.for_stream(stream)
    with progress.task("first step"):
        pass
    first = stream.getvalue()
    with progress.task("second step"):
        pass
    later = stream.getvalue()[len(first):]
    assert "second step" in later
    assert "first step" not in later


def test_tasks_from_several_threads() -> None:
    lines: list[str] = []
    progress = Progress.quiet(lines.append)

    def work(index: int) -> None:
        with progress.task(f"task {index}", total=10, unit="B") as task:
            for _ in range(10):
                task.advance(1)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [f"task {i}..." for i in range(8)] + [f"task {i}: done (10 bytes)" for i in range(8)]
    assert sorted(lines) == sorted(expected)


def test_format_amount() -> None:
    assert format_amount(1234567, "B") == "1.2 MB"
    assert format_amount(3, "steps") == "3 steps"
    assert format_amount(2.5) == "2.5"
