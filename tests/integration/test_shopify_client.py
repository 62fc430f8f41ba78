"""The Shopify client over real HTTP: throttling is waited out, expired tokens are renewed
once, revoked ones fail permanently, and reconciliation reads orders like webhooks do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.shopify.client import ShopifyAuthError
from connectors.shopify.connector import build
from connectors.shopify.mapper import parse_order
from core.domain import CarrierEvent, StoreOrder
from core.status import Status
from integration.storage.models import OutboxJob
from integration.sync.writeback import store_access
from sandboxes.shopify.webhooks import order_payload
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    loopback_settings,
    shopify_limiter_fixture,
    shopify_link_fixture,
)

DAY = timedelta(days=1)


def test_a_drained_bucket_is_waited_for_and_nothing_is_lost(shopify_link: ShopifyLink) -> None:
    seeded = shopify_link.seeded
    orders = [seeded.sandbox.state.place_order(seeded.domain) for _ in range(3)]
    for order in orders:
        shopify_link.import_sandbox_order(order)
    for index in range(3):
        shopify_link.ship(CarrierEvent(f"e{index}", Status.IN_TRANSIT,
                                       shopify_link.clock.now() + DAY),
                          number=f"LX12345678{index}CN", parcel=f"P{index}",
                          supplier_order_index=index)
    bucket = seeded.sandbox.bucket(seeded.domain, seeded.app.client_id)
    bucket.drain()  # another app of the merchant's (or a burst) used the whole budget
    assert run_jobs(shopify_link.runtime, "store.writeback") == 3
    # The first job learnt the bucket from its throttled call and waited for it; the other
    # two had sent nothing yet: they were handed back, due when the bucket holds their points
    # (budget-aware dispatch), and run then, as if for the first time.
    for _ in range(10):
        with shopify_link.runtime.db.read() as session:
            waiting = [job.next_run_at for job in session.scalars(select(OutboxJob).where(
                OutboxJob.kind == "store.writeback", OutboxJob.state == "pending"))]
        if not waiting:
            break
        later = max(waiting)
        later = later if later.tzinfo else later.replace(tzinfo=UTC)
        shopify_link.clock.advance(max(later - shopify_link.clock.now(), timedelta(0)))
        run_jobs(shopify_link.runtime, "store.writeback")
    assert len(seeded.sandbox.state.fulfillments) == 3
    assert all(len(f.events) == 1 for f in seeded.sandbox.state.fulfillments.values())
    # One throttled call taught DropTrack the bucket; every later call waited instead.
    assert shopify_link.sandbox_usage.throttled == 1
    usage = shopify_link.limiter.usage(seeded.domain)
    assert usage.waited_seconds > 0 and usage.points == shopify_link.sandbox_usage.points
    with shopify_link.runtime.db.read() as session:
        assert {job.state for job in session.scalars(select(OutboxJob))} <= {"done", "pending"}
        assert [job.attempts for job in session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "store.writeback"))] == [1, 1, 1]


def test_an_expired_token_is_renewed_once_and_saved(shopify_link: ShopifyLink) -> None:
    seeded = shopify_link.seeded
    seeded.sandbox.state.expire_token(seeded.token.token)
    order = seeded.sandbox.state.place_order(seeded.domain)
    shopify_link.import_sandbox_order(order)
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, shopify_link.clock.now() + DAY))
    assert run_jobs(shopify_link.runtime, "store.writeback") == 1
    assert len(seeded.sandbox.state.fulfillments) == 1
    saved = shopify_link.credentials()
    assert saved.access_token != seeded.token.token
    assert saved.refresh_token and saved.refresh_token != seeded.token.refresh_token
    assert saved.expires is not None and saved.expires > shopify_link.clock.now()


def test_a_revoked_token_fails_permanently(shopify_link: ShopifyLink) -> None:
    seeded = shopify_link.seeded
    seeded.sandbox.state.uninstall(seeded.domain, seeded.app.client_id)
    with shopify_link.runtime.db.read() as session:
        from integration.storage.models import Store

        access = store_access(shopify_link.runtime, session.get_one(Store, shopify_link.store_id))
    connector = build(access)
    try:
        with pytest.raises(ShopifyAuthError):
            connector.orders_modified_since(shopify_link.clock.now() - DAY)
    finally:
        connector.close()


def test_reconciliation_reads_orders_as_their_webhooks_do(shopify_link: ShopifyLink) -> None:
    seeded = shopify_link.seeded
    state = seeded.sandbox.state
    since = shopify_link.clock.now()
    shopify_link.clock.advance(timedelta(minutes=1))
    placed = [state.place_order(seeded.domain, items=[
        {"title": "Case", "quantity": 1, "price": "9.99", "sku": "CASE-1"},
        {"title": "Gift card", "quantity": 1, "price": "20", "requires_shipping": False}])
        for _ in range(12)]
    state.cancel_order(placed[0].id)
    with shopify_link.runtime.db.read() as session:
        from integration.storage.models import Store

        access = store_access(shopify_link.runtime, session.get_one(Store, shopify_link.store_id))
    connector = build(access)
    found: list[StoreOrder] = []
    cursor: str | None = None
    try:
        while True:
            page = connector.orders_modified_since(since, cursor)
            assert page.problems == []
            found.extend(page.orders)
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        connector.close()
    assert len(found) == 12
    by_id = {order.external_id: order for order in found}
    for order in placed:
        expected, _ = parse_order(order_payload(state, state.orders[order.id]))
        assert expected is not None
        assert by_id[str(order.id)] == expected
        assert all(line.product_id and line.variant_id for line in expected.lines)
    assert by_id[str(placed[0].id)].cancelled


def _all_orders(link: ShopifyLink, since: datetime) -> list[StoreOrder]:
    with link.runtime.db.read() as session:
        from integration.storage.models import Store

        access = store_access(link.runtime, session.get_one(Store, link.store_id))
    connector = build(access)
    found: list[StoreOrder] = []
    cursor: str | None = None
    try:
        while True:
            page = connector.orders_modified_since(since, cursor)
            assert page.problems == []
            found.extend(page.orders)
            if (cursor := page.next_cursor) is None:
                return found
    finally:
        connector.close()


def test_an_order_with_more_lines_than_a_page_is_read_whole(shopify_link: ShopifyLink) -> None:
    """Orders are read 10 lines at a time with the order; the rest comes page by page (100),
    never truncated: 235 lines = the order's page + 3 line pages."""
    seeded = shopify_link.seeded
    state = seeded.sandbox.state
    since = shopify_link.clock.now()
    shopify_link.clock.advance(timedelta(minutes=1))
    big = state.place_order(seeded.domain, items=[
        {"title": f"Item {n}", "quantity": 1, "price": "1.00", "sku": f"SKU-{n}"}
        for n in range(235)])
    calls_before = shopify_link.sandbox_usage.calls
    [got] = _all_orders(shopify_link, since)
    expected, _ = parse_order(order_payload(state, state.orders[big.id]))
    assert got == expected and len(got.lines) == 235
    assert shopify_link.sandbox_usage.calls - calls_before == 4


def test_a_line_beyond_the_first_fulfillment_order_page_is_fulfilled(
        shopify_link: ShopifyLink) -> None:
    """The write-back reads 20 fulfillment-order lines with the order and pages the rest: a
    parcel holding line 30 of 30 is fulfilled, not refused as "not open for fulfillment"."""
    seeded = shopify_link.seeded
    state = seeded.sandbox.state
    order = state.place_order(seeded.domain, items=[
        {"title": f"Item {n}", "quantity": 1, "price": "1.00", "sku": f"SKU-{n}"}
        for n in range(29)] + [{"title": "Case", "quantity": 1, "price": "9", "sku": "CASE-1"}])
    parsed, _ = parse_order(order_payload(state, order))
    assert parsed is not None
    last = parsed.lines[-1]
    shopify_link.import_order(replace(parsed, lines=(last,)))
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, shopify_link.clock.now() + DAY))
    assert run_jobs(shopify_link.runtime, "store.writeback") == 1
    [fulfillment] = state.fulfillments.values()
    assert [li.line_item_id for li in fulfillment.line_items] == [int(last.external_id)]
