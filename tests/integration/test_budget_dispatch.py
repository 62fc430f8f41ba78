"""Budget-aware dispatch against the Shopify sandbox over real HTTP, with two stores: while
one store's bucket is empty its write-backs are handed back (no thread sleeps on it, no
attempt counted, no error), the other store's work still flows, and Shopify never answers
THROTTLED. The clock is the sandbox's frozen clock: nothing here depends on timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from connectors.shopify.ratelimit import InProcessLimiter
from core import budget
from core.clock import FrozenClock
from core.domain import CarrierEvent
from core.status import Status
from integration.accounts import stores
from integration.base.config import Settings
from integration.jobs import outbox
from integration.jobs.dispatcher import Dispatcher, Outcome, run_job
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import OutboxJob, SkuMapping, Store, Supplier
from sandboxes.server import BackgroundServer
from sandboxes.shopify.sandbox import ShopifySandbox
from tests.conftest import make_settings
from tests.helpers.sandbox_shopify import SeededStore
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    shopify_limiter_fixture,
    shopify_link_fixture,
)

WRITEBACK = "store.writeback"
SMALL_BUCKET = 230.0  # one first write-back (a 220-point read reserved, then 2 mutations)
SLOW_RESTORE = 1.0  # points per second


@pytest.fixture
def settings(database_url: str) -> Settings:
    # One thread: had it slept on a store without budget, the other store would have waited.
    return make_settings(database_url, security={"allow_loopback_http": True},
                         dispatcher={"threads": 1})


def second_store(link: ShopifyLink, server: BackgroundServer) -> ShopifyLink:
    """Another shop of the same sandbox with DropTrack installed, as a second store row."""
    sandbox: ShopifySandbox = link.seeded.sandbox
    shop = sandbox.state.create_shop("droptrack-second")
    token = sandbox.state.install(shop.domain, link.seeded.app, expiring=False)
    runtime = link.runtime
    store_id = stores.add_shopify_store(runtime, shop.domain, token.token,
                                        link.seeded.app.client_secret)
    now = link.clock.now()
    with runtime.db.write() as session:
        row = session.get_one(Store, store_id)
        row.settings = {"admin_base_url": server.url}
        supplier = session.scalars(select(Supplier)).first()
        assert supplier is not None
        session.add(SkuMapping(store_id=store_id, sku="CASE-1", supplier_id=supplier.id,
                               created_at=now))
    return ShopifyLink(runtime, store_id, SeededStore(sandbox, shop, link.seeded.app, token),
                       link.limiter, link.clock)


def jobs(runtime: Runtime, store_id: int) -> list[OutboxJob]:
    with runtime.db.read() as session:
        return list(session.scalars(select(OutboxJob).where(
            OutboxJob.kind == WRITEBACK, OutboxJob.store_id == store_id).order_by(OutboxJob.id)))


def dispatch_until_nothing_due(dispatcher: Dispatcher) -> None:
    """Run the real dispatcher's claim loop (one thread) until it finds nothing to claim: its
    slot is free then (the last job finished and its outcome was learnt), so no job runs."""
    assert dispatcher.settings.threads == 1
    for _ in range(1000):
        if dispatcher.run_once() == 0:
            return
    raise AssertionError("the dispatcher kept finding work")


def test_a_store_without_budget_is_handed_back_while_another_stores_work_flows(
        shopify_link: ShopifyLink, shopify_server: BackgroundServer,
        shopify_clock: FrozenClock, shopify_limiter: InProcessLimiter) -> None:
    runtime = shopify_link.runtime
    a, b = shopify_link, second_store(shopify_link, shopify_server)
    bucket = a.seeded.sandbox.bucket(a.seeded.domain, a.seeded.app.client_id)
    bucket.maximum, bucket.restore_rate = SMALL_BUCKET, SLOW_RESTORE
    now = shopify_clock.now()
    parcels = 3
    for _ in range(parcels):  # interleaved, oldest first: A, B, A, B, A, B
        for link in (a, b):
            link.import_sandbox_order(link.seeded.sandbox.state.place_order(link.seeded.domain))
    for index in range(2 * parcels):
        link = (a, b)[index % 2]
        link.ship(CarrierEvent(f"e{index}", Status.IN_TRANSIT, now + timedelta(days=1)),
                  number=f"LX{index:07d}85CN", parcel=f"P{index}", supplier_order_index=index)
    with runtime.db.write() as session:  # only the write-backs are under test
        session.execute(delete(OutboxJob).where(OutboxJob.kind != WRITEBACK))
    dispatcher = Dispatcher(runtime)
    try:
        dispatch_until_nothing_due(dispatcher)
        sandbox = a.seeded.sandbox
        # B's work flowed: every parcel of B is on its order page.
        assert len([f for f in sandbox.state.fulfillments.values()
                    if f.order_id in orders_of(b)]) == parcels
        assert [job.state for job in jobs(runtime, b.store_id)] == [outbox.DONE] * parcels
        # A's bucket paid for one write-back; the others were handed back, not attempted.
        assert len([f for f in sandbox.state.fulfillments.values()
                    if f.order_id in orders_of(a)]) == 1
        first, *waiting = jobs(runtime, a.store_id)
        assert first.state == outbox.DONE
        assert [(j.state, j.attempts, j.last_error) for j in waiting] == [
            (outbox.PENDING, 0, None)] * (parcels - 1)
        # The first handed back is due when A's bucket holds its points; the store is then
        # skipped (its other job is not even claimed) until that time.
        assert aware(waiting[0].next_run_at) > now
        assert dispatcher.budgets.handed_back == {a.store_id: 1}
        assert shopify_clock.now() == now  # no thread slept in the limiter
        # Once A's bucket has refilled, its work is done too: each parcel exactly once.
        for _ in range(parcels - 1):  # one write-back per full bucket
            shopify_clock.advance(timedelta(seconds=SMALL_BUCKET / SLOW_RESTORE))
            dispatch_until_nothing_due(dispatcher)
        assert [(j.state, j.attempts) for j in jobs(runtime, a.store_id)] == [
            (outbox.DONE, 1)] * parcels
        assert len([f for f in sandbox.state.fulfillments.values()
                    if f.order_id in orders_of(a)]) == parcels
        for link in (a, b):
            usage = sandbox.usage(link.seeded.domain, link.seeded.app.client_id)
            assert usage.throttled == 0
    finally:
        dispatcher.stop()


def aware(moment: datetime) -> datetime:
    """SQLite gives datetimes back without their zone (UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def orders_of(link: ShopifyLink) -> set[int]:
    state = link.seeded.sandbox.state
    return {order.id for order in state.orders.values() if order.shop == link.seeded.domain}


@job("test.budget_short")
def short_of_budget(_runtime: Runtime, claimed: ClaimedJob) -> None:
    if claimed.payload["short"]:
        raise budget.NotReady("shop", 2.5)


def test_claims_filtered_by_store_and_a_job_handed_back(runtime: Runtime) -> None:
    clock = FrozenClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    runtime.clock = clock
    now = clock.now()
    first, second = (stores.add_shopify_store(runtime, f"shop{k}.myshopify.com", "token",
                                              "secret") for k in (1, 2))
    with runtime.db.write() as session:
        for key, store_id in (("a", first), ("b", second), ("none", None)):
            outbox.enqueue(session, "test.budget_short", key, {"short": key == "a"}, now,
                           store_id=store_id)
    lease = timedelta(seconds=60)
    cases = [
        (outbox.StoreFilter(only=frozenset({first})), ["a"]),
        (outbox.StoreFilter(skip=frozenset({first})), ["b", "none"]),
        (outbox.StoreFilter(only=frozenset({first, second}), skip=frozenset({second})), ["a"]),
        (outbox.StoreFilter(), ["a", "b", "none"]),
    ]
    for stores_filter, expected in cases:
        with runtime.db.write() as session:
            taken = outbox.claim_due(session, "w", now, lease, 10, stores=stores_filter)
            assert [c.idempotency_key for c in taken] == expected
            session.rollback()  # look only
    with runtime.db.write() as session:
        [claimed] = outbox.claim_due(session, "w", now, lease, 10,
                                     stores=outbox.StoreFilter(only=frozenset({first})))
    ran = run_job(runtime, claimed)
    assert ran == [(first, Outcome(deferred_until=now + timedelta(seconds=2.5), budgeted=False))]
    with runtime.db.read() as session:
        row = session.get_one(OutboxJob, claimed.id)
        assert (row.state, row.attempts, row.last_error, row.lease_owner) == (
            outbox.PENDING, 0, None, None)
        assert aware(row.next_run_at) == now + timedelta(seconds=2.5)
    with runtime.db.write() as session:  # not due before then, for any worker
        assert outbox.claim_one(session, claimed.id, "other", now, lease) is None
        assert not outbox.hand_back(session, claimed, now, now)  # its lease is gone
    clock.advance(timedelta(seconds=2.5))
    with runtime.db.write() as session:  # then any worker (a Dramatiq one here) takes it
        again = outbox.claim_one(session, claimed.id, "other", clock.now(), lease)
        assert again is not None and again.attempt == 1
