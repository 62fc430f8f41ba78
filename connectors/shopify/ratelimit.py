"""The GraphQL cost budget: one leaky bucket per store, mirrored from Shopify's throttleStatus.

Shopify refills each app+store bucket at `restoreRate` points per second up to
`maximumAvailable`, and every answer says how full it is. The limiter keeps that picture per
store, reserves the points a call may cost before sending it, and makes the caller wait (sleep,
never spin) until the bucket holds them. `CostLimiter` is the interface; this in-process
version is shared by every thread of one process, the Redis-backed one
(integration/limits/redis_limits.py) by every worker process, with the same three methods.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.clock import Clock, SystemClock
from core.errors import RetryableError

POINT_TOLERANCE = 1e-6  # float refill arithmetic must not turn "just enough" into a spin
MIN_WAIT_SECONDS = 0.01


@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def parse(cls, cost: Any) -> ThrottleStatus | None:
        """From `extensions.cost` of an answer; None when absent or malformed."""
        status = cost.get("throttleStatus") if isinstance(cost, dict) else None
        if not isinstance(status, dict):
            return None
        try:
            return cls(float(status["maximumAvailable"]), float(status["currentlyAvailable"]),
                       float(status["restoreRate"]))
        except (TypeError, KeyError, ValueError):
            return None


@dataclass
class Usage:
    calls: int = 0
    points: int = 0  # actualQueryCost summed
    throttled: int = 0
    waited_seconds: float = 0.0


class CostLimiter(Protocol):
    def acquire(self, key: str, points: float) -> None:
        """Block until `points` are available for `key`, then reserve them."""

    def try_acquire(self, key: str, points: float) -> float:
        """Reserve `points` for `key` if the bucket holds them now and return 0; otherwise
        reserve nothing and return the seconds until it will (never sleeps)."""

    def observe(self, key: str, status: ThrottleStatus, *, actual: int | None,
                throttled: bool, reserved: float = 0.0) -> None:
        """Record what Shopify said after a call that had `reserved` points set aside (the
        truth replaces the estimate; what was reserved but not spent comes back)."""

    def usage(self, key: str) -> Usage: ...


@dataclass
class _Bucket:
    maximum: float
    available: float
    restore_rate: float
    as_of: float  # seconds on the limiter's clock


@dataclass
class InProcessLimiter:
    """Per-store buckets in this process. `clock`/`sleep` are injectable for tests."""

    clock: Clock = field(default_factory=SystemClock)
    sleep: Callable[[float], None] = time.sleep
    max_wait_seconds: float = 60.0
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _usage: dict[str, Usage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _refilled(self, bucket: _Bucket, now: float) -> None:
        elapsed = max(now - bucket.as_of, 0.0)
        bucket.available = min(bucket.maximum, bucket.available + elapsed * bucket.restore_rate)
        bucket.as_of = now

    def try_acquire(self, key: str, points: float) -> float:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0  # nothing known yet: the first answer tells us
            self._refilled(bucket, self._now())
            wanted = min(points, bucket.maximum)
            if bucket.available + POINT_TOLERANCE >= wanted:
                bucket.available = max(bucket.available - wanted, 0.0)
                return 0.0
            return max((wanted - bucket.available) / bucket.restore_rate, MIN_WAIT_SECONDS)

    def acquire(self, key: str, points: float) -> None:
        while True:
            wait = self.try_acquire(key, points)
            if wait <= 0:
                return
            with self._lock:
                self._usage.setdefault(key, Usage()).waited_seconds += wait
            if wait > self.max_wait_seconds:
                raise RetryableError(f"Shopify budget of {key} needs {wait:.0f}s to refill",
                                     retry_after_seconds=wait, throttled=True)
            self.sleep(wait)

    def observe(self, key: str, status: ThrottleStatus, *, actual: int | None,
                throttled: bool, reserved: float = 0.0) -> None:
        # Shopify's figure is the truth as of this answer, but it does not know the points
        # this process reserved for calls still in flight: the estimate (which holds those
        # reservations) plus what this call reserved and did not spend, capped by Shopify's
        # figure, never promises points another thread has already taken.
        with self._lock:
            now = self._now()
            bucket = self._buckets.get(key)
            available = status.currently_available
            if bucket is not None:
                self._refilled(bucket, now)
                refund = max(reserved - (actual or 0), 0.0)
                available = min(bucket.available + refund, available)
            available = max(min(available, status.maximum_available), 0.0)
            self._buckets[key] = _Bucket(status.maximum_available, available,
                                         status.restore_rate, now)
            usage = self._usage.setdefault(key, Usage())
            usage.calls += 1
            usage.points += actual or 0
            usage.throttled += int(throttled)

    def usage(self, key: str) -> Usage:
        with self._lock:
            return self._usage.setdefault(key, Usage())
