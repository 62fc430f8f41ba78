"""Alert sweeps: no tracking after N days, stuck in transit (quiet for N days and on its way
longer than its route usually takes: 15 days before the route has history); each alert raised
once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.clock import FrozenClock
from core.domain import Address, CarrierEvent, OrderLine, Payment, StoreOrder
from core.status import Status
from integration.accounts import stores
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime
from integration.scheduling.scheduler import flag_attention_needed
from integration.storage.models import Alert, SkuMapping, Supplier, SupplierOrder

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def setup_orders(runtime: Runtime, count: int) -> list[int]:
    store = stores.add_shopify_store(runtime, "sweep.myshopify.com", "tok", "secret")
    with runtime.db.write() as session:
        session.add(Supplier(name="A", kind="rest", created_at=T0))
        session.flush()
        session.add(SkuMapping(store_id=store, sku="LAMP", supplier_id=1, created_at=T0))
        for number in range(count):
            import_order(session, store, StoreOrder(
                external_id=str(number), number=f"#{number}", email="x@example.com",
                payment=Payment.PAID, updated_at=T0, lines=(OrderLine("1", 1, sku="LAMP"),),
                shipping_address=Address(name="X Y", address1="1 Main St", city="Boston",
                                         province="MA", postcode="02108", country="US")), T0)
        supplier_orders = list(session.scalars(select(SupplierOrder).order_by(SupplierOrder.id)))
        for supplier_order in supplier_orders:
            supplier_order.status, supplier_order.forwarded_at = "forwarded", T0
        return [s.id for s in supplier_orders]


def kinds(runtime: Runtime) -> list[str]:
    with runtime.db.read() as session:
        return sorted(a.kind for a in session.scalars(select(Alert)))


def test_sweeps_flag_once_and_only_what_is_late(runtime: Runtime) -> None:
    clock = FrozenClock(T0)
    runtime.clock = clock
    no_parcel, quiet, moving = setup_orders(runtime, 3)
    with runtime.db.write() as session:
        for supplier_order, last in ((quiet, T0), (moving, T0 + timedelta(days=12))):
            apply_parcel_update(session, ParcelUpdate(supplier_order, f"p{supplier_order}",
                                                      "LX123456785CN", events=[CarrierEvent(
                                                          "e", Status.IN_TRANSIT, last)]), T0)
    clock.set(T0 + timedelta(days=4))
    flag_attention_needed(runtime)
    assert kinds(runtime) == []
    clock.set(T0 + timedelta(days=8))
    flag_attention_needed(runtime)
    assert kinds(runtime) == ["no_tracking"]  # quiet 8 days, but the route takes up to 15
    clock.set(T0 + timedelta(days=16))
    flag_attention_needed(runtime)
    flag_attention_needed(runtime)
    assert kinds(runtime) == ["no_tracking", "stuck_in_transit"]
    with runtime.db.read() as session:
        alerts = {a.kind: a for a in session.scalars(select(Alert))}
    assert "no tracking number 8 days" in alerts["no_tracking"].message
    assert "no carrier update for 16 days" in alerts["stuck_in_transit"].message
    assert "usually takes up to 15" in alerts["stuck_in_transit"].message
    assert alerts["stuck_in_transit"].order_id != no_parcel
