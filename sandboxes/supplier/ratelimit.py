"""A token bucket per API key, timed by the injected clock (a frozen clock never refills)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from core.clock import Clock

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated_at: datetime


class RateLimiter:
    def __init__(self, clock: Clock, per_second: float | None = 10.0,
                 burst: int | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self.configure(per_second, burst)

    def configure(self, per_second: float | None, burst: int | None = None) -> None:
        """``per_second`` None turns limiting off; ``burst`` defaults to one second's worth."""
        if per_second is not None and per_second <= 0:
            raise ValueError("per_second must be positive (or None to turn limiting off)")
        with self._lock:
            self.per_second = per_second
            self.burst = burst if burst is not None else math.ceil(per_second or 0)
            self._buckets.clear()

    def acquire(self, key: str) -> float | None:
        """Take one token for ``key``: None when allowed, else the seconds until one is free."""
        with self._lock:
            if self.per_second is None:
                return None
            now = self._clock.now()
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
            bucket.updated_at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return (1 - bucket.tokens) / self.per_second
