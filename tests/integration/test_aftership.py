"""AfterShip end to end over real HTTP: a spreadsheet supplier's tracking file -> a tracking
created at the AfterShip sandbox -> signed webhooks into DropTrack's live intake -> each
parcel's statuses written to a WooCommerce store and a Shopify store, exactly once. And the
faults: a bad `aftership-hmac-sha256`, one webhook 20 times at once, webhooks out of order,
the API's own errors (bad key, duplicate, undetectable courier, 429 and 5xx)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from connectors.request_limits import InProcessRequestLimiter
from connectors.tracking.aftership import mapper
from connectors.tracking.aftership.client import AfterShipAuthError
from connectors.tracking.aftership.connector import AfterShip
from connectors.tracking.aftership.settings import AfterShipSettings
from connectors.tracking.base import ProblemKind, TrackRequest
from core.clock import FrozenClock
from core.status import Reason, Status, rank
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.storage.models import InboxDelivery, SkuMapping, TrackingEvent
from integration.sync.tracking.polling import POLL_JOB, STOP_JOB
from integration.sync.tracking.schedule import queue_tracking_jobs
from integration.sync.tracking.updates import TRACKING_PROBLEM
from sandboxes.aftership import DEFAULT_API_KEY, AfterShipState
from sandboxes.trackers.timelines import handover_for
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_trackers import Sandbox, configure_aftership
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    loopback_settings,
    shopify_limiter_fixture,
    shopify_link_fixture,
)
from tests.integration.test_seventeen_track import (
    Spreadsheet,
    alerts_of,
    check_out_of_order_never_moves_back,
    check_twenty_at_once_have_one_effect,
    count,
    follow,
    post_signed,
    register,
    ship_one_parcel,
    shipment_of,
    tracked_row,
    whole_life,
)

HOOK = "/webhooks/tracking/aftership"
AfterShipSandbox = Sandbox[AfterShipState]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def tracked(runtime: Runtime, aftership: AfterShipSandbox, clock: FrozenClock) -> Runtime:
    runtime.clock = clock
    aftership.state.clock = clock
    configure_aftership(runtime, aftership)
    return runtime


@pytest.fixture
def hooks_to(tracked: Runtime, aftership: AfterShipSandbox, live_url: str) -> Iterator[str]:
    """AfterShip's admin webhook URL pointed at DropTrack's live intake."""
    aftership.state.webhook_url = live_url + HOOK
    yield live_url


SCENARIOS = {
    "LX400000001CN": ("delivered", Status.DELIVERED, None),
    "LX400000002CN": ("pickup", Status.DELIVERED, None),
    "LX400000003CN": ("failed_address", Status.UNDELIVERED, Reason.INVALID_ADDRESS),
    "LX400000004CN": ("failed_nobody", Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),
    "LX400000005CN": ("returned", Status.EXCEPTION, Reason.RETURN_TO_SENDER),
    "LX400000006CN": ("customs", Status.EXCEPTION, Reason.CUSTOMS),
    "LX400000007CN": ("lost", Status.EXCEPTION, Reason.LOST),
    "LX400000008CN": ("expired", Status.IN_TRANSIT, None),  # AfterShip gave up: not delivered
}


def test_spreadsheet_parcels_tracked_by_aftership_into_woocommerce(
        tracked: Runtime, aftership: AfterShipSandbox, hooks_to: str, clock: FrozenClock,
        wc_sandbox: WooCommerceSandbox, woo_store: int, tmp_path: Path) -> None:
    placed = []
    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    for _ in SCENARIOS:
        order = wc_sandbox.store.place_order([(product.id, 1)])
        placed.append(order)
        sheet.order(str(order.id), str(order.line_items[0].id))
    for number, (scenario, _, _) in SCENARIOS.items():
        aftership.state.set_scenario(number, scenario)
    sheet.ship(*SCENARIOS)
    register(tracked)
    assert {t.number for t in aftership.state.trackings.values()} == set(SCENARIOS)
    assert aftership.state.calls == {"create": 8}  # one create per parcel, no quota call
    assert {t.slug for t in aftership.state.trackings.values()} == {"china-post"}
    assert tracked_row(tracked, "LX400000001CN").service_carrier == "china-post"

    history = follow(tracked, aftership, clock, list(SCENARIOS))
    for order, (number, (scenario, status, reason)) in zip(placed, SCENARIOS.items(),
                                                           strict=True):
        ranks = [rank(s, r) for s, r in history[number]]
        assert ranks == sorted(ranks), f"{scenario}: a status went backwards"
        shipment = shipment_of(tracked, number)
        assert (shipment.status, shipment.reason) == (status, reason), scenario
        notes = [n.note for n in wc_sandbox.store.order(order.id).notes if n.customer_note]
        assert len(notes) == len(set(notes)), f"{scenario}: a note was written twice: {notes}"
        if scenario not in ("customs", "expired"):  # the others reached the last mile
            assert shipment.tracking_number == handover_for(number).number
            items = wc_sandbox.store.tracking_items(order.id)
            assert [i["tracking_number"] for i in items] == [handover_for(number).number]
    delivered = wc_sandbox.store.order(placed[0].id)
    last_mile = handover_for("LX400000001CN").number
    notes = [n.note.split(".")[0] for n in delivered.notes if n.customer_note]
    assert notes == [
        "Your order has shipped with China Post / ePacket, tracking number LX400000001CN",
        "Your parcel is on its way with China Post / ePacket, tracking number LX400000001CN",
        f"Your parcel is on its way with USPS, tracking number {last_mile}",
        "Your parcel is out for delivery", "Your parcel has been delivered"]
    assert alerts_of(tracked, "return_to_sender")
    [stuck] = alerts_of(tracked, "stuck_in_transit")
    assert "LX400000008CN has had no carrier news" in stuck and "aftership" in stuck
    # AfterShip stopped the delivered ones itself: stopping them costs one list, no action.
    queue_tracking_jobs(tracked)
    run_jobs(tracked, STOP_JOB)
    run_jobs(tracked, POLL_JOB)
    assert tracked_row(tracked, "LX400000001CN").state == "stopped"
    assert tracked_row(tracked, "LX400000003CN").state == "registered"
    # Eight parcels over their whole lives: 8 creates + 1 list (stop) + 1 list (fallback poll).
    assert aftership.state.calls == {"create": 8, "list": 2}


def test_a_spreadsheet_parcel_tracked_by_aftership_into_shopify(
        shopify_link: ShopifyLink, aftership: AfterShipSandbox, live_url: str,
        tmp_path: Path) -> None:
    number = "LX500000001CN"
    runtime = shopify_link.runtime
    aftership.state.clock = shopify_link.clock
    configure_aftership(runtime, aftership)
    aftership.state.webhook_url = live_url + HOOK
    sheet = Spreadsheet(runtime, shopify_link.store_id, tmp_path)
    with runtime.db.write() as session:
        mapping = session.scalars(select(SkuMapping).where(SkuMapping.sku == "CASE-1")).one()
        mapping.supplier_id = sheet.id
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain, items=[
        {"title": "Phone case", "quantity": 1, "price": "12.50", "sku": "CASE-1"}])
    shopify_link.import_sandbox_order(order)
    sheet.ship(number)
    register(runtime)
    follow(runtime, aftership, shopify_link.clock, [number])
    assert shipment_of(runtime, number).status == Status.DELIVERED
    [fulfillment] = list(state.fulfillments.values())
    [tracking] = fulfillment.tracking
    assert (tracking.company, tracking.number) == ("USPS", handover_for(number).number)
    statuses = [event.status for event in fulfillment.events]
    assert statuses == ["CONFIRMED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]
    # AfterShip retrying the last webhook (same event_id) changes nothing in the store.
    assert aftership.state.resend(aftership.state.pushes[-1]).status == 200
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, "store.writeback") == 0
    assert [e.status for e in next(iter(state.fulfillments.values())).events] == statuses


# -- faults --------------------------------------------------------------------------------


@pytest.fixture
def one_parcel(tracked: Runtime, woo_store: int, tmp_path: Path,
               wc_sandbox: WooCommerceSandbox) -> str:
    return ship_one_parcel(tracked, woo_store, tmp_path, wc_sandbox, "LX600000001CN")


def recorded(aftership: AfterShipSandbox, clock: FrozenClock,
             number: str) -> list[tuple[bytes, str]]:
    return whole_life(aftership, clock, number)


def post(url: str, body: bytes, signature: str | None) -> requests.Response:
    return post_signed(url + HOOK, body, signature, "aftership-hmac-sha256")


def test_a_bad_hmac_is_refused_and_nothing_is_stored(
        tracked: Runtime, aftership: AfterShipSandbox, clock: FrozenClock, one_parcel: str,
        live_url: str) -> None:
    body, good = recorded(aftership, clock, one_parcel)[0]
    assert post(live_url, body, mapper.signature(body, "not-the-secret")).status_code == 401
    assert post(live_url, body, good[:-2] + ("A=" if good[-2] != "A" else "B=")).status_code \
        == 401
    assert post(live_url, body + b" ", good).status_code == 401  # signed bytes, not JSON
    assert post(live_url, body, None).status_code == 400
    assert count(tracked, InboxDelivery) == 0
    assert count(tracked, TrackingEvent) == 0
    assert post(live_url, body, good).status_code == 200
    assert count(tracked, InboxDelivery) == 1


def test_one_webhook_twenty_times_at_once_has_one_effect(
        tracked: Runtime, aftership: AfterShipSandbox, clock: FrozenClock, one_parcel: str,
        live_url: str) -> None:
    body, signature = recorded(aftership, clock, one_parcel)[-1]  # delivered
    check_twenty_at_once_have_one_effect(tracked, lambda: post(live_url, body, signature),
                                         one_parcel)


def test_webhooks_out_of_order_never_move_a_status_back(
        tracked: Runtime, aftership: AfterShipSandbox, clock: FrozenClock, one_parcel: str,
        live_url: str) -> None:
    webhooks = recorded(aftership, clock, one_parcel)
    check_out_of_order_never_moves_back(
        tracked, [partial(post, live_url, body, signature) for body, signature in webhooks],
        one_parcel)
    # The late pre-handover webhooks kept the last-mile number.
    assert shipment_of(tracked, one_parcel).tracking_number == handover_for(one_parcel).number


def test_a_number_aftership_cannot_place_is_a_problem_on_its_order(
        tracked: Runtime, aftership: AfterShipSandbox, woo_store: int, tmp_path: Path,
        wc_sandbox: WooCommerceSandbox) -> None:
    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    order = wc_sandbox.store.place_order([(product.id, 1)])
    sheet.order(str(order.id), str(order.line_items[0].id))
    sheet.ship("QQ12345ZZ")  # no courier's shape
    register(tracked)
    row = tracked_row(tracked, "QQ12345ZZ")
    assert (row.state, row.problem_code) == ("rejected", "4012")
    [alert] = alerts_of(tracked, TRACKING_PROBLEM)
    assert "aftership cannot track QQ12345ZZ: the carrier could not be recognised" in alert


# -- the connector against the sandbox -----------------------------------------------------


def connector(aftership: AfterShipSandbox, key: str = DEFAULT_API_KEY) -> AfterShip:
    return AfterShip(AfterShipSettings(api_key=key, webhook_secret="x",
                                       base_url=aftership.url), InProcessRequestLimiter())


def test_the_connector_speaks_aftership(aftership: AfterShipSandbox) -> None:
    service = connector(aftership)
    first = service.register([TrackRequest("LX700000001CN", tag="dt-1"),
                              TrackRequest("LX700000002CN", carrier="yunexpress"),
                              TrackRequest("LX700000003CN", service_carrier="no-such-slug")])
    assert [(a.number, a.service_carrier) for a in first.accepted] == [
        ("LX700000001CN", "china-post"), ("LX700000002CN", "yunexpress")]
    assert [(p.number, p.kind, p.code) for p in first.problems] == [
        ("LX700000003CN", ProblemKind.CARRIER_UNKNOWN, "4010")]
    again = service.register([TrackRequest("LX700000001CN")])
    assert [(p.kind, p.code) for p in again.problems] == [(ProblemKind.ALREADY_TRACKED, "4003")]
    parcels, problems = service.track([TrackRequest("LX700000001CN"),
                                       TrackRequest("LX709999999CN")])
    assert [p.number for p in parcels] == ["LX700000001CN"]
    assert [(p.number, p.kind) for p in problems] == [("LX709999999CN", ProblemKind.NOT_TRACKED)]
    tracking = aftership.state.by_number("LX700000001CN")
    assert tracking is not None and tracking.custom_fields == {"droptrack": "dt-1"}
    # 429 and 5xx are retried in the call.
    aftership.state.fail_next(429)
    aftership.state.fail_next(503)
    assert [p.number for p in service.track([TrackRequest("LX700000001CN")])[0]] == [
        "LX700000001CN"]
    # The owner's correction: AfterShip cannot change a courier, so delete and create again.
    changed = service.change_carrier("LX700000002CN", "yunexpress", "china-post")
    assert [a.service_carrier for a in changed.accepted] == ["china-post"]
    assert service.stop([TrackRequest("LX700000002CN")]).accepted
    assert aftership.state.by_number("LX700000002CN").completed == "DELIVERED"  # type: ignore[union-attr]
    with pytest.raises(AfterShipAuthError):
        connector(aftership, "wrong-key").track([TrackRequest("LX700000001CN")])
    service.close()


def test_the_sandbox_enforces_the_rate_limit(aftership: AfterShipSandbox) -> None:
    url = aftership.url + "/trackings/none"
    answers = [requests.get(url, headers={"as-api-key": DEFAULT_API_KEY}, timeout=5)
               for _ in range(8)]  # GET /trackings/:id allows 5 a second
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert limited[0].json()["meta"] == {"code": 429, "type": "TooManyRequests",
                                         "message": "You have exceeded the API call rate "
                                                    "limit."}
    assert int(limited[0].headers["X-RateLimit-Reset"]) > 0
    assert {a.json()["meta"]["code"] for a in answers if a.status_code != 429} == {4004}
