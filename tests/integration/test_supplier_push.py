"""Signed pushes from the reference supplier reach DropTrack over real HTTP and move parcels."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from core.domain import Address, OrderLine, Payment, StoreOrder
from integration.accounts import stores
from integration.accounts.suppliers import add_rest_supplier
from integration.base.config import Settings
from integration.engine.orders import import_order
from integration.kernel.runtime import Runtime
from integration.storage.models import InboxDelivery, Shipment, SkuMapping, TrackingEvent
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_supplier import SupplierSandbox

SECRET = "supplier-push-secret-0123456789"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def supplier_id(runtime: Runtime, supplier_sandbox: SupplierSandbox, live_url: str) -> int:
    runtime.clock = supplier_sandbox.clock
    store_id = stores.add_shopify_store(runtime, "push.myshopify.com", "tok", "secret")
    supplier = add_rest_supplier(runtime, "Reference", supplier_sandbox.url,
                                 supplier_sandbox.api_key, webhook_secret=SECRET)
    supplier_sandbox.state.register_webhook(f"{live_url}/webhooks/suppliers/{supplier}", SECRET,
                                            api_key=supplier_sandbox.api_key)
    with runtime.db.write() as session:
        session.add(SkuMapping(store_id=store_id, sku="MUG", supplier_sku="MUG-CERAMIC-11OZ",
                               supplier_id=supplier, created_at=runtime.clock.now()))
        import_order(session, store_id, StoreOrder(
            external_id="77", number="#1077", email="p@example.com", payment=Payment.PAID,
            updated_at=runtime.clock.now(), lines=(OrderLine("1", 1, sku="MUG"),),
            shipping_address=Address(name="Pat Doe", address1="742 Evergreen Terrace",
                                     city="Springfield", province="IL", postcode="62704",
                                     country="US")), runtime.clock.now())
    supplier_sandbox.state.seed_scenario("normal", order_number="#1077")
    run_jobs(runtime, "supplier.forward")
    return supplier


def count(runtime: Runtime, model: type) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_pushed_tracking_events_move_the_parcel(runtime: Runtime, supplier_id: int,
                                                supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.clock.advance(timedelta(days=4))
    attempts = supplier_sandbox.state.deliver_due()
    assert attempts and all(a.status_code == 200 for a in attempts)
    run_jobs(runtime, "inbox.process")
    with runtime.db.read() as session:
        parcel = session.scalars(select(Shipment)).one()
        events = count(runtime, TrackingEvent)
    assert parcel.status in ("info_received", "in_transit") and events >= 1
    supplier_sandbox.clock.advance(timedelta(days=30))
    supplier_sandbox.state.deliver_due()
    run_jobs(runtime, "inbox.process")
    with runtime.db.read() as session:
        assert session.scalars(select(Shipment)).one().status == "delivered"


def signed(body: bytes, secret: str = SECRET, **headers: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Supplier-Signature": f"sha256={digest}", "Content-Type": "application/json",
            **{f"X-Supplier-{name.replace('_', '-').title()}": v for name, v in headers.items()}}


def push_body(runtime: Runtime, event_id: str = "evt_1", sent_ago: timedelta = timedelta(0),
              **fields: object) -> bytes:
    sent_at = (runtime.clock.now() - sent_ago).isoformat().replace("+00:00", "Z")
    return json.dumps({"id": event_id, "type": "order.updated", "sent_at": sent_at,
                       "attempt": 1, "data": {}, **fields}).encode()


def test_forged_stale_and_duplicate_pushes(runtime: Runtime, supplier_id: int, live_url: str,
                                           supplier_sandbox: SupplierSandbox) -> None:
    url = f"{live_url}/webhooks/suppliers/{supplier_id}"
    body = push_body(runtime)
    assert requests.post(url, data=body, headers=signed(body, "wrong"),
                         timeout=5).status_code == 401
    stale = push_body(runtime, sent_ago=timedelta(seconds=301))
    assert requests.post(url, data=stale, headers=signed(stale), timeout=5).status_code == 401
    no_id = json.dumps({"type": "order.updated", "sent_at": "2026-11-11T05:08:40Z"}).encode()
    assert requests.post(url, data=no_id, headers=signed(no_id), timeout=5).status_code == 400
    assert requests.post(f"{live_url}/webhooks/suppliers/999", data=body, headers=signed(body),
                         timeout=5).status_code == 401
    first = requests.post(url, data=body, headers=signed(body), timeout=5)
    again = requests.post(url, data=body, headers=signed(body), timeout=5)
    assert (first.json()["status"], again.json()["status"]) == ("stored", "duplicate")
    assert count(runtime, InboxDelivery) == 1


def test_unsigned_headers_cannot_refresh_or_renumber_a_captured_push(
        runtime: Runtime, supplier_id: int, live_url: str) -> None:
    """Dedupe key and timestamp come from the signed body; the headers prove nothing."""
    url = f"{live_url}/webhooks/suppliers/{supplier_id}"
    now = str(int(runtime.clock.now().timestamp()))
    body = push_body(runtime)
    assert requests.post(url, data=body, headers=signed(body, timestamp=now, event_id="evt_1"),
                         timeout=5).json()["status"] == "stored"
    # The same signed body, re-sent with a new event id header: still the same event.
    replay = requests.post(url, data=body, timeout=5, headers=signed(
        body, timestamp=now, event_id="evt_forged", event_type="tracking.updated"))
    assert replay.json()["status"] == "duplicate"
    # An hour-old capture with a fresh timestamp header: still an hour old.
    old = push_body(runtime, "evt_2", sent_ago=timedelta(hours=1))
    assert requests.post(url, data=old, headers=signed(old, timestamp=now, event_id="evt_2"),
                         timeout=5).status_code == 401
    with runtime.db.read() as session:
        assert [(d.topic, d.dedupe_key) for d in session.scalars(select(InboxDelivery))] == [
            ("order.updated", f"{supplier_id}:evt_1")]
