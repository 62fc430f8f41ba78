"""Customer-facing surfaces: the order status page in a browser, and the signed app proxy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
from playwright.sync_api import Page
from shopify_app.verify.app_proxy import verify_app_proxy_req

from core.clock import SystemClock
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox, build
from sandboxes.shopify.operations import AdminOperations
from sandboxes.shopify.state import gid
from tests.helpers.sandbox_shopify import SeededStore, ShopifyWebhookReceiver


def test_order_status_page_shows_carrier_tracking_link_and_timeline(
        shopify_store: SeededStore, shopify_server: BackgroundServer, page: Page) -> None:
    state = shopify_store.sandbox.state
    order = state.place_order(shopify_store.domain)
    result = AdminOperations(state, shopify_store.domain, shopify_store.app.client_id) \
        .fulfillment_create({"lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": gid("FulfillmentOrder", order.fulfillment_order_ids[0])}],
            "trackingInfo": {"company": "DHL Express", "number": "JD014600003",
                             "url": "https://www.dhl.com/en/express/tracking.html?AWB=JD014600003"}})
    fulfillment_id = result.value.id
    start = datetime(2026, 11, 2, 10, tzinfo=UTC)
    state.add_fulfillment_event(fulfillment_id, "CARRIER_PICKED_UP", happened_at=start,
                                city="Shenzhen")
    state.add_fulfillment_event(fulfillment_id, "IN_TRANSIT",
                                happened_at=start + timedelta(days=2), city="Leipzig",
                                message="Arrived at hub")
    page.goto(f"{shopify_server.url}/shops/{shopify_store.domain}/orders/{order.status_token}")
    assert page.locator(".carrier").inner_text() == "DHL Express"
    link = page.locator("a.tracking-number")
    assert link.inner_text() == "JD014600003"
    assert link.get_attribute("href") == \
        "https://www.dhl.com/en/express/tracking.html?AWB=JD014600003"
    assert page.locator(".shipment-status").inner_text() == "On its way"
    labels = page.locator("li.event strong").all_inner_texts()
    assert labels == ["On its way", "Picked up by carrier"]
    assert "Arrived at hub" in page.locator("li.event").first.inner_text()


def test_unknown_status_token_is_not_found(shopify_store: SeededStore,
                                           shopify_server: BackgroundServer) -> None:
    response = httpx.get(f"{shopify_server.url}/shops/{shopify_store.domain}/orders/nope")
    assert response.status_code == 404


def test_app_proxy_forwards_a_request_the_official_library_accepts(
        shopify_webhook_receiver: ShopifyWebhookReceiver) -> None:
    # the library checks the timestamp against the real clock, so this sandbox uses it
    app = build(SystemClock(), public_url="http://127.0.0.1", background_webhooks=False)
    sandbox: ShopifySandbox = app.extensions["sandbox"]
    proxy_app = sandbox.state.create_app(proxy_subpath="droptrack",
                                         proxy_url=shopify_webhook_receiver.at("/proxy"))
    shop = sandbox.state.create_shop("proxy-store")
    sandbox.state.install(shop.domain, proxy_app)
    with BackgroundServer(app) as server:
        response = httpx.get(f"{server.url}/shops/{shop.domain}/apps/droptrack/track",
                             params={"order": "1001", "tag": ["a", "b"]},
                             headers={"X-Sandbox-Customer-Id": "42"})
    assert response.status_code == 200
    [received] = shopify_webhook_receiver.received
    assert received.path == "/proxy/track"
    url = f"{shopify_webhook_receiver.url}{received.path}?{received.query}"
    verdict = verify_app_proxy_req({"method": "GET", "headers": {}, "url": url, "body": ""},
                                   {"client_id": proxy_app.client_id,
                                    "client_secret": proxy_app.client_secret,
                                    "old_client_secret": None})
    assert verdict.ok, verdict.log
    assert verdict.logged_in_customer_id == "42"
    query = dict(parse_qsl(received.query))
    assert query["path_prefix"] == "/apps/droptrack"
    assert query["shop"] == shop.domain
