"""Requests per remote system, shared by everyone holding the same limiter.

Every request (in-call retries included) first asks the `RequestLimiter`: at most `rate` per
second (0 = no cap), and nothing while the remote system said to wait. A 429 or 503 with
Retry-After pauses that system for everyone sharing the limiter: every thread with the
in-process one, every worker with the Redis-backed one (integration/limits/redis_limits.py). Used by
the REST supplier and by WooCommerce stores.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from connectors.http import HttpClient, parse_retry_after
from core.errors import RetryableError

PAUSING_STATUSES = frozenset({429, 503})
MIN_WAIT_SECONDS = 0.005


class RequestLimiter(Protocol):
    """Requests to one remote system (`key`), shared by everyone holding the same limiter."""

    def acquire(self, key: str, rate: float) -> None:
        """Block until one request to `key` may go: at most `rate` per second (0 = no cap) and
        not while paused. Raise RetryableError (with the wait) when that is too far away to
        block a worker for."""

    def pause(self, key: str, seconds: float) -> None:
        """Send nothing to `key` for `seconds` (the server's Retry-After)."""

    def remaining_pause(self, key: str) -> float:
        """Seconds until `key` may be called again after a pause (0 when not paused)."""


def too_long(key: str, wait: float) -> RetryableError:
    return RetryableError(f"{key}: asked to wait {wait:.1f}s before the next request",
                          retry_after_seconds=wait, throttled=True)


@dataclass
class _Slot:
    next_at: float = 0.0
    paused_until: float = 0.0


@dataclass
class InProcessRequestLimiter:
    """The embedded mode's limiter: shared by the threads of one process (monotonic time)."""

    max_wait_seconds: float = 5.0
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, key: str, rate: float) -> None:
        while True:
            with self._lock:
                slot = self._slots.setdefault(key, _Slot())
                now = self.now()
                paused = slot.paused_until - now
                if paused <= 0:
                    start = max(slot.next_at, now)
                    wait = start - now
                    if wait > self.max_wait_seconds:
                        raise too_long(key, wait)
                    if rate > 0:
                        slot.next_at = start + 1.0 / rate
                    break
            if paused > self.max_wait_seconds:
                raise too_long(key, paused)
            self.sleep(max(paused, MIN_WAIT_SECONDS))
        if wait > 0:
            self.sleep(wait)

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
            slot.paused_until = max(slot.paused_until, self.now() + seconds)

    def remaining_pause(self, key: str) -> float:
        with self._lock:
            slot = self._slots.get(key)
            return max(slot.paused_until - self.now(), 0.0) if slot else 0.0


class LimitedAdapter(HTTPAdapter):
    """Asks the limiter before every request and tells it about every Retry-After."""

    def __init__(self, limiter: RequestLimiter, key: str, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter
        self.key = key
        self.rate = rate

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        self.limiter.acquire(self.key, self.rate)
        response = super().send(request, *args, **kwargs)
        if response.status_code in PAUSING_STATUSES:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait:
                self.limiter.pause(self.key, wait)
        return response


def limit_requests(http: HttpClient, limiter: RequestLimiter, key: str, rate: float) -> None:
    """Route every request of `http` through `limiter` under `key`."""
    adapter = LimitedAdapter(limiter, key, rate, pool_connections=10, pool_maxsize=10,
                             max_retries=0)
    http.session.mount("http://", adapter)
    http.session.mount("https://", adapter)
