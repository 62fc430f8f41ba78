"""One injectable clock for the engine, scheduler, outbox and sandboxes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: for tests and simulated time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        with self._lock:
            self._now = moment


class AcceleratedClock:
    """Simulated time that runs `factor` times faster than real time, from `start`.

    For the demo: with factor 3600 a real second is a simulated hour, so a parcel's fortnight
    passes in minutes. `set_factor` changes the pace from now on without a jump; time never
    runs backwards. Reads a monotonic source, so wall-clock steps (NTP) do not move it.
    """

    def __init__(self, start: datetime, factor: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._check(factor)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._anchor_sim = start
        self._anchor_real = monotonic()
        self._factor = float(factor)

    @staticmethod
    def _check(factor: float) -> None:
        if not factor > 0:
            raise ValueError("factor must be positive")

    @property
    def factor(self) -> float:
        with self._lock:
            return self._factor

    def _now_locked(self) -> datetime:
        elapsed = self._monotonic() - self._anchor_real
        return self._anchor_sim + timedelta(seconds=elapsed * self._factor)

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def set_factor(self, factor: float) -> None:
        self._check(factor)
        with self._lock:
            self._anchor_sim = self._now_locked()
            self._anchor_real = self._monotonic()
            self._factor = float(factor)


def real_window(clock: Clock, real_seconds: float) -> timedelta:
    """`real_seconds` of real time as this clock measures it.

    A freshness window (a signed push's `sent_at` within 300 s) bounds time in flight, which
    passes in real time: on an accelerated clock (the demo runs hours a second) those 300 real
    seconds are `factor` times as many on the clock, or every push would look stale. A system
    or frozen clock is unchanged (factor 1), so real pushes get exactly the same check.
    """
    factor = clock.factor if isinstance(clock, AcceleratedClock) else 1.0
    return timedelta(seconds=real_seconds * max(factor, 1.0))


def as_utc(moment: datetime) -> datetime:
    """Databases hand back naive datetimes (SQLite); every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
