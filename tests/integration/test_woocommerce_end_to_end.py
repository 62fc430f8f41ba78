"""Issue 5's acceptance on the sandbox: connect through wc-auth in Chromium (on DropTrack's
https address: WooCommerce posts the keys only to an https callback), webhooks created,
a processing order arrives by webhook, a supplier parcel (a test double at the supplier edge)
is written back, and the customer's View order page shows the tracking and the notes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from core.domain import CarrierEvent
from core.status import Status
from integration.accounts import owners as accounts
from integration.base.config import Settings
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime
from integration.storage.models import Order, SkuMapping, Store, Supplier, SupplierOrder
from integration.sync.woocommerce import statuses, webhooks
from integration.sync.woocommerce import store as woocommerce_sync
from sandboxes.server import BackgroundServer
from sandboxes.tls import make_tls
from sandboxes.woocommerce.state import TrackingMode
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox

NUMBER = "LX123456785CN"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def public(runtime: Runtime, live_url: str) -> Iterator[str]:
    app_settings = runtime.settings.app.model_copy(update={"public_url": live_url})
    runtime.settings = runtime.settings.model_copy(update={"app": app_settings})
    yield live_url


@pytest.fixture
def secure_url(app: Flask) -> Iterator[str]:
    """DropTrack also served over https on the same host (a throwaway certificate)."""
    with BackgroundServer(app, ssl_context=make_tls("127.0.0.1").server_context) as server:
        yield server.url


@pytest.fixture
def owners_page(browser: Browser) -> Iterator[Page]:
    """The owner's browser, which has accepted DropTrack's test certificate."""
    context = browser.new_context(ignore_https_errors=True)
    yield context.new_page()
    context.close()


def connect_in_browser(page: Page, secure: str, sandbox: WooCommerceSandbox,
                       runtime: Runtime) -> int:
    with runtime.db.write() as session:  # only a signed-in owner may connect a store
        accounts.create_user(session, "owner@example.com", "correct horse battery",
                             runtime.clock.now())
    page.goto(f"{secure}/woocommerce/connect?store_url={quote(sandbox.url)}")
    page.fill("#email", "owner@example.com")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.click("button[name=confirm]")  # the confirmation names the store; GET starts nothing
    page.click("a.wc-auth-approve")
    page.wait_for_selector("#result[data-store-id]")
    return int(page.get_attribute("#result", "data-store-id") or 0)


def ship(runtime: Runtime, sandbox: WooCommerceSandbox, status: Status, key: str) -> None:
    sandbox.clock.advance(timedelta(minutes=1))  # OAuth timestamps allow 15 minutes of skew
    with runtime.db.write() as session:
        supplier_order = session.scalars(select(SupplierOrder)).one()
        apply_parcel_update(session, ParcelUpdate(
            supplier_order.id, "P1", NUMBER, carrier="China Post / ePacket",
            events=[CarrierEvent(key, status, sandbox.clock.now())]), sandbox.clock.now())
    run_jobs(runtime, "store.writeback")


@pytest.mark.parametrize("mode", ["shipment_tracking", "none", "ast"])
def test_connect_order_ship_and_the_customer_sees_it(
        runtime: Runtime, public: str, secure_url: str, wc_sandbox: WooCommerceSandbox,
        owners_page: Page, page: Page, mode: TrackingMode) -> None:
    runtime.clock = wc_sandbox.clock
    wc_sandbox.store.set_tracking_mode(mode)
    store_id = connect_in_browser(owners_page, secure_url, wc_sandbox, runtime)
    assert store_id
    with runtime.db.read() as session:
        store = session.get_one(Store, store_id)
        assert "consumer_secret" not in (store.credentials_encrypted or "")

    assert run_jobs(runtime, webhooks.WEBHOOK_HEALTH_JOB) == 1
    assert sorted(w.topic for w in wc_sandbox.store.webhooks.values()) == [
        "order.created", "order.updated"]

    with runtime.db.write() as session:
        session.add(Supplier(name="A", kind="rest", created_at=runtime.clock.now()))
        session.flush()
        session.add(SkuMapping(store_id=store_id, sku="LAMP", supplier_id=1,
                               created_at=runtime.clock.now()))
    product = wc_sandbox.store.add_product("Lamp", sku="LAMP")
    placed = wc_sandbox.store.place_order([(product.id, 1)])
    wc_sandbox.deliver_pending()
    wc_sandbox.deliver_pending()  # a duplicate delivery changes nothing
    run_jobs(runtime, "inbox.process")
    with runtime.db.read() as session:
        assert session.scalars(select(Order.number)).all() == [str(placed.id)]

    ship(runtime, wc_sandbox, Status.INFO_RECEIVED, "e1")
    ship(runtime, wc_sandbox, Status.OUT_FOR_DELIVERY, "e2")
    ship(runtime, wc_sandbox, Status.OUT_FOR_DELIVERY, "e2")  # a duplicate carrier event
    ship(runtime, wc_sandbox, Status.DELIVERED, "e3")
    # webhooks for DropTrack's own writes come back: stale or unchanged, nothing new
    wc_sandbox.deliver_pending()
    run_jobs(runtime, "inbox.process")
    woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
    assert run_jobs(runtime, statuses.FLUSH_STATUSES_JOB) == 1
    assert wc_sandbox.store.order(placed.id).status == "completed"

    page.goto(f"{wc_sandbox.url}/my-account/view-order/{placed.id}/"
              f"?key={placed.order_key}")
    updates = page.locator(".woocommerce-OrderUpdate-description").all_inner_texts()
    assert [u.split(".")[0] for u in updates] == [
        "Your order has shipped with China Post / ePacket, tracking number LX123456785CN",
        "Your parcel is out for delivery", "Your parcel has been delivered"]
    assert page.locator(".order-status").inner_text() == "Completed"
    if mode == "none":
        assert "Track your parcel: https://t.17track.net/en#nums=LX123456785CN" in updates[0]
        assert page.locator("tr.tracking").count() == 0
    else:
        link = page.locator("tr.tracking .tracking-number a")
        assert link.count() == 1 and link.inner_text() == NUMBER
        assert page.locator("tr.tracking .tracking-provider").inner_text() == "China Post"
        assert NUMBER in (link.get_attribute("href") or "")
