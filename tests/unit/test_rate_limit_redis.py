"""The Redis-backed limiters' arithmetic, on a real Redis and a frozen clock (a wait advances it):
two instances (two workers) share one budget, unspent reservations come back, a pause reaches
everyone, and which limiter a process gets follows `[workers] rate_limits`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis

from connectors.request_limits import InProcessRequestLimiter
from connectors.shopify import connector as shopify_connector
from connectors.shopify.ratelimit import ThrottleStatus
from core.clock import FrozenClock
from core.errors import RetryableError
from integration.limits import choice, redis_limits
from integration.limits.redis_limits import RedisCostLimiter, RedisRequestLimiter
from tests.conftest import make_settings

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STORE = "shop.myshopify.com"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def sleeper(clock: FrozenClock, log: list[float]) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        log.append(seconds)
        clock.advance(timedelta(seconds=seconds))
    return sleep


def worker_limiter(url: str, clock: FrozenClock, waits: list[float]) -> RedisCostLimiter:
    """What one worker process builds: its own connection, its own limiter object."""
    return RedisCostLimiter(redis.Redis.from_url(url), clock=clock, sleep=sleeper(clock, waits))


def test_two_workers_draw_on_one_budget(redis_client: redis.Redis, redis_url: str,
                                        clock: FrozenClock) -> None:
    waits: list[float] = []
    first, second = worker_limiter(redis_url, clock, waits), worker_limiter(redis_url, clock,
                                                                            waits)
    first.acquire(STORE, 50)  # nothing known yet: the first answer teaches the bucket
    first.observe(STORE, ThrottleStatus(100, 100, 10), actual=0, throttled=False)
    first.acquire(STORE, 60)
    second.acquire(STORE, 60)  # 40 left: the second worker waits 2 s for 20 more
    assert waits == [pytest.approx(2.0)]
    assert second.usage(STORE).waited_seconds == pytest.approx(2.0)


def test_unspent_points_come_back_but_never_beyond_what_shopify_reports(
        redis_client: redis.Redis, redis_url: str, clock: FrozenClock) -> None:
    waits: list[float] = []
    first, second = worker_limiter(redis_url, clock, waits), worker_limiter(redis_url, clock,
                                                                            waits)
    first.observe(STORE, ThrottleStatus(1000, 1000, 50), actual=1, throttled=False)
    first.acquire(STORE, 600)  # the first worker's call is in flight (400 left)
    second.acquire(STORE, 300)  # so is the second's (100 left)
    # The first answer: it cost 100, Shopify has charged only that call (1000 - 100).
    first.observe(STORE, ThrottleStatus(1000, 900, 50), actual=100, throttled=False,
                  reserved=600)
    # 100 + the 500 not spent = 600 (the second worker's 300 stays reserved, unlike Shopify's 900)
    second.acquire(STORE, 600)
    assert waits == []
    first.acquire(STORE, 50)  # 0 left: wait 1 s at 50 points/s
    assert waits == [pytest.approx(1.0)]
    usage = first.usage(STORE)
    assert (usage.calls, usage.points) == (2, 101)


def test_a_long_refill_goes_back_to_the_outbox(redis_client: redis.Redis, redis_url: str,
                                               clock: FrozenClock) -> None:
    limiter = worker_limiter(redis_url, clock, [])
    limiter.observe(STORE, ThrottleStatus(2000, 0, 1), actual=None, throttled=True)
    with pytest.raises(RetryableError) as raised:
        limiter.acquire(STORE, 500)
    assert raised.value.retry_after_seconds == pytest.approx(500)


def test_a_pause_reaches_every_worker_and_rates_are_shared(
        redis_client: redis.Redis, redis_url: str, clock: FrozenClock) -> None:
    waits: list[float] = []
    def make() -> RedisRequestLimiter:
        return RedisRequestLimiter(redis.Redis.from_url(redis_url), clock=clock,
                                   sleep=sleeper(clock, waits))

    first, second = make(), make()
    for _ in range(3):
        first.acquire("supplier:1", 2.0)
        second.acquire("supplier:1", 2.0)
    # Six requests at 2 per second together: 0, 0.5, ... 2.5 s.
    assert sum(waits) == pytest.approx(2.5)
    waits.clear()
    first.pause("supplier:1", 3)
    assert second.remaining_pause("supplier:1") == pytest.approx(3.0)
    second.acquire("supplier:1", 0)
    assert sum(waits) == pytest.approx(3.0)
    first.pause("supplier:1", 30)
    with pytest.raises(RetryableError) as raised:
        second.acquire("supplier:1", 0)
    assert raised.value.retry_after_seconds == pytest.approx(30)
    second.acquire("supplier:2", 0)  # other suppliers are not paused


def test_redis_down_falls_back_to_the_process_limits_with_a_warning(
        clock: FrozenClock, caplog: pytest.LogCaptureFixture) -> None:
    dead = redis_limits.connect("redis://127.0.0.1:1/0")  # nothing listens on port 1
    waits: list[float] = []
    costs = RedisCostLimiter(dead, clock=clock, sleep=sleeper(clock, waits))
    requests_ = RedisRequestLimiter(dead, clock=clock, fallback=InProcessRequestLimiter(
        sleep=lambda _s: None))
    with caplog.at_level(logging.WARNING, logger="integration.limits.redis_limits"):
        costs.observe(STORE, ThrottleStatus(100, 100, 10), actual=5, throttled=False)
        costs.acquire(STORE, 80)
        costs.acquire(STORE, 40)  # the process's own bucket still makes it wait
        requests_.pause("supplier:1", 2)
        assert requests_.remaining_pause("supplier:1") > 1.5
    assert waits == [pytest.approx(2.0)]
    assert costs.usage(STORE).calls == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("Redis unavailable" in w for w in warnings)


def test_which_limits_a_process_uses(database_url: str, redis_url: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    auto = make_settings(database_url, workers={"redis_url": redis_url})
    assert not choice.shared_limits(auto, {})  # droptrack serve, tests
    assert choice.shared_limits(auto, {"DROPTRACK_WORKER_PROCESS": "1"})
    forced = make_settings(database_url, workers={"redis_url": redis_url, "rate_limits": "redis"})
    off = make_settings(database_url, workers={"rate_limits": "process"})
    assert choice.shared_limits(forced, {}) and not choice.shared_limits(
        off, {"DROPTRACK_WORKER_PROCESS": "1"})
    own = shopify_connector.Environment()
    monkeypatch.setattr(shopify_connector, "ENVIRONMENT", own)
    assert choice.shopify_environment(auto).limiter is own.limiter  # in-process, unchanged
    assert isinstance(choice.shopify_environment(forced).limiter, RedisCostLimiter)
    assert shopify_connector.ENVIRONMENT is own  # every connector of the process shares it
    assert isinstance(choice.supplier_limiter(forced), RedisRequestLimiter)
    assert isinstance(choice.supplier_limiter(auto), InProcessRequestLimiter)


def test_try_acquire_shares_the_budget_and_never_sleeps(redis_client: redis.Redis,
                                                         redis_url: str,
                                                         clock: FrozenClock) -> None:
    """Budget-aware dispatch asks without waiting: one worker's reservation is gone for the
    other, which is told how long until the bucket holds its points."""
    waits: list[float] = []
    first, second = worker_limiter(redis_url, clock, waits), worker_limiter(redis_url, clock,
                                                                            waits)
    first.observe(STORE, ThrottleStatus(100, 60, 10), actual=0, throttled=False)
    assert first.try_acquire(STORE, 50) == 0.0
    assert second.try_acquire(STORE, 50) == pytest.approx(4.0)  # 10 left, 10 points/s
    clock.advance(timedelta(seconds=4))
    assert second.try_acquire(STORE, 50) == 0.0
    assert waits == []
