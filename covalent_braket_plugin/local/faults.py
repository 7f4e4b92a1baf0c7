"""Switchable faults of the local Braket stack.

One ``Faults`` object lives in the stack's server process. The gateway reads it on every Braket
request (throttling, server errors, latency) and the emulator reads it when a job or a QPU task
is created (how long to hold it in QUEUED). Tests and the CLI change it at run time through the
admin endpoint ``/_local/faults`` or ``LocalStack.set_faults``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields


@dataclass
class FaultSettings:
    """What the stack does wrong on purpose; every field is off by default."""

    throttle_rate: float = 0.0
    """Share of Braket requests answered with ThrottlingException (HTTP 429), 0 to 1."""
    error_rate: float = 0.0
    """Share of Braket requests answered with InternalServiceException (HTTP 500), 0 to 1."""
    latency_ms: int = 0
    """Delay added to every Braket request."""
    hold_jobs_s: float = 0.0
    """Seconds a new job stays QUEUED before it starts."""
    hold_qpu_tasks_s: float = 0.0
    """Seconds a new QPU task stays QUEUED before it runs (simulators are never held)."""

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
