"""17TRACK end to end into a Shopify sandbox store: a spreadsheet supplier's parcel, tracked
by the 17TRACK sandbox, becomes one fulfillment whose events follow every status once, with
the last-mile number and Shopify's company name."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from core.status import Status
from integration.storage.models import SkuMapping
from sandboxes.seventeen_track.timelines import handover_for
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_17track import Tracker, configure_tracking
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    loopback_settings,
    shopify_limiter_fixture,
    shopify_link_fixture,
)
from tests.integration.test_seventeen_track import (
    HOOK,
    Spreadsheet,
    follow,
    register,
    shipment_of,
)

NUMBER = "LX200000001CN"


def test_a_spreadsheet_parcel_tracked_by_17track_into_shopify(
        shopify_link: ShopifyLink, tracker: Tracker, live_url: str, tmp_path: Path) -> None:
    runtime = shopify_link.runtime
    tracker.state.clock = shopify_link.clock  # one clock for DropTrack and both sandboxes
    configure_tracking(runtime, tracker)
    tracker.state.webhook_url = live_url + HOOK
    sheet = Spreadsheet(runtime, shopify_link.store_id, tmp_path)
    with runtime.db.write() as session:  # CASE-1 comes from the spreadsheet supplier
        mapping = session.scalars(select(SkuMapping).where(SkuMapping.sku == "CASE-1")).one()
        mapping.supplier_id = sheet.id
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain, items=[
        {"title": "Phone case", "quantity": 1, "price": "12.50", "sku": "CASE-1"}])
    shopify_link.import_sandbox_order(order)
    sheet.ship(NUMBER)
    register(runtime)
    assert NUMBER in tracker.state.tracked

    history = follow(runtime, tracker, shopify_link.clock, [NUMBER])
    assert [s for s, _ in history[NUMBER]][-2:] == [Status.OUT_FOR_DELIVERY, Status.DELIVERED]
    assert shipment_of(runtime, NUMBER).status == Status.DELIVERED
    [fulfillment] = list(state.fulfillments.values())
    [tracking] = fulfillment.tracking
    assert (tracking.company, tracking.number) == ("USPS", handover_for(NUMBER).number)
    statuses = [event.status for event in fulfillment.events]
    assert statuses == ["CONFIRMED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]  # once each
    assert state.display_fulfillment_status(order) == "FULFILLED"
    # A repeat of the last push changes nothing in the store.
    last = tracker.state.pushes[-1]
    tracker.state.push_again({"number": NUMBER})
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, "store.writeback") == 0
    assert [e.status for e in next(iter(state.fulfillments.values())).events] == statuses
    assert tracker.state.pushes[-1].body == last.body
