"""Fulfillment write-back into the Shopify sandbox over real HTTP: one fulfillment per parcel
with the right lines, company, number and URL; one event per status; never twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from integration.engine.tracking import CarrierEvent
from integration.sandbox.shopify.state import Fulfillment
from integration.status import Reason, Status
from integration.storage.models import OutboxJob
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    loopback_settings,
    shopify_limiter_fixture,
    shopify_link_fixture,
)

DAY = timedelta(days=1)


def fulfillments(link: ShopifyLink) -> list[Fulfillment]:
    return list(link.seeded.sandbox.state.fulfillments.values())


def jobs_in(link: ShopifyLink, state: str) -> list[OutboxJob]:
    with link.runtime.db.read() as session:
        return list(session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "store.writeback", OutboxJob.state == state)))


def test_a_parcel_becomes_a_fulfillment_with_events(shopify_link: ShopifyLink) -> None:
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain, items=[
        {"title": "Phone case", "quantity": 2, "price": "12.50", "sku": "CASE-1"}])
    shopify_link.import_sandbox_order(order)
    now = shopify_link.clock.now()
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, now + DAY))
    assert run_jobs(shopify_link.runtime, "store.writeback") == 1
    [fulfillment] = fulfillments(shopify_link)
    [tracking] = fulfillment.tracking
    assert (tracking.company, tracking.number) == ("China Post", "LX123456785CN")
    assert tracking.url and "LX123456785CN" in tracking.url
    assert [(li.quantity) for li in fulfillment.line_items] == [2]
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT"]
    assert fulfillment.events[0].message and "on its way" in fulfillment.events[0].message

    shopify_link.ship(CarrierEvent("e2", Status.OUT_FOR_DELIVERY, now + 5 * DAY))
    run_jobs(shopify_link.runtime, "store.writeback")
    shopify_link.ship(CarrierEvent("e3", Status.DELIVERED, now + 6 * DAY))
    run_jobs(shopify_link.runtime, "store.writeback")
    [fulfillment] = fulfillments(shopify_link)
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT", "OUT_FOR_DELIVERY",
                                                      "DELIVERED"]
    assert state.display_fulfillment_status(order) == "FULFILLED"
    assert shopify_link.sandbox_usage.throttled == 0


def test_a_retried_job_writes_nothing_twice(shopify_link: ShopifyLink) -> None:
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain)
    shopify_link.import_sandbox_order(order)
    shipment_id = shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT,
                                                 shopify_link.clock.now() + DAY))
    run_jobs(shopify_link.runtime, "store.writeback")
    # The job crashed after Shopify answered but before DropTrack recorded anything.
    with shopify_link.runtime.db.write() as session:
        from integration import outbox
        from integration.storage.models import Binding, Shipment

        for binding in session.scalars(select(Binding).where(Binding.kind == "fulfillment")):
            session.delete(binding)
        shipment = session.get_one(Shipment, shipment_id)
        shipment.written_status = shipment.written_tracking_number = None
        outbox.enqueue(session, "store.writeback", "again", {"shipment_id": shipment_id},
                       shopify_link.clock.now())
    assert run_jobs(shopify_link.runtime, "store.writeback") == 1
    [fulfillment] = fulfillments(shopify_link)
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT"]


def test_a_replaced_number_updates_the_same_fulfillment(shopify_link: ShopifyLink) -> None:
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain)
    shopify_link.import_sandbox_order(order)
    now = shopify_link.clock.now()
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, now + DAY))
    run_jobs(shopify_link.runtime, "store.writeback")
    shopify_link.ship(CarrierEvent("e2", Status.IN_TRANSIT, now + 3 * DAY),
                      number="1Z999AA10123456784")
    run_jobs(shopify_link.runtime, "store.writeback")
    [fulfillment] = fulfillments(shopify_link)
    assert [t.number for t in fulfillment.tracking] == ["1Z999AA10123456784"]
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT"]


def test_an_undelivered_parcel_shows_the_attempt(shopify_link: ShopifyLink) -> None:
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain)
    shopify_link.import_sandbox_order(order)
    shopify_link.ship(CarrierEvent("e1", Status.UNDELIVERED, shopify_link.clock.now() + DAY,
                                   Reason.RECIPIENT_UNAVAILABLE))
    run_jobs(shopify_link.runtime, "store.writeback")
    [fulfillment] = fulfillments(shopify_link)
    assert [e.status for e in fulfillment.events] == ["ATTEMPTED_DELIVERY"]


def test_a_cancelled_shopify_order_fails_the_job_with_shopifys_reason(
        shopify_link: ShopifyLink) -> None:
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain)
    shopify_link.import_sandbox_order(order)
    state.cancel_order(order.id)
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, shopify_link.clock.now() + DAY))
    run_jobs(shopify_link.runtime, "store.writeback")
    [job] = jobs_in(shopify_link, "dead")
    assert "cannot fulfil" in (job.last_error or "")
    assert fulfillments(shopify_link) == []
