"""The tracking sweep: parcels due and unshipped orders are polled, each once per due time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.domain import Address, OrderLine, Payment, StoreOrder
from integration.accounts import stores
from integration.accounts.suppliers import add_rest_supplier
from integration.base.config import Settings
from integration.engine.orders import import_order
from integration.kernel.runtime import Runtime
from integration.scheduling.scheduler import queue_tracking_polls
from integration.storage.models import Order, OutboxJob, Shipment, SkuMapping
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_supplier import SupplierSandbox


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


def polls(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return len(session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "supplier.poll")).all())


def test_sweep_follows_a_parcel_to_delivery(runtime: Runtime,
                                            supplier_sandbox: SupplierSandbox) -> None:
    clock = supplier_sandbox.clock
    runtime.clock = clock
    store_id = stores.add_shopify_store(runtime, "poll.myshopify.com", "tok", "secret")
    supplier = add_rest_supplier(runtime, "Ref", supplier_sandbox.url, supplier_sandbox.api_key)
    supplier_sandbox.state.seed_scenario("normal", order_number="#2001")
    with runtime.db.write() as session:
        session.add(SkuMapping(store_id=store_id, sku="MUG", supplier_sku="MUG-CERAMIC-11OZ",
                               supplier_id=supplier, created_at=clock.now()))
        import_order(session, store_id, StoreOrder(
            external_id="2001", number="#2001", email="q@example.com", payment=Payment.PAID,
            updated_at=clock.now(), lines=(OrderLine("1", 1, sku="MUG"),),
            shipping_address=Address(name="Q R", address1="742 Evergreen Terrace",
                                     city="Springfield", province="IL", postcode="62704",
                                     country="US")), clock.now())
    run_jobs(runtime, "supplier.forward")
    queue_tracking_polls(runtime)
    assert polls(runtime) == 0  # forwarded just now: too early to ask
    for _ in range(40):  # 40 x 12 h = 20 days of sweeps
        clock.advance(timedelta(hours=12))
        queue_tracking_polls(runtime)
        queue_tracking_polls(runtime)  # a second sweep (or scheduler) adds nothing
        run_jobs(runtime, "supplier.poll")
    with runtime.db.read() as session:
        parcel = session.scalars(select(Shipment)).one()
        order = session.scalars(select(Order)).one()
    assert parcel.status == "delivered" and parcel.next_check_at is None
    assert order.status == "delivered"
    total = polls(runtime)
    clock.advance(timedelta(days=5))
    queue_tracking_polls(runtime)
    assert polls(runtime) == total  # delivered parcels are never polled again
    assert total <= 40
