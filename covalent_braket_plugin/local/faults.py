"""Switchable faults of the local Braket stack.

One ``Faults`` object lives in the stack's server process. The gateway reads it on every Braket
request (throttling, server errors, latency) and the emulator reads it when a job or a QPU task
is created (how long to hold it in QUEUED). Tests and the CLI change it at run time through the
admin endpoint ``/_local/faults`` or ``LocalStack.set_faults``.
"""

from __future__ import annotations

import random
import threading
from argparse import ArgumentParser, Namespace
from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _setting(default: float, flag: str, help: str) -> Any:
    """A fault setting with the command-line flag that sets it at start and its one-line help."""
    return field(default=default, metadata={"flag": flag, "help": help})


@dataclass
class FaultSettings:
    """What the stack does wrong on purpose; every field is off by default."""

    throttle_rate: float = _setting(
        0.0, "--throttle-rate",
        "share of Braket requests answered with ThrottlingException (HTTP 429), 0 to 1",
    )
    error_rate: float = _setting(
        0.0, "--error-rate",
        "share of Braket requests answered with InternalServiceException (HTTP 500), 0 to 1",
    )
    latency_ms: int = _setting(0, "--latency-ms", "milliseconds added to every Braket request")
    hold_jobs_s: float = _setting(
        0.0, "--hold-jobs", "seconds a new hybrid job stays QUEUED before it starts"
    )
    hold_qpu_tasks_s: float = _setting(
        0.0, "--hold-qpu-tasks",
        "seconds a new QPU task stays QUEUED before it runs (simulators are never held)",
    )

    def validate(self) -> None:
        for name in ("throttle_rate", "error_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("latency_ms", "hold_jobs_s", "hold_qpu_tasks_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")


class Faults:
    """Thread-safe holder of the current ``FaultSettings``."""

    def __init__(self, settings: FaultSettings | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = settings or FaultSettings()
        self._settings.validate()
        self._random = random.Random(seed)

    @property
    def settings(self) -> FaultSettings:
        with self._lock:
            return FaultSettings(**asdict(self._settings))

    def update(self, **changes: float) -> FaultSettings:
        """Change some settings; unknown names or bad values raise ValueError and change nothing."""
        known = {f.name: f.type for f in fields(FaultSettings)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
        with self._lock:
            candidate = FaultSettings(**{**asdict(self._settings), **changes})
            candidate.validate()
            self._settings = candidate
            return FaultSettings(**asdict(candidate))

    def reset(self) -> FaultSettings:
        with self._lock:
            self._settings = FaultSettings()
            return FaultSettings()

    def draw(self) -> str | None:
        """Pick the fault for one request: "throttle", "error" or None."""
        with self._lock:
            s = self._settings
            roll = self._random.random()
        if roll < s.throttle_rate:
            return "throttle"
        if roll < s.throttle_rate + s.error_rate:
            return "error"
        return None


def add_fault_arguments(parser: ArgumentParser) -> None:
    """Add one flag per fault setting (``--throttle-rate`` ...); unset flags stay None."""
    for setting in fields(FaultSettings):
        parser.add_argument(
            setting.metadata["flag"], dest=setting.name, default=None, metavar="N",
            type=int if setting.type in (int, "int") else float,
            help=setting.metadata["help"],
        )


def fault_changes(args: Namespace) -> dict[str, float]:
    """The fault settings given on a command line parsed with ``add_fault_arguments``."""
    given = {s.name: getattr(args, s.name, None) for s in fields(FaultSettings)}
    return {name: value for name, value in given.items() if value is not None}


def fault_flags(changes: dict[str, float]) -> list[str]:
    """The command-line flags that give the settings in ``changes`` (the reverse of ``fault_changes``)."""
    flags = {s.name: s.metadata["flag"] for s in fields(FaultSettings)}
    unknown = sorted(set(changes) - set(flags))
    if unknown:
        raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(flags)}")
    return [item for name, value in changes.items() for item in (flags[name], str(value))]
