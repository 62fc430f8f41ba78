"""Forwarding to the reference supplier over real HTTP: exactly one supplier order, whatever
the faults; out of stock and rejections reach the owner; parcels come back by polling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.domain import Address, OrderLine, Payment, StoreOrder
from integration.accounts import stores
from integration.accounts.suppliers import SupplierError, add_rest_supplier
from integration.base.config import Settings
from integration.engine import bindings
from integration.engine.orders import import_order
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, Order, OutboxJob, Shipment, SkuMapping, SupplierOrder
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_supplier import SupplierSandbox

ADDRESS = Address(name="Jane Doe", address1="742 Evergreen Terrace", city="Springfield",
                  province="IL", postcode="62704", country="US", phone="+1 217 555 0134")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def shop(runtime: Runtime, supplier_sandbox: SupplierSandbox) -> tuple[int, int]:
    runtime.clock = supplier_sandbox.clock
    store_id = stores.add_shopify_store(runtime, "fwd.myshopify.com", "tok", "secret")
    supplier_id = add_rest_supplier(runtime, "Reference Supplier", supplier_sandbox.url,
                                    supplier_sandbox.api_key)
    with runtime.db.write() as session:
        for sku, supplier_sku in (("MUG", "MUG-CERAMIC-11OZ"), ("TOTE", "BAG-TOTE-CANVAS")):
            session.add(SkuMapping(store_id=store_id, sku=sku, supplier_sku=supplier_sku,
                                   supplier_id=supplier_id, created_at=runtime.clock.now()))
    return store_id, supplier_id


def place(runtime: Runtime, store_id: int, sku: str = "MUG", number: str = "#1001") -> int:
    with runtime.db.write() as session:
        return import_order(session, store_id, StoreOrder(
            external_id=number, number=number, email="jane@example.com", payment=Payment.PAID,
            updated_at=runtime.clock.now(), shipping_address=ADDRESS,
            lines=(OrderLine("1", 2, sku=sku),)), runtime.clock.now()).order_id


def supplier_order(runtime: Runtime) -> SupplierOrder:
    with runtime.db.read() as session:
        return session.scalars(select(SupplierOrder)).one()


def test_paid_order_reaches_the_supplier_once(runtime: Runtime, shop: tuple[int, int],
                                              supplier_sandbox: SupplierSandbox) -> None:
    place(runtime, shop[0])
    assert run_jobs(runtime, "supplier.forward") == 1
    assert run_jobs(runtime, "supplier.forward", ahead=timedelta(days=1)) == 0
    [order] = supplier_sandbox.state.orders.values()
    assert (order.request.store, order.request.order_number) == ("fwd.myshopify.com", "#1001")
    assert [(line.supplier_sku, line.quantity) for line in order.request.lines] == [
        ("MUG-CERAMIC-11OZ", 2)]
    row = supplier_order(runtime)
    assert row.status == "forwarded" and row.forwarded_at is not None


def test_server_errors_then_recovery_make_one_order(runtime: Runtime, shop: tuple[int, int],
                                                    supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.faults.add("error", endpoint="create_order", times=4, status=503)
    place(runtime, shop[0])
    run_jobs(runtime, "supplier.forward")  # three tries in the call, then back off
    assert supplier_order(runtime).status == "queued"
    with runtime.db.read() as session:
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == "supplier.forward")).one()
        assert job.state == "pending" and "503" in (job.last_error or "")
    run_jobs(runtime, "supplier.forward", ahead=timedelta(hours=1))
    assert supplier_order(runtime).status == "forwarded"
    assert len(supplier_sandbox.state.orders) == 1


def test_timeout_after_the_supplier_created_the_order(runtime: Runtime, shop: tuple[int, int],
                                                      supplier_sandbox: SupplierSandbox) -> None:
    with runtime.db.write() as session:
        from integration.storage.models import Supplier

        supplier = session.get_one(Supplier, shop[1])
        supplier.settings = {**supplier.settings, "timeout_seconds": 0.5}
    supplier_sandbox.state.faults.add("timeout_after_create", endpoint="create_order",
                                      seconds=1.5)
    place(runtime, shop[0])
    run_jobs(runtime, "supplier.forward")
    run_jobs(runtime, "supplier.forward", ahead=timedelta(hours=1))
    assert supplier_order(runtime).status == "forwarded"
    assert len(supplier_sandbox.state.orders) == 1


def test_out_of_stock_holds_the_order_and_tells_the_owner(
        runtime: Runtime, shop: tuple[int, int], supplier_sandbox: SupplierSandbox) -> None:
    order_id = place(runtime, shop[0], sku="TOTE")
    run_jobs(runtime, "supplier.forward")
    with runtime.db.read() as session:
        order = session.get_one(Order, order_id)
        alert = session.scalars(select(Alert)).one()
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == "supplier.forward")).one()
    assert (order.status, order.reason) == ("pending", "out_of_stock")
    assert "BAG-TOTE-CANVAS: 0 available, 2 requested" in alert.message
    assert job.state == "done"
    assert supplier_sandbox.state.orders == {}


def test_permanent_error_is_dead_lettered_with_the_reason(
        runtime: Runtime, shop: tuple[int, int], supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.faults.add("error", endpoint="create_order", times=1, status=400)
    place(runtime, shop[0])
    run_jobs(runtime, "supplier.forward")
    with runtime.db.read() as session:
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == "supplier.forward")).one()
    assert job.state == "dead" and "HTTP 400" in (job.last_error or "")
    assert supplier_sandbox.state.orders == {}


def test_polling_brings_the_parcel_home(runtime: Runtime, shop: tuple[int, int],
                                        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.seed_scenario("normal", order_number="#1001")
    order_id = place(runtime, shop[0])
    run_jobs(runtime, "supplier.forward")
    supplier_sandbox.clock.advance(timedelta(days=30))
    with runtime.db.write() as session:
        from integration.jobs import outbox

        outbox.enqueue(session, "supplier.poll", "poll:test", {
            "supplier_order_id": supplier_order(runtime).id}, runtime.clock.now())
    assert run_jobs(runtime, "supplier.poll") == 1
    with runtime.db.read() as session:
        parcel = session.scalars(select(Shipment)).one()
        order = session.get_one(Order, order_id)
    assert parcel.status == "delivered" and parcel.tracking_number
    assert order.status == "delivered"


def test_supplier_urls_are_checked(runtime: Runtime) -> None:
    with pytest.raises(SupplierError, match="private or reserved"):
        add_rest_supplier(runtime, "Evil", "https://169.254.169.254/latest", "k")
    with pytest.raises(SupplierError, match="only https"):
        add_rest_supplier(runtime, "Plain", "http://93.184.216.34/api", "k")


def test_a_racing_first_import_fails_on_the_binding_and_its_retry_finds_the_order(
        runtime: Runtime, shop: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two deliveries of one new order: the second looked for the binding before the first
    committed (as if `bindings.find` saw nothing), so it inserts the order too; the binding's
    unique constraint rolls that back (IntegrityError, retried by inbox.process), and the
    retry finds the order. One order, one supplier order, one forward job."""
    first = place(runtime, shop[0])
    with monkeypatch.context() as patch:
        patch.setattr(bindings, "find", lambda *_args: None)
        with pytest.raises(IntegrityError):
            place(runtime, shop[0])
    assert place(runtime, shop[0]) == first
    with runtime.db.read() as session:
        assert len(session.scalars(select(Order.id)).all()) == 1
        assert len(session.scalars(select(SupplierOrder.id)).all()) == 1
        assert len(session.scalars(select(OutboxJob.id).where(
            OutboxJob.kind == "supplier.forward")).all()) == 1
