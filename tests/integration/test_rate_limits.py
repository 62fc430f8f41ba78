"""Limits shared by every worker, on a real Redis against the real sandboxes over HTTP.

Two "workers" are two threads, each with its own limiter object and its own Redis connection,
exactly what two `droptrack worker` processes hold."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import requests

from connectors.http import HttpError
from connectors.shopify import graphql as ops
from connectors.shopify.client import ShopifyClient, http_client
from connectors.shopify.tokens import Credentials
from connectors.suppliers.rest.client import RestSupplier
from connectors.suppliers.rest.settings import RestSupplierSettings
from connectors.woocommerce import connector as woocommerce_connector
from connectors.woocommerce.settings import StoreSettings
from core.clock import SystemClock
from core.errors import RetryableError
from integration.limits.redis_limits import RedisCostLimiter, RedisRequestLimiter
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox, build
from tests.helpers.sandbox_supplier import SupplierSandbox
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox
from tests.helpers.woocommerce_connector import access_for

RESTORE_RATE = 20  # points per second; the bucket holds 20 x that, as Shopify's do
CALLS_PER_WORKER = 25
KEY = "supplier:1"


@pytest.fixture
def live_shopify() -> Iterator[tuple[ShopifySandbox, str]]:
    """The Shopify sandbox on the wall clock: its bucket refills in real time."""
    app = build(SystemClock(), public_url="http://127.0.0.1", background_webhooks=False)
    with BackgroundServer(app) as server:
        yield app.extensions["sandbox"], server.url


def test_two_workers_share_a_stores_budget_and_shopify_never_throttles_them(
        redis_client: redis.Redis, redis_url: str,
        live_shopify: tuple[ShopifySandbox, str]) -> None:
    sandbox, url = live_shopify
    app = sandbox.state.create_app()
    shop = sandbox.state.create_shop("shared-budget")
    token = sandbox.state.install(shop.domain, app, expiring=False)
    bucket = sandbox.bucket(shop.domain, app.client_id)
    bucket.restore_rate, bucket.maximum = float(RESTORE_RATE), float(RESTORE_RATE * 20)
    failures: list[BaseException] = []

    def worker() -> None:
        client = ShopifyClient(
            shop.domain, Credentials(access_token=token.token), api_version="2026-07",
            http=http_client(url), clock=SystemClock(), save_credentials=lambda _c: None,
            limiter=RedisCostLimiter(redis.Redis.from_url(redis_url)))
        try:
            for _ in range(CALLS_PER_WORKER):  # 10 points each, whatever the answer says
                data = client.execute(ops.EVENT_CREATE, {"fulfillmentEvent": {
                    "fulfillmentId": "gid://shopify/Fulfillment/1", "status": "IN_TRANSIT"}})
                assert data["fulfillmentEventCreate"]["userErrors"]
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    elapsed = time.monotonic() - started
    assert failures == []
    usage = sandbox.usage(shop.domain, app.client_id)
    assert (usage.calls, usage.throttled) == (2 * CALLS_PER_WORKER, 0)
    # The bucket was the bottleneck: together they spent more than it holds, so they had to
    # wait for it to refill (and did, instead of being throttled).
    assert usage.points > bucket.maximum
    assert elapsed >= (usage.points - bucket.maximum) / RESTORE_RATE * 0.8


def supplier(sandbox: SupplierSandbox, limiter: RedisRequestLimiter,
             seen: list[tuple[int, float]]) -> RestSupplier:
    """One worker's connector, recording the status and time of every answer it gets."""
    connector = RestSupplier(RestSupplierSettings(base_url=sandbox.url, api_key=sandbox.api_key),
                             limiter=limiter, limit_key=KEY)

    def record(response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        seen.append((response.status_code, time.monotonic()))

    connector.http.session.hooks["response"].append(record)
    return connector


def test_a_suppliers_retry_after_pauses_every_worker(
        redis_client: redis.Redis, redis_url: str, supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.rate_limiter.configure(0.5, burst=2)  # 429 says Retry-After: 2
    first_seen: list[tuple[int, float]] = []
    second_seen: list[tuple[int, float]] = []
    watcher = RedisRequestLimiter(redis.Redis.from_url(redis_url))
    first = supplier(supplier_sandbox, RedisRequestLimiter(redis.Redis.from_url(redis_url)),
                     first_seen)
    second = supplier(supplier_sandbox, RedisRequestLimiter(redis.Redis.from_url(redis_url)),
                      second_seen)
    for _ in range(2):
        with pytest.raises(HttpError):  # 404: no such order; spends the burst
            first.get_order("SO404")

    def rate_limited_call() -> None:  # 429, waits 2 s as told, then 404
        with pytest.raises(HttpError):
            first.get_order("SO404")

    thread = threading.Thread(target=rate_limited_call)
    thread.start()
    deadline = time.monotonic() + 5
    while watcher.remaining_pause(KEY) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    remaining = watcher.remaining_pause(KEY)
    assert remaining > 1.0
    supplier_sandbox.clock.advance(timedelta(seconds=10))  # the supplier would answer now...
    asked = time.monotonic()
    with pytest.raises(HttpError):
        second.get_order("SO404")  # ...but the second worker holds back until the pause ends
    thread.join(10)
    assert [status for status, _ in first_seen] == [404, 404, 429, 404]
    [(status, answered)] = second_seen
    assert status == 404 and answered - asked >= remaining - 0.2
    first.close()
    second.close()


def test_a_long_retry_after_sends_every_workers_job_back_to_the_outbox(
        redis_client: redis.Redis, redis_url: str, supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.rate_limiter.configure(0.01, burst=1)  # Retry-After: 100
    first_seen: list[tuple[int, float]] = []
    second_seen: list[tuple[int, float]] = []
    first = supplier(supplier_sandbox, RedisRequestLimiter(redis.Redis.from_url(redis_url)),
                     first_seen)
    second = supplier(supplier_sandbox, RedisRequestLimiter(redis.Redis.from_url(redis_url)),
                      second_seen)
    with pytest.raises(HttpError):
        first.get_order("SO404")
    with pytest.raises(RetryableError) as told:
        first.get_order("SO404")  # 429: too long to wait in the call
    assert told.value.retry_after_seconds == 100
    with pytest.raises(RetryableError) as held:
        second.get_order("SO404")
    assert held.value.retry_after_seconds == pytest.approx(100, abs=2)
    assert second_seen == []  # the supplier never heard from the second worker
    first.close()
    second.close()


def test_a_woocommerce_stores_retry_after_holds_back_every_worker(
        redis_client: redis.Redis, redis_url: str, wc_sandbox: WooCommerceSandbox,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Store limits are shared too: the site's 429 + Retry-After told to one worker keeps the
    other workers' requests to that store from going out at all."""
    product = wc_sandbox.store.add_product("Lamp", sku="LAMP")
    order = str(wc_sandbox.store.place_order([(product.id, 1)]).id)
    access = access_for(wc_sandbox)
    settings = StoreSettings.from_store(access.settings)
    workers = []
    for _ in range(2):  # each "worker" builds its connector with its own Redis limiter
        monkeypatch.setattr(woocommerce_connector.ENVIRONMENT, "limiter",
                            RedisRequestLimiter(redis.Redis.from_url(redis_url)))
        workers.append(woocommerce_connector.WooCommerceConnector(
            woocommerce_connector.build_client(access, settings), settings))
    first, second = workers
    assert first.current_statuses([order]) == {order: "processing"}  # not limited before

    wc_sandbox.store.inject_fault(429, retry_after="100")
    with pytest.raises(RetryableError) as told:
        first.current_statuses([order])
    assert told.value.retry_after_seconds == 100
    calls = sum(wc_sandbox.store.api_calls.values())
    with pytest.raises(RetryableError) as held:
        second.current_statuses([order])
    assert held.value.retry_after_seconds == pytest.approx(100, abs=2)
    assert sum(wc_sandbox.store.api_calls.values()) == calls  # the store never heard of it
    for worker in workers:
        worker.close()
