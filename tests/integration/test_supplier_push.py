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


def test_forged_stale_and_duplicate_pushes(runtime: Runtime, supplier_id: int, live_url: str,
                                           supplier_sandbox: SupplierSandbox) -> None:
    url = f"{live_url}/webhooks/suppliers/{supplier_id}"
    body = json.dumps({"id": "evt_1", "type": "order.updated", "data": {}}).encode()
    now = int(runtime.clock.now().timestamp())

    def headers(secret: str = SECRET, ts: int = now) -> dict[str, str]:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Supplier-Signature": f"sha256={digest}", "X-Supplier-Timestamp": str(ts),
                "X-Supplier-Event-Id": "evt_1", "X-Supplier-Event-Type": "order.updated",
                "Content-Type": "application/json"}

    assert requests.post(url, data=body, headers=headers("wrong"), timeout=5).status_code == 401
    stale = requests.post(url, data=body, headers=headers(ts=now - 301), timeout=5)
    assert stale.status_code == 401
    missing = {k: v for k, v in headers().items() if k != "X-Supplier-Event-Id"}
    assert requests.post(url, data=body, headers=missing, timeout=5).status_code == 400
    assert requests.post(f"{live_url}/webhooks/suppliers/999", data=body, headers=headers(),
                         timeout=5).status_code == 401
    first = requests.post(url, data=body, headers=headers(), timeout=5)
    again = requests.post(url, data=body, headers=headers(), timeout=5)
    assert (first.json()["status"], again.json()["status"]) == ("stored", "duplicate")
    assert count(runtime, InboxDelivery) == 1
