"""The whole Shopify story on the sandbox, as the merchant and the customer see it: install
through OAuth in a real Chromium (consent clicked), webhooks registered, a paid order arrives by
webhook (five times, out of order, and through reconciliation), the supplier's parcel becomes a
fulfillment with events, and the order status page shows the tracking link and "Delivered"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from core.clock import FrozenClock
from core.domain import CarrierEvent
from core.status import Status
from integration.base.config import Settings
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.jobs.outbox import enqueue
from integration.kernel.runtime import Runtime
from integration.storage.models import Order, SkuMapping, Store, Supplier, SupplierOrder
from integration.sync.shopify.reconcile import RECONCILE_JOB
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.oauth import signed_install_url
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_connector import (  # noqa: F401  (fixture)
    let_live_server_settle,
    shopify_limiter_fixture,
)

CLIENT_ID = "droptrack-e2e"
CLIENT_SECRET = "shpss_droptrack_e2e_secret"
DAY = timedelta(days=1)


@pytest.fixture
def settings(database_url: str, shopify_server: BackgroundServer) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True}, shopify={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "admin_base_url": shopify_server.url, "allowed_shops": ["e2e-merchant.myshopify.com"]})


def test_install_order_fulfil_deliver_as_the_customer_sees_it(
        runtime: Runtime, live_url: str, page: Page, shopify_sandbox: ShopifySandbox,
        shopify_clock: FrozenClock, shopify_limiter: object) -> None:
    runtime.clock = shopify_clock
    runtime.settings = runtime.settings.model_copy(update={
        "app": runtime.settings.app.model_copy(update={"public_url": live_url})})
    state = shopify_sandbox.state
    state.create_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                     redirect_urls=[live_url + "/shopify/callback"])
    shop = state.create_shop("e2e-merchant")

    # The merchant installs DropTrack and clicks "Install app" on Shopify's consent screen.
    page.goto(signed_install_url(live_url, shop.domain, CLIENT_SECRET,
                                 timestamp=int(shopify_clock.now().timestamp())))
    page.click("#install")
    page.wait_for_selector("#installed")
    assert "DropTrack is installed on e2e-merchant.myshopify.com" in page.content()
    assert run_jobs(runtime, "shopify.webhooks.ensure") == 1
    assert len([s for s in state.subscriptions.values()
                if s.uri == live_url + "/webhooks/shopify"]) == 5
    with runtime.db.write() as session:
        store = session.scalars(select(Store)).one()
        supplier = Supplier(name="Reference", kind="rest", created_at=shopify_clock.now())
        session.add(supplier)
        session.flush()
        session.add(SkuMapping(store_id=store.id, sku="CASE-1", supplier_id=supplier.id,
                               created_at=shopify_clock.now()))
        store_id = store.id

    # A customer pays; Shopify delivers orders/create and orders/paid twice each, backwards.
    shopify_sandbox.webhooks.duplicates = shopify_sandbox.webhooks.out_of_order = True
    order = state.place_order(shop.domain, items=[
        {"title": "Phone case", "quantity": 1, "price": "12.50", "sku": "CASE-1"}])
    delivered = shopify_sandbox.webhooks.deliver_due()
    assert {d.topic for d in delivered} == {"orders/create", "orders/paid"}
    run_jobs(runtime, "inbox.process")
    # ...and once more through reconciliation.
    with runtime.db.write() as session:
        enqueue(session, RECONCILE_JOB, "reconcile-now", {"store_id": store_id},
                shopify_clock.now())
    assert run_jobs(runtime, RECONCILE_JOB) == 1
    with runtime.db.read() as session:
        [dt_order] = session.scalars(select(Order)).all()
        [supplier_order] = session.scalars(select(SupplierOrder)).all()
    assert dt_order.number == order.name and dt_order.payment_status == "paid"

    # The supplier ships (test double at the supplier edge); the carrier moves the parcel on.
    start = shopify_clock.now()
    for key, status, day in (("e1", Status.IN_TRANSIT, 2), ("e2", Status.OUT_FOR_DELIVERY, 9),
                             ("e3", Status.DELIVERED, 10)):
        with runtime.db.write() as session:
            apply_parcel_update(session, ParcelUpdate(
                supplier_order.id, "P1", "LX123456785CN",
                events=[CarrierEvent(key, status, start + day * DAY)]), shopify_clock.now())
        run_jobs(runtime, "store.writeback")
        shopify_sandbox.webhooks.deliver_due()  # orders/updated after each fulfillment change
        run_jobs(runtime, "inbox.process")
    let_live_server_settle()

    [fulfillment] = state.fulfillments.values()
    assert [(t.company, t.number) for t in fulfillment.tracking] == [
        ("China Post", "LX123456785CN")]
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT", "OUT_FOR_DELIVERY",
                                                      "DELIVERED"]
    assert shopify_sandbox.usage(shop.domain, CLIENT_ID).throttled == 0
    with runtime.db.read() as session:
        assert len(session.scalars(select(Order)).all()) == 1

    page.goto(f"{shopify_sandbox.public_url}/shops/{shop.domain}/orders/{order.status_token}")
    assert page.inner_text(".shipment-status") == "Delivered"
    link = page.locator("a.tracking-number")
    assert link.inner_text() == "LX123456785CN"
    assert "LX123456785CN" in (link.get_attribute("href") or "")
    assert "China Post" in page.inner_text(".carrier")
