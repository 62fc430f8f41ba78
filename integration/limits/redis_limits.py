"""Rate limits shared by every worker process, kept in Redis.

* `RedisCostLimiter` (a `CostLimiter`): each Shopify store's GraphQL bucket, mirrored from the
  `throttleStatus` of every answer. Before a call, a Lua script refills the bucket to now at
  `restoreRate` and reserves the call's points, or says how long to wait; after the call,
  another script takes Shopify's figure and gives back what was reserved but not spent. Both
  run atomically in Redis, so two workers never both spend the same points.
* `RedisRequestLimiter` (a `RequestLimiter`): per supplier or WooCommerce store, at most N
  requests per second for all workers together, and a Retry-After seen by one worker pauses
  them all.

If Redis cannot be reached, both degrade to their in-process twin (a logged warning, never a
crash) and try Redis again after `RETRY_REDIS_SECONDS`: budgets are then per process, as in
embedded mode, and a THROTTLED answer is still waited out by the client.

Which one a process uses is decided in `integration.limits.choice`; only a process that shares
its limits imports this module (and Redis's client library, from the `workers` extra).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import redis

from connectors.request_limits import InProcessRequestLimiter, too_long
from connectors.shopify.ratelimit import (
    MIN_WAIT_SECONDS,
    POINT_TOLERANCE,
    InProcessLimiter,
    ThrottleStatus,
    Usage,
)
from core.clock import Clock, SystemClock
from core.errors import RetryableError

log = logging.getLogger(__name__)

PREFIX = "droptrack:ratelimit"
KEY_TTL_SECONDS = 24 * 3600
RETRY_REDIS_SECONDS = 10.0
SOCKET_TIMEOUT_SECONDS = 1.0
T = TypeVar("T")

# KEYS[1] bucket hash; ARGV now, points. Returns "0" (reserved, or bucket unknown) or the
# seconds to wait. Numbers travel as strings: Redis truncates Lua numbers to integers.
ACQUIRE_POINTS = """
local b = redis.call('HMGET', KEYS[1], 'max', 'avail', 'rate', 'ts')
if not b[1] then return '0' end
local now, points = tonumber(ARGV[1]), tonumber(ARGV[2])
local max, avail, rate, ts = tonumber(b[1]), tonumber(b[2]), tonumber(b[3]), tonumber(b[4])
avail = math.min(max, avail + math.max(now - ts, 0) * rate)
local wanted = math.min(points, max)
local wait = '0'
if avail + tonumber(ARGV[3]) >= wanted then
  avail = math.max(avail - wanted, 0)
else
  wait = string.format('%.6f', (wanted - avail) / rate)
end
redis.call('HSET', KEYS[1], 'avail', string.format('%.6f', avail), 'ts',
  string.format('%.6f', math.max(now, ts)))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return wait
"""

# KEYS[1] bucket hash, KEYS[2] usage hash; ARGV now, max, reported, rate, refund, actual,
# throttled. Shopify's figure caps DropTrack's estimate (which also holds the points other
# workers reserved for calls still in flight); the unspent reservation comes back first.
OBSERVE_POINTS = """
local now, max, reported, rate = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'max', 'avail', 'rate', 'ts')
local avail = reported
if b[1] then
  local estimate = math.min(tonumber(b[1]), tonumber(b[2])
    + math.max(now - tonumber(b[4]), 0) * tonumber(b[3]))
  avail = math.min(estimate + tonumber(ARGV[5]), reported)
end
avail = math.max(math.min(avail, max), 0)
redis.call('HSET', KEYS[1], 'max', tostring(max), 'avail', string.format('%.6f', avail),
  'rate', tostring(rate), 'ts', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('HINCRBY', KEYS[2], 'calls', 1)
redis.call('HINCRBY', KEYS[2], 'points', ARGV[6])
redis.call('HINCRBY', KEYS[2], 'throttled', ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[8])
return 1
"""

# KEYS[1] supplier hash; ARGV now, rate, max wait. Returns {wait, reserved}: reserved 1 when the
# caller got a slot `wait` seconds from now; 0 when paused or the slot is too far (try later).
ACQUIRE_REQUEST = """
local now, rate, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'next_at', 'paused_until')
local next_at, paused = tonumber(s[1] or '0'), tonumber(s[2] or '0')
if paused > now then return {string.format('%.6f', paused - now), 0} end
local start = math.max(next_at, now)
if start - now > max_wait then return {string.format('%.6f', start - now), 0} end
if rate > 0 then
  redis.call('HSET', KEYS[1], 'next_at', string.format('%.6f', start + 1 / rate))
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return {string.format('%.6f', start - now), 1}
"""

# KEYS[1] supplier hash; ARGV now, seconds. A pause only ever grows.
PAUSE_REQUESTS = """
local until_ = tonumber(ARGV[1]) + tonumber(ARGV[2])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused_until') or '0')
if until_ > paused then
  redis.call('HSET', KEYS[1], 'paused_until', string.format('%.6f', until_))
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def connect(url: str) -> redis.Redis:
    """A client that fails fast: a dead Redis must not hold a worker for long."""
    return redis.Redis.from_url(url, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                                socket_timeout=SOCKET_TIMEOUT_SECONDS, health_check_interval=30)


class _Degradable:
    """Runs an operation on Redis, or on the in-process fallback while Redis is unreachable."""

    def __init__(self, client: redis.Redis, what: str) -> None:
        self.client = client
        self.what = what
        self._down_until = 0.0
        self._lock = threading.Lock()

    def run(self, on_redis: Callable[[], T], fallback: Callable[[], T]) -> T:
        if time.monotonic() < self._down_until:
            return fallback()
        try:
            result = on_redis()
        except redis.RedisError as exc:
            with self._lock:
                first = self._down_until == 0.0
                self._down_until = time.monotonic() + RETRY_REDIS_SECONDS
            if first:
                log.warning("%s: Redis unavailable (%s); using this process's own limits, "
                            "not shared with other workers, until it is back", self.what, exc)
            return fallback()
        if self._down_until:
            with self._lock:
                if self._down_until:
                    self._down_until = 0.0
                    log.warning("%s: Redis is back; limits are shared again", self.what)
        return result


class RedisCostLimiter:
    """Shopify GraphQL budgets shared through Redis (see module doc)."""

    def __init__(self, client: redis.Redis, *, clock: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep, max_wait_seconds: float = 60.0,
                 fallback: InProcessLimiter | None = None) -> None:
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.max_wait_seconds = max_wait_seconds
        self.fallback = fallback or InProcessLimiter(clock=self.clock, sleep=sleep,
                                                     max_wait_seconds=max_wait_seconds)
        self._redis = _Degradable(client, "Shopify cost limiter")
        self._acquire = client.register_script(ACQUIRE_POINTS)
        self._observe = client.register_script(OBSERVE_POINTS)

    @staticmethod
    def bucket_key(key: str) -> str:
        return f"{PREFIX}:shopify:{key}:bucket"

    @staticmethod
    def usage_key(key: str) -> str:
        return f"{PREFIX}:shopify:{key}:usage"

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def try_acquire(self, key: str, points: float) -> float:
        wait = self._redis.run(lambda: self._try(key, points), lambda: -1.0)
        if wait < 0:
            return self.fallback.try_acquire(key, points)
        return max(wait, MIN_WAIT_SECONDS) if wait > 0 else 0.0

    def acquire(self, key: str, points: float) -> None:
        while True:
            wait = self._redis.run(lambda: self._try(key, points), lambda: -1.0)
            if wait < 0:
                self.fallback.acquire(key, points)
                return
            if wait <= 0:
                return
            wait = max(wait, MIN_WAIT_SECONDS)
            if wait > self.max_wait_seconds:
                raise RetryableError(f"Shopify budget of {key} needs {wait:.0f}s to refill",
                                     retry_after_seconds=wait, throttled=True)
            self._count_wait(key, wait)
            self.sleep(wait)

    def _count_wait(self, key: str, seconds: float) -> None:
        self._redis.run(lambda: self._redis.client.hincrbyfloat(
            self.usage_key(key), "waited_seconds", seconds), lambda: 0.0)

    def _try(self, key: str, points: float) -> float:
        answer = self._acquire(keys=[self.bucket_key(key)], args=[
            repr(self._now()), repr(float(points)), repr(POINT_TOLERANCE), KEY_TTL_SECONDS])
        return float(answer)

    def observe(self, key: str, status: ThrottleStatus, *, actual: int | None,
                throttled: bool, reserved: float = 0.0) -> None:
        # The fallback always learns too, so a Redis outage starts from a fresh picture.
        self.fallback.observe(key, status, actual=actual, throttled=throttled)
        refund = max(reserved - (actual or 0), 0.0)
        self._redis.run(lambda: self._observe(
            keys=[self.bucket_key(key), self.usage_key(key)], args=[
                repr(self._now()), repr(status.maximum_available),
                repr(status.currently_available), repr(status.restore_rate), repr(refund),
                int(actual or 0), int(throttled), KEY_TTL_SECONDS]), lambda: None)

    def usage(self, key: str) -> Usage:
        def read() -> Usage:
            raw: Mapping[bytes, bytes] = self._redis.client.hgetall(  # type: ignore[assignment]
                self.usage_key(key))
            values = {k.decode(): v.decode() for k, v in raw.items()}
            return Usage(calls=int(values.get("calls", 0)), points=int(values.get("points", 0)),
                         throttled=int(values.get("throttled", 0)),
                         waited_seconds=float(values.get("waited_seconds", 0.0)))
        return self._redis.run(read, lambda: self.fallback.usage(key))


class RedisRequestLimiter:
    """Supplier request rates and Retry-After pauses shared through Redis (see module doc)."""

    def __init__(self, client: redis.Redis, *, clock: Clock | None = None,
                 sleep: Callable[[float], None] = time.sleep, max_wait_seconds: float = 5.0,
                 fallback: InProcessRequestLimiter | None = None) -> None:
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.max_wait_seconds = max_wait_seconds
        self.fallback = fallback or InProcessRequestLimiter(max_wait_seconds=max_wait_seconds,
                                                            sleep=sleep)
        self._redis = _Degradable(client, "supplier request limiter")
        self._acquire = client.register_script(ACQUIRE_REQUEST)
        self._pause = client.register_script(PAUSE_REQUESTS)

    @staticmethod
    def slot_key(key: str) -> str:
        return f"{PREFIX}:requests:{key}"

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def acquire(self, key: str, rate: float) -> None:
        while True:
            answer = self._redis.run(lambda: self._try(key, rate), lambda: None)
            if answer is None:
                self.fallback.acquire(key, rate)
                return
            wait, reserved = answer
            if reserved:
                if wait > 0:
                    self.sleep(wait)
                return
            if wait > self.max_wait_seconds:
                raise too_long(key, wait)
            self.sleep(max(wait, MIN_WAIT_SECONDS))

    def _try(self, key: str, rate: float) -> tuple[float, bool]:
        wait, reserved = self._acquire(keys=[self.slot_key(key)], args=[
            repr(self._now()), repr(float(rate)), repr(self.max_wait_seconds), KEY_TTL_SECONDS])
        return float(wait), bool(int(reserved))

    def pause(self, key: str, seconds: float) -> None:
        self.fallback.pause(key, seconds)
        self._redis.run(lambda: self._pause(keys=[self.slot_key(key)], args=[
            repr(self._now()), repr(float(seconds)), KEY_TTL_SECONDS]), lambda: None)

    def remaining_pause(self, key: str) -> float:
        def read() -> float:
            raw: Any = self._redis.client.hget(self.slot_key(key), "paused_until")
            return max(float(raw or 0) - self._now(), 0.0)
        return self._redis.run(read, lambda: self.fallback.remaining_pause(key))
