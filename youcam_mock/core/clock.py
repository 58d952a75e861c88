"""The one clock: task progress, expiry, retention and rate windows all read time from here.

Time is epoch seconds as a float.  Production uses :class:`SystemClock`; tests and the control
API use :class:`ManualClock`, which only moves when told to (or at a chosen speed factor).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """Wall-clock time; the only place in the core that reads the system clock."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves when told: ``advance``/``set``; optionally also runs at ``speed``.

    With ``speed`` 0 (the default) time stands still between calls, so tests never sleep.
    With ``speed`` > 0 it also follows the wall clock, multiplied (a 1 h retention in 36 s at
    speed 100), measured from a monotonic source so system clock jumps do not leak in.
    """

    DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z: a fixed, readable epoch.

    def __init__(self, start: float = DEFAULT_START, speed: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._base = float(start)
        self._speed = float(speed)
        self._anchor = time.monotonic()

    def _elapsed(self) -> float:
        return (time.monotonic() - self._anchor) * self._speed if self._speed else 0.0

    def now(self) -> float:
        with self._lock:
            return self._base + self._elapsed()

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock does not go backwards")
        with self._lock:
            self._rebase()
            self._base += seconds
            return self._base

    def set(self, timestamp: float) -> float:
        with self._lock:
            self._rebase()
            if timestamp < self._base:
                raise ValueError("the clock does not go backwards")
            self._base = float(timestamp)
            return self._base

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            self._rebase()
            self._speed = float(speed)

    def _rebase(self) -> None:
        self._base += self._elapsed()
        self._anchor = time.monotonic()
