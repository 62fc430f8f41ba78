"""Fulfillment-service mode on the Shopify sandbox, over real HTTP both ways: DropTrack registers
its fulfillment service, Shopify's signed ping at `<callbackUrl>/fulfillment_order_notification`
makes DropTrack accept (and forward once to the reference supplier) or reject each requested
fulfillment order, and the supplier's parcel comes back as a fulfillment of the accepted one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from connectors.shopify.settings import FULFILLMENT_SERVICE, MERCHANT_MANAGED
from core.clock import FrozenClock
from integration.accounts import stores
from integration.accounts.suppliers import add_rest_supplier
from integration.base.config import Settings
from integration.engine.forwarding import POLL_JOB
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, AuditLog, Order, OutboxJob, SkuMapping, Store
from integration.sync.shopify.fulfillment_service import (
    FULFILLMENT_REQUESTS_JOB,
    set_fulfillment_mode,
)
from integration.sync.shopify.store import ENSURE_WEBHOOKS_JOB
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.signing import webhook_hmac
from sandboxes.shopify.state import FulfillmentOrder, FulfillmentService
from sandboxes.shopify.state import Order as SandboxOrder
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_shopify import SeededStore, ShopifyWebhookReceiver
from tests.helpers.sandbox_supplier import SupplierSandbox
from tests.helpers.shopify_connector import (  # noqa: F401  (fixture)
    let_live_server_settle,
    shopify_limiter_fixture,
)

NOTIFICATION = "/fulfillment_order_notification"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@dataclass
class FulfillmentServiceStore:
    runtime: Runtime
    store_id: int
    seeded: SeededStore
    supplier: SupplierSandbox
    public_url: str

    @property
    def state(self) -> ShopifySandbox:
        return self.seeded.sandbox

    def service(self) -> FulfillmentService:
        [found] = [s for s in self.state.state.fulfillment_services.values()
                   if s.shop == self.seeded.domain]
        return found

    def request_fulfillment(self, order: SandboxOrder) -> FulfillmentOrder:
        """The merchant (or Shopify's routing) sends the order's fulfillment order to
        DropTrack's location and requests fulfillment; the sandbox then pings DropTrack."""
        [fo_id] = order.fulfillment_order_ids
        self.state.state.assign_to_fulfillment_service(fo_id, self.service().id)
        return self.state.state.fulfillment_orders[fo_id]

    def deliver(self) -> None:
        delivered = self.state.webhooks.deliver_due()
        assert all(d.state == "delivered" for d in delivered), [
            (d.topic, d.attempts) for d in delivered]

    def callback(self) -> str:
        return f"{self.public_url}/shopify/fulfillment_service/{self.store_id}"

    def audit(self, action: str) -> list[AuditLog]:
        with self.runtime.db.read() as session:
            return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


@pytest.fixture
def fs_store(runtime: Runtime, live_url: str, shopify_store: SeededStore,
             shopify_server: BackgroundServer, shopify_clock: FrozenClock,
             shopify_limiter: object, supplier_sandbox: SupplierSandbox
             ) -> Iterator[FulfillmentServiceStore]:
    """The seeded sandbox shop connected to DropTrack (served at `live_url`), CASE-1 mapped to
    the reference supplier's mug, and the store switched to fulfillment-service mode."""
    runtime.clock = shopify_clock
    runtime.settings = runtime.settings.model_copy(update={
        "app": runtime.settings.app.model_copy(update={"public_url": live_url})})
    shopify_store.app.redirect_urls.append(live_url + "/shopify/callback")
    token = shopify_store.token
    store_id = stores.add_shopify_store(runtime, shopify_store.domain, token.token,
                                        shopify_store.app.client_secret)
    supplier_id = add_rest_supplier(runtime, "Reference Supplier", supplier_sandbox.url,
                                    supplier_sandbox.api_key)
    with runtime.db.write() as session:
        row = session.get_one(Store, store_id)
        row.credentials_encrypted = runtime.secrets.encrypt_json({
            "access_token": token.token, "kind": "static",
            "scope": ",".join(sorted(token.scopes))})
        row.settings = {"admin_base_url": shopify_server.url}
        session.add(SkuMapping(store_id=store_id, sku="CASE-1", supplier_sku="MUG-CERAMIC-11OZ",
                               supplier_id=supplier_id, created_at=shopify_clock.now()))
    set_fulfillment_mode(runtime, store_id, FULFILLMENT_SERVICE, actor="test")
    assert run_jobs(runtime, ENSURE_WEBHOOKS_JOB) == 1
    yield FulfillmentServiceStore(runtime, store_id, shopify_store, supplier_sandbox, live_url)
    let_live_server_settle()


def test_the_fulfillment_service_is_registered_once_with_droptracks_callback(
        fs_store: FulfillmentServiceStore) -> None:
    service = fs_store.service()
    assert (service.service_name, service.callback_url) == ("DropTrack", fs_store.callback())
    with fs_store.runtime.db.read() as session:
        settings = session.get_one(Store, fs_store.store_id).settings
    assert settings["fulfillment_service_id"] == (
        f"gid://shopify/FulfillmentService/{service.id}?id=true")
    assert settings["fulfillment_location_id"] == f"gid://shopify/Location/{service.location_id}"
    # The hourly health check finds it and registers nothing new.
    with fs_store.runtime.db.write() as session:
        outbox.enqueue(session, ENSURE_WEBHOOKS_JOB, "again", {"store_id": fs_store.store_id},
                       fs_store.runtime.clock.now())
    assert run_jobs(fs_store.runtime, ENSURE_WEBHOOKS_JOB) == 1
    assert len(fs_store.state.state.fulfillment_services) == 1
    assert len(fs_store.audit("store.fulfillment_service_registered")) == 1


def test_requested_order_is_accepted_forwarded_once_and_fulfilled_unmapped_one_rejected(
        fs_store: FulfillmentServiceStore) -> None:
    runtime, sandbox = fs_store.runtime, fs_store.state.state
    mapped = sandbox.place_order(fs_store.seeded.domain)  # CASE-1, paid
    unmapped = sandbox.place_order(fs_store.seeded.domain, items=[
        {"title": "Mystery box", "quantity": 1, "price": "30.00", "sku": "MYSTERY-9"}])
    fs_store.supplier.state.seed_scenario("normal", order_number=mapped.name)
    accepted_fo = fs_store.request_fulfillment(mapped)
    rejected_fo = fs_store.request_fulfillment(unmapped)

    # Webhooks (orders/create, orders/paid) and the two signed pings reach DropTrack.
    fs_store.deliver()
    pings = [d for d in fs_store.state.webhooks.deliveries if d.url.endswith(NOTIFICATION)]
    assert len(pings) == 2 and all(d.url == fs_store.callback() + NOTIFICATION for d in pings)
    run_jobs(runtime)  # inbox, the fulfillment-request look, forwarding
    run_jobs(runtime)

    assert (accepted_fo.request_status, accepted_fo.status) == ("ACCEPTED", "IN_PROGRESS")
    assert (rejected_fo.request_status, rejected_fo.response_reason) == (
        "REJECTED", "INELIGIBLE_PRODUCT")
    assert rejected_fo.response_message is not None
    assert "no supplier mapped for MYSTERY-9" in rejected_fo.response_message
    [forwarded] = fs_store.supplier.state.orders.values()
    assert forwarded.request.order_number == mapped.name
    assert [(line.supplier_sku, line.quantity) for line in forwarded.request.lines] == [
        ("MUG-CERAMIC-11OZ", 1)]
    with runtime.db.read() as session:
        alert = session.scalars(select(Alert).where(Alert.kind == "unmapped_sku")).one()
    assert "MYSTERY-9" in alert.message  # the owner is told too

    # A repeated ping (Shopify retries, or the backstop poll) changes nothing.
    with runtime.db.write() as session:
        outbox.enqueue(session, FULFILLMENT_REQUESTS_JOB, "again",
                       {"store_id": fs_store.store_id}, runtime.clock.now())
    run_jobs(runtime, FULFILLMENT_REQUESTS_JOB)
    run_jobs(runtime, ahead=timedelta(hours=2))
    assert len(fs_store.supplier.state.orders) == 1
    assert len(fs_store.audit("fulfillment_request.accepted")) == 1
    assert len(fs_store.audit("fulfillment_request.rejected")) == 1

    # The supplier ships; polling brings the parcel back and it is written as a fulfillment of
    # the accepted fulfillment order, with tracking.
    fs_store.supplier.clock.advance(timedelta(days=30))
    with runtime.db.write() as session:
        from integration.storage.models import SupplierOrder

        supplier_order = session.scalars(select(SupplierOrder)).one()
        outbox.enqueue(session, POLL_JOB, "poll:test", {"supplier_order_id": supplier_order.id},
                       runtime.clock.now())
    assert run_jobs(runtime, POLL_JOB) == 1
    assert run_jobs(runtime, "store.writeback") >= 1
    [fulfillment] = [sandbox.fulfillments[f] for f in sandbox.orders[mapped.id].fulfillment_ids]
    assert fulfillment.fulfillment_order_ids == [accepted_fo.id]
    assert fulfillment.tracking and fulfillment.tracking[0].number
    assert accepted_fo.status == "CLOSED"
    assert "DELIVERED" in {event.status for event in fulfillment.events}
    assert sandbox.orders[unmapped.id].fulfillment_ids == []


def test_an_unpaid_order_is_rejected_and_not_forwarded(fs_store: FulfillmentServiceStore) -> None:
    sandbox = fs_store.state.state
    order = sandbox.place_order(fs_store.seeded.domain, paid=False)
    fo = fs_store.request_fulfillment(order)
    fs_store.deliver()
    run_jobs(fs_store.runtime)
    run_jobs(fs_store.runtime)
    assert (fo.request_status, fo.response_reason) == ("REJECTED", "OTHER")
    assert fo.response_message is not None and "not paid" in fo.response_message
    assert fs_store.supplier.state.orders == {}
    with fs_store.runtime.db.read() as session:
        row = session.scalars(select(Order)).one()
    assert (row.status, row.reason) == ("pending", "payment_issue")


def _post(fs_store: FulfillmentServiceStore, body: bytes, headers: dict[str, str],
          store_id: int | None = None) -> requests.Response:
    url = (f"{fs_store.public_url}/shopify/fulfillment_service/"
           f"{store_id or fs_store.store_id}{NOTIFICATION}")
    return requests.post(url, data=body, headers=headers, timeout=10)


def _queued(fs_store: FulfillmentServiceStore) -> int:
    with fs_store.runtime.db.read() as session:
        return len(list(session.scalars(select(OutboxJob).where(
            OutboxJob.kind == FULFILLMENT_REQUESTS_JOB, OutboxJob.state == outbox.PENDING))))


def test_notifications_are_verified_like_shopify_webhooks(
        fs_store: FulfillmentServiceStore) -> None:
    run_jobs(fs_store.runtime, FULFILLMENT_REQUESTS_JOB)  # the one queued at registration
    body = json.dumps({"kind": "FULFILLMENT_REQUEST"}).encode()
    secret = fs_store.seeded.app.client_secret
    good = {"X-Shopify-Hmac-Sha256": webhook_hmac(body, secret),
            "X-Shopify-Shop-Domain": fs_store.seeded.domain,
            "Content-Type": "application/json"}
    assert _post(fs_store, body, {**good, "X-Shopify-Hmac-Sha256": webhook_hmac(
        body, "someone else's secret")}).status_code == 401
    assert _post(fs_store, body, {k: v for k, v in good.items()
                                  if k != "X-Shopify-Hmac-Sha256"}).status_code == 400
    assert _post(fs_store, body, {**good, "X-Shopify-Shop-Domain": "other.myshopify.com"}
                 ).status_code == 401
    assert _post(fs_store, body, good, store_id=fs_store.store_id + 100).status_code == 401
    assert _queued(fs_store) == 0
    assert _post(fs_store, body, good).status_code == 200
    assert _post(fs_store, body, good).status_code == 200
    assert _queued(fs_store) == 1  # one waiting look covers both pings


def test_a_merchant_managed_store_ignores_notifications(
        fs_store: FulfillmentServiceStore) -> None:
    run_jobs(fs_store.runtime, FULFILLMENT_REQUESTS_JOB)
    set_fulfillment_mode(fs_store.runtime, fs_store.store_id, MERCHANT_MANAGED, actor="test")
    body = json.dumps({"kind": "FULFILLMENT_REQUEST"}).encode()
    response = _post(fs_store, body, {
        "X-Shopify-Hmac-Sha256": webhook_hmac(body, fs_store.seeded.app.client_secret)})
    assert response.status_code == 200 and response.text == "ignored"
    assert _queued(fs_store) == 0


def test_the_sandbox_pings_the_callback_signed_like_its_webhooks(
        shopify_store: SeededStore, shopify_webhook_receiver: ShopifyWebhookReceiver) -> None:
    state = shopify_store.sandbox.state
    with state.lock:
        shopify_store.app.redirect_urls.append(shopify_webhook_receiver.url)
    from sandboxes.shopify.operations import AdminOperations

    created = AdminOperations(state, shopify_store.domain, shopify_store.app.client_id) \
        .fulfillment_service_create("Acme", shopify_webhook_receiver.at("/fs/7"), {})
    assert created.user_errors == []
    order = state.place_order(shopify_store.domain)
    state.assign_to_fulfillment_service(order.fulfillment_order_ids[0], created.value.id)
    shopify_store.sandbox.webhooks.deliver_due()
    [ping] = shopify_webhook_receiver.received
    assert ping.path == "/fs/7/fulfillment_order_notification"
    assert json.loads(ping.body) == {"kind": "FULFILLMENT_REQUEST"}
    assert ping.headers["X-Shopify-Hmac-Sha256"] == webhook_hmac(
        ping.body, shopify_store.app.client_secret)
    assert ping.headers["X-Shopify-Shop-Domain"] == shopify_store.domain
    # Assigned without a request (or to a service without callback): no ping.
    second = state.place_order(shopify_store.domain)
    state.assign_to_fulfillment_service(second.fulfillment_order_ids[0], created.value.id,
                                        request=False)
    shopify_store.sandbox.webhooks.deliver_due()
    assert len(shopify_webhook_receiver.received) == 1
