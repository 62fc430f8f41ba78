"""Fulfillment write-back into the Shopify sandbox over real HTTP: one fulfillment per parcel
with the right lines, company, number and URL; one event per status; never twice."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from connectors.shopify.connector import ShopifyConnector
from connectors.store_base import WriteResult
from core.domain import CarrierEvent
from core.status import Reason, Status
from integration.storage.models import OutboxJob
from sandboxes.shopify.state import Fulfillment
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
        from integration.jobs import outbox
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


def test_a_status_change_after_a_recorded_write_is_one_mutation(
        shopify_link: ShopifyLink) -> None:
    """The fulfillment is not read again when DropTrack's last write was recorded: 10 points."""
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain)
    shopify_link.import_sandbox_order(order)
    now = shopify_link.clock.now()
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, now + DAY))
    run_jobs(shopify_link.runtime, "store.writeback")
    calls, points = shopify_link.sandbox_usage.calls, shopify_link.sandbox_usage.points
    shopify_link.ship(CarrierEvent("e2", Status.OUT_FOR_DELIVERY, now + 5 * DAY))
    assert run_jobs(shopify_link.runtime, "store.writeback") == 1
    assert shopify_link.sandbox_usage.calls - calls == 1
    assert shopify_link.sandbox_usage.points - points == 10
    [fulfillment] = fulfillments(shopify_link)
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT", "OUT_FOR_DELIVERY"]


def test_after_a_failed_attempt_every_write_back_of_the_parcel_reads_first(
        shopify_link: ShopifyLink) -> None:
    """An attempt that reached Shopify but failed before recording it (here: the event is in
    the store, the job failed) makes the next job of the parcel, and its own retry, look
    before writing: no second event."""
    from core.errors import RetryableError
    from integration.jobs import outbox

    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain)
    shopify_link.import_sandbox_order(order)
    now = shopify_link.clock.now()
    shipment_id = shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, now + DAY))
    run_jobs(shopify_link.runtime, "store.writeback")
    [fulfillment] = fulfillments(shopify_link)
    shopify_link.ship(CarrierEvent("e2", Status.OUT_FOR_DELIVERY, now + 5 * DAY))
    state.add_fulfillment_event(fulfillment.id, "OUT_FOR_DELIVERY", happened_at=now + 5 * DAY)
    with shopify_link.runtime.db.write() as session:
        claimed = next(job for job in outbox.claim_due(
            session, "crashed", shopify_link.clock.now(), timedelta(seconds=60), 10)
            if job.kind == "store.writeback")
        outbox.fail(session, claimed, RetryableError("lost the answer"),
                    shopify_link.clock.now(), 3600, 3600)  # retried in an hour
        outbox.enqueue(session, "store.writeback", "another", {"shipment_id": shipment_id},
                       shopify_link.clock.now(), serial_key=f"shipment:{shipment_id}")
    assert run_jobs(shopify_link.runtime, "store.writeback") == 1  # the other job, first try
    assert run_jobs(shopify_link.runtime, "store.writeback", ahead=2 * DAY) == 1  # the retry
    assert [e.status for e in fulfillments(shopify_link)[0].events] == [
        "IN_TRANSIT", "OUT_FOR_DELIVERY"]


def test_two_runs_of_one_write_back_racing_leave_one_fulfillment(
        shopify_link: ShopifyLink) -> None:
    """Two runs of the parcel's write-back interleaved (one stalled past its lease): both
    read the order before either wrote; the one that loses the race to create finds the
    winner's fulfillment, adopts it and succeeds, and the customer sees one of everything."""
    from connectors.shopify import graphql as ops
    from connectors.shopify.graphql import Operation
    from integration.storage.models import Shipment
    from integration.sync import writeback

    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain)
    shopify_link.import_sandbox_order(order)
    shipment_id = shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT,
                                                 shopify_link.clock.now() + DAY))
    with shopify_link.runtime.db.read() as session:
        current = writeback.snapshot(session, session.get_one(Shipment, shipment_id))
    winner = writeback.build_store_connector(shopify_link.runtime, shopify_link.store())
    loser = writeback.build_store_connector(shopify_link.runtime, shopify_link.store())
    assert isinstance(loser, ShopifyConnector)
    won: list[WriteResult] = []
    read_order = loser.client.execute

    def read_then_lose_the_race(query: Operation, variables: Mapping[str, Any] | None = None
                                ) -> dict[str, Any]:
        answer = read_order(query, variables)
        if query is ops.ORDER_FULFILLMENTS and not won:
            won.append(winner.write_shipment(current))  # the other run writes meanwhile
        return answer

    loser.client.execute = read_then_lose_the_race  # type: ignore[method-assign,assignment]
    try:
        lost = loser.write_shipment(current)
    finally:
        winner.close()
        loser.close()
    assert [result.fulfillment_external_id for result in won] == [lost.fulfillment_external_id]
    [fulfillment] = fulfillments(shopify_link)
    assert [t.number for t in fulfillment.tracking] == ["LX123456785CN"]
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT"]


def test_later_parcels_of_the_same_lines_join_their_fulfillment(
        shopify_link: ShopifyLink) -> None:
    """A supplier that splits an order without saying which parcel holds which line: the
    first parcel fulfils the lines, the next joins that fulfillment with its own number (no
    failed job), and the fulfillment's events follow the parcel furthest behind."""
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain, items=[
        {"title": "Phone case", "quantity": 2, "price": "12.50", "sku": "CASE-1"}])
    shopify_link.import_sandbox_order(order)
    now = shopify_link.clock.now()
    shopify_link.ship(CarrierEvent("a1", Status.IN_TRANSIT, now + DAY))
    assert run_jobs(shopify_link.runtime, "store.writeback") == 1
    shopify_link.ship(CarrierEvent("b1", Status.IN_TRANSIT, now + 2 * DAY),
                      parcel="P2", number="LX876543216CN")
    assert run_jobs(shopify_link.runtime, "store.writeback") == 1
    [fulfillment] = fulfillments(shopify_link)
    assert [t.number for t in fulfillment.tracking] == ["LX123456785CN", "LX876543216CN"]
    assert all(t.url for t in fulfillment.tracking)
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT"]

    shopify_link.ship(CarrierEvent("a2", Status.DELIVERED, now + 6 * DAY))
    run_jobs(shopify_link.runtime, "store.writeback")
    [fulfillment] = fulfillments(shopify_link)
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT"]  # P2 is still on its way

    shopify_link.ship(CarrierEvent("b2", Status.OUT_FOR_DELIVERY, now + 7 * DAY),
                      parcel="P2", number="LX876543216CN")
    shopify_link.ship(CarrierEvent("b3", Status.DELIVERED, now + 8 * DAY),
                      parcel="P2", number="LX876543216CN")
    run_jobs(shopify_link.runtime, "store.writeback")
    [fulfillment] = fulfillments(shopify_link)
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT", "DELIVERED"]
    assert [t.number for t in fulfillment.tracking] == ["LX123456785CN", "LX876543216CN"]
    assert jobs_in(shopify_link, "dead") == []
    assert shopify_link.sandbox_usage.throttled == 0
