"""The WooCommerce connector's write-back over real HTTP against the sandbox, in both auth
modes: tracking items, one customer note per status, order statuses, and failures in plain
words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connectors.http import TransientHttpError
from connectors.store_base import ShipmentSnapshot, ShippedLine
from connectors.woocommerce.client import StoreRefused
from connectors.woocommerce.connector import OrderDeleted
from core.status import Reason, Status
from core.wording import customer_note
from sandboxes.woocommerce.state import Order
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox
from tests.helpers.woocommerce_connector import connector_for, wc_site  # noqa: F401

SHIPPED_AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def snapshot(order: Order, status: Status = Status.INFO_RECEIVED, *,
             number: str = "LX123456785CN", carrier: str = "China Post / ePacket",
             company: str | None = "China Post", reason: Reason | None = None,
             written_number: str | None = None,
             order_status: Status | None = None) -> ShipmentSnapshot:
    return ShipmentSnapshot(
        shipment_id=1, order_external_id=str(order.id), order_number=str(order.id),
        lines=[ShippedLine(str(order.line_items[0].id), 1)], carrier=carrier,
        shopify_company=company, tracking_number=number,
        tracking_url=f"https://t.17track.net/en#nums={number}", status=status, reason=reason,
        status_happened_at=SHIPPED_AT, estimated_delivery_at=None,
        customer_note=customer_note(status, reason, carrier, number),
        written_tracking_number=written_number, order_status=order_status)


def customer_notes(sandbox: WooCommerceSandbox, order: Order) -> list[str]:
    return [n.note for n in sandbox.store.order(order.id).notes if n.customer_note]


def test_tracking_item_note_and_status(wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    wc_site.store.set_tracking_mode("shipment_tracking")
    order = wc_site.store.place_order()
    connector = connector_for(wc_site, status_updates="immediate")
    try:
        connector.write_shipment(snapshot(order))
    finally:
        connector.close()
    [item] = wc_site.store.tracking_items(order.id)
    assert item["tracking_number"] == "LX123456785CN"
    assert item["tracking_provider"] == "china-post"  # the plugin's own provider
    assert item["custom_tracking_provider"] == ""
    assert customer_notes(wc_site, order) == [
        "Your order has shipped with China Post / ePacket, tracking number LX123456785CN. "
        "Tracking updates can take a day or two to appear."]
    assert wc_site.store.order(order.id).status == "completed"


@pytest.mark.parametrize(("ast_partial", "shown"), [(False, "processing"),
                                                    (True, "partial-shipped")])
def test_an_immediate_status_is_the_orders_not_the_parcels(
        wc_sandbox: WooCommerceSandbox, ast_partial: bool, shown: str) -> None:
    """The first parcel of a partly shipped order is delivered: the order is not completed
    (item 8 of issue 22), in "immediate" mode as in the batched flush."""
    wc_sandbox.store.set_tracking_mode("ast")
    wc_sandbox.store.set_ast_partial_shipped(ast_partial)
    order = wc_sandbox.store.place_order()
    connector = connector_for(wc_sandbox, status_updates="immediate")
    try:
        connector.write_shipment(snapshot(order, Status.DELIVERED,
                                          order_status=Status.PROCESSING))
        assert wc_sandbox.store.order(order.id).status == shown
        connector.write_shipment(snapshot(order, Status.DELIVERED,
                                          order_status=Status.DELIVERED))
    finally:
        connector.close()
    assert wc_sandbox.store.order(order.id).status == "completed"


def test_unknown_carrier_gets_a_custom_provider_and_link(wc_sandbox: WooCommerceSandbox) -> None:
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    order = wc_sandbox.store.place_order()
    connector = connector_for(wc_sandbox)
    connector.write_shipment(snapshot(order, carrier="YunExpress", company="YunExpress",
                                      number="YT2300000000001"))
    [item] = wc_sandbox.store.tracking_items(order.id)
    assert (item["custom_tracking_provider"], item["custom_tracking_link"]) == (
        "YunExpress", "https://t.17track.net/en#nums=YT2300000000001")
    # batched mode (the default) leaves the status to the status sweep
    assert wc_sandbox.store.order(order.id).status == "processing"


def test_a_retried_write_adds_nothing_twice(wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    wc_site.store.set_tracking_mode("shipment_tracking")
    order = wc_site.store.place_order()
    connector = connector_for(wc_site, status_updates="immediate")
    for _ in range(3):
        connector.write_shipment(snapshot(order))
    assert len(wc_site.store.tracking_items(order.id)) == 1
    assert len(customer_notes(wc_site, order)) == 1


def test_one_note_per_status_reached(wc_sandbox: WooCommerceSandbox) -> None:
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    order = wc_sandbox.store.place_order()
    connector = connector_for(wc_sandbox)
    for status in (Status.INFO_RECEIVED, Status.OUT_FOR_DELIVERY, Status.OUT_FOR_DELIVERY,
                   Status.DELIVERED, Status.DELIVERED):
        connector.write_shipment(snapshot(order, status))
    assert customer_notes(wc_sandbox, order)[1:] == [
        "Your parcel is out for delivery.",
        "Your parcel has been delivered. We hope you enjoy your order!"]
    assert len(wc_sandbox.store.tracking_items(order.id)) == 1


def test_a_changed_number_replaces_the_old_item(wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    wc_site.store.set_tracking_mode("shipment_tracking")
    order = wc_site.store.place_order()
    other = wc_site.store.add_tracking_item(order.id, tracking_number="1Z999AA10123456784",
                                            tracking_provider="ups")
    connector = connector_for(wc_site)
    connector.write_shipment(snapshot(order))
    connector.write_shipment(snapshot(order, Status.IN_TRANSIT, number="LX987654321CN",
                                      written_number="LX123456785CN"))
    numbers = [i["tracking_number"] for i in wc_site.store.tracking_items(order.id)]
    assert numbers == [other["tracking_number"], "LX987654321CN"]


def test_without_a_plugin_the_note_carries_the_link(wc_sandbox: WooCommerceSandbox) -> None:
    order = wc_sandbox.store.place_order()
    connector = connector_for(wc_sandbox, status_updates="immediate")
    connector.write_shipment(snapshot(order))
    connector.write_shipment(snapshot(order))
    assert wc_sandbox.store.tracking_items(order.id) == []
    [note] = customer_notes(wc_sandbox, order)
    assert note.endswith("Track your parcel: https://t.17track.net/en#nums=LX123456785CN")
    assert wc_sandbox.store.order(order.id).status == "completed"


def test_a_removed_plugin_is_noticed_and_notes_still_go_out(
        wc_sandbox: WooCommerceSandbox) -> None:
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    order = wc_sandbox.store.place_order()
    probed: list[bool] = []
    connector = connector_for(wc_sandbox)
    connector._on_probe = lambda found: probed.append(found.tracking)
    connector.write_shipment(snapshot(order))
    wc_sandbox.store.set_tracking_mode("none")
    connector.write_shipment(snapshot(order, Status.DELIVERED))
    assert probed == [True, False]
    assert len(customer_notes(wc_sandbox, order)) == 2


def test_ast_store_and_complete_on_delivered(wc_sandbox_https: WooCommerceSandbox) -> None:
    wc_sandbox_https.store.set_tracking_mode("ast")
    order = wc_sandbox_https.store.place_order()
    connector = connector_for(wc_sandbox_https, status_updates="immediate",
                              complete_on="delivered")
    connector.write_shipment(snapshot(order))
    assert connector.capabilities().ast
    assert wc_sandbox_https.store.order(order.id).status == "processing"
    connector.write_shipment(snapshot(order, Status.DELIVERED))
    assert wc_sandbox_https.store.order(order.id).status == "completed"
    assert len(wc_sandbox_https.store.tracking_items(order.id)) == 1


def test_a_merchant_set_status_is_never_overwritten(wc_sandbox: WooCommerceSandbox) -> None:
    order = wc_sandbox.store.place_order()
    wc_sandbox.store.set_order_status(order.id, "cancelled")
    connector_for(wc_sandbox, status_updates="immediate").write_shipment(snapshot(order))
    assert wc_sandbox.store.order(order.id).status == "cancelled"


def test_deleted_order_is_a_permanent_error_in_plain_words(
        wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    wc_site.store.set_tracking_mode("shipment_tracking")
    order = wc_site.store.place_order()
    wc_site.store.trash_order(order.id)
    with pytest.raises(OrderDeleted, match="no longer exists"):
        connector_for(wc_site).write_shipment(snapshot(order))


def test_revoked_keys_are_reported(wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    order = wc_site.store.place_order()
    key = wc_site.store.create_key()
    wc_site.store.delete_key(key.key_id)
    with pytest.raises(StoreRefused, match="refused DropTrack's API keys") as refused:
        connector_for(wc_site, key).write_shipment(snapshot(order))
    assert refused.value.status == 401


def test_read_only_keys_are_reported(wc_sandbox: WooCommerceSandbox) -> None:
    order = wc_sandbox.store.place_order()
    key = wc_sandbox.store.create_key("read")
    with pytest.raises(StoreRefused, match="read/write permission"):
        connector_for(wc_sandbox, key).write_shipment(snapshot(order))
    assert customer_notes(wc_sandbox, order) == []


def test_a_waf_block_is_named(wc_sandbox: WooCommerceSandbox) -> None:
    order = wc_sandbox.store.place_order()
    wc_sandbox.store.inject_fault(403, times=10)
    with pytest.raises(StoreRefused, match="firewall or security plugin"):
        connector_for(wc_sandbox).write_shipment(snapshot(order))


def test_429_with_retry_after_is_waited_out_on_reads(wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    order = wc_site.store.place_order()
    wc_site.store.inject_fault(429, retry_after="1", times=1)
    connector = connector_for(wc_site)
    waits: list[float] = []
    connector.client.http._sleep = waits.append
    connector.write_shipment(snapshot(order))
    assert waits == [1.0]
    assert len(customer_notes(wc_site, order)) == 1


def test_429_without_retry_after_backs_off_then_succeeds(wc_sandbox: WooCommerceSandbox) -> None:
    order = wc_sandbox.store.place_order()
    wc_sandbox.store.inject_fault(429, times=2)
    connector = connector_for(wc_sandbox)
    waits: list[float] = []
    connector.client.http._sleep = waits.append
    connector.write_shipment(snapshot(order))
    assert len(waits) == 2 and all(0 < wait <= 2.0 for wait in waits)


def test_a_long_retry_after_goes_back_to_the_outbox(wc_sandbox: WooCommerceSandbox) -> None:
    order = wc_sandbox.store.place_order()
    wc_sandbox.store.inject_fault(429, retry_after="120", times=1)
    with pytest.raises(TransientHttpError) as throttled:
        connector_for(wc_sandbox).write_shipment(snapshot(order))
    assert throttled.value.retry_after_seconds == 120.0
    assert customer_notes(wc_sandbox, order) == []


def test_a_throttled_post_is_not_blindly_resent(wc_sandbox: WooCommerceSandbox) -> None:
    """A POST is not retried in the call; the outbox's retry reads first, so no duplicate."""
    order = wc_sandbox.store.place_order()
    wc_sandbox.store.inject_fault(503, retry_after="1", method="POST",
                                  path_prefix=f"/wp-json/wc/v3/orders/{order.id}/notes")
    connector = connector_for(wc_sandbox)
    with pytest.raises(TransientHttpError):
        connector.write_shipment(snapshot(order))
    assert customer_notes(wc_sandbox, order) == []
    connector.write_shipment(snapshot(order))  # the outbox's next attempt
    assert len(customer_notes(wc_sandbox, order)) == 1


def test_clock_skew_is_named_not_blamed_on_the_keys(wc_sandbox: WooCommerceSandbox) -> None:
    order = wc_sandbox.store.place_order()
    wc_sandbox.clock.advance(timedelta(hours=1))
    with pytest.raises(StoreRefused, match="clock"):
        connector_for(wc_sandbox).write_shipment(snapshot(order))


def test_a_known_store_state_costs_one_call_per_new_status(
        wc_sandbox: WooCommerceSandbox) -> None:
    """After a recorded write, a status reached for the first time is one POST (the note); a
    status reached before, or an unknown store state, is read first and never noted twice."""
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    order = wc_sandbox.store.place_order()
    connector = connector_for(wc_sandbox)
    connector.write_shipment(snapshot(order, Status.IN_TRANSIT))
    [item] = wc_sandbox.store.tracking_items(order.id)
    known = replace(snapshot(order, Status.OUT_FOR_DELIVERY, written_number="LX123456785CN"),
                    written_status=Status.IN_TRANSIT, store_state_known=True,
                    status_reached_before=False)
    calls = connector.client.calls
    connector.write_shipment(known)
    assert connector.client.calls - calls == 1
    assert customer_notes(wc_sandbox, order)[-1] == "Your parcel is out for delivery."
    # Out for delivery again after a failed attempt: its note exists, so it is looked for.
    connector.write_shipment(replace(known, status_reached_before=True))
    # A retry (state unknown) reads too.
    connector.write_shipment(replace(known, store_state_known=False))
    assert customer_notes(wc_sandbox, order).count("Your parcel is out for delivery.") == 1
    assert wc_sandbox.store.tracking_items(order.id) == [item]
