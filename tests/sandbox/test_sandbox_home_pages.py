"""Every address the demo prints opens a page: each sandbox's root lists what it holds, with
links to the customer pages; the Shopify order status page fits the moment (delivered says so,
the estimated window shows once per parcel)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import requests

from sandboxes.server import BackgroundServer
from sandboxes.shopify.operations import AdminOperations
from sandboxes.shopify.state import gid
from tests.helpers.sandbox_shopify import SeededStore
from tests.helpers.sandbox_supplier import SupplierSandbox
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox


def test_shopify_home_lists_orders_and_the_status_page_follows_delivery(
        shopify_store: SeededStore, shopify_server: BackgroundServer) -> None:
    state = shopify_store.sandbox.state
    assert "No orders yet." in httpx.get(f"{shopify_server.url}/").text
    order = state.place_order(shopify_store.domain)
    fulfillment = AdminOperations(state, shopify_store.domain, shopify_store.app.client_id) \
        .fulfillment_create({"lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": gid("FulfillmentOrder", order.fulfillment_order_ids[0])}],
            "trackingInfo": {"company": "DHL Express", "number": "JD014600003"}}).value.id
    start = datetime(2026, 11, 2, 10, tzinfo=UTC)
    for day, status in enumerate(("CARRIER_PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY")):
        state.add_fulfillment_event(fulfillment, status, happened_at=start + timedelta(days=day),
                                    estimated_delivery_at=start + timedelta(days=5))
    home = httpx.get(f"{shopify_server.url}/")
    assert home.status_code == 200
    link = re.search(r'<a href="([^"]+)">#\d+</a>', home.text)
    assert link is not None and link.group(1).endswith(f"/orders/{order.status_token}")
    page = httpx.get(link.group(1)).text
    assert "Your order is on its way" in page
    assert page.count("Estimated delivery") == 1  # once, not on every event

    state.add_fulfillment_event(fulfillment, "DELIVERED", happened_at=start + timedelta(days=4))
    page = httpx.get(link.group(1)).text
    assert "Your order has been delivered" in page and "on its way" not in page
    assert "Estimated delivery" not in page
    assert "Your order has been delivered" in httpx.get(f"{shopify_server.url}/").text


def test_woocommerce_home_lists_the_store_orders(wc_sandbox: WooCommerceSandbox) -> None:
    order = wc_sandbox.store.place_order(status="processing")
    home = requests.get(f"{wc_sandbox.url}/", timeout=10)
    assert home.status_code == 200 and "WooCommerce sandbox: orders" in home.text
    link = re.search(rf'<a href="([^"]+)">{order.id}</a>', home.text)
    assert link is not None
    view = requests.get(link.group(1).replace("&amp;", "&"), timeout=10)
    assert view.status_code == 200 and "Invalid order" not in view.text


def test_supplier_home_lists_its_orders_and_the_api_still_needs_the_key(
        supplier_sandbox: SupplierSandbox) -> None:
    created = supplier_sandbox.create_order()
    assert created.status_code == 201, created.text
    home = requests.get(f"{supplier_sandbox.url}/", timeout=10)
    assert home.status_code == 200 and created.json()["id"] in home.text
    assert requests.get(f"{supplier_sandbox.url}/v1/orders/{created.json()['id']}",
                        timeout=10).status_code == 401
