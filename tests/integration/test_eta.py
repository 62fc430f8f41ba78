"""Estimated delivery: 7-15 days until enough parcels were delivered, then learned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain import Address, CarrierEvent, OrderLine, Payment, StoreOrder
from core.status import Status
from integration.accounts import stores
from integration.engine import eta
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime
from integration.storage.models import Order, Shipment, SkuMapping, Supplier, SupplierOrder
from integration.sync.writeback import promised_delivery

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def ship_orders(runtime: Runtime, count: int, transit_days: int, start: int = 0) -> None:
    with runtime.db.write() as session:
        store = session.scalar(select(SkuMapping.store_id))
        assert store is not None
        for number in range(start, start + count):
            import_order(session, store, StoreOrder(
                external_id=str(number), number=f"#{number}", email="e@example.com",
                payment=Payment.PAID, updated_at=T0, lines=(OrderLine("1", 1, sku="MUG"),),
                shipping_address=Address(name="E F", address1="Dam 1", city="Amsterdam",
                                         postcode="1012 JS", country="NL")), T0)
        for supplier_order in session.scalars(select(SupplierOrder).where(
                SupplierOrder.status == "queued")):
            sent = T0 + timedelta(days=supplier_order.id)
            apply_parcel_update(session, ParcelUpdate(
                supplier_order.id, f"p{supplier_order.id}", f"YT{supplier_order.id:016d}",
                events=[CarrierEvent("a", Status.IN_TRANSIT, sent),
                        CarrierEvent("b", Status.DELIVERED,
                                     sent + timedelta(days=transit_days))]), sent)


def test_window_is_learned_from_delivered_parcels(runtime: Runtime) -> None:
    store = stores.add_shopify_store(runtime, "eta.myshopify.com", "t", "s")
    with runtime.db.write() as session:
        session.add(Supplier(name="S", kind="rest", created_at=T0))
        session.flush()
        session.add(SkuMapping(store_id=store, sku="MUG", supplier_id=1, created_at=T0))
    ship_orders(runtime, 5, transit_days=9)
    with runtime.db.read() as session:
        assert eta.delivery_window(session, 1, "NL") == (7, 15)  # too few to learn from
        first = session.scalars(select(Shipment).order_by(Shipment.id)).first()
        assert first is not None
        # Dispatched at its first carrier event (T0 + 1 day): promised 15 days later.
        assert promised(session, first) == T0 + timedelta(days=1 + 15)
    ship_orders(runtime, 20, transit_days=9, start=5)
    with runtime.db.read() as session:
        assert eta.delivery_window(session, 1, "NL") == (9, 9)
        assert eta.delivery_window(session, 1, "US") == (7, 15)
    ship_orders(runtime, 1, transit_days=9, start=25)
    with runtime.db.read() as session:
        newest = session.scalars(select(Shipment).order_by(Shipment.id.desc())).first()
        assert newest is not None
        # 25 deliveries of 9 days are known now: the promise follows the route's real 9 days.
        assert promised(session, newest) == T0 + timedelta(days=26 + 9)


def promised(session: Session, shipment: Shipment) -> datetime | None:
    order = session.get_one(Order, shipment.order_id)
    supplier_order = session.get(SupplierOrder, shipment.supplier_order_id)
    return promised_delivery(session, shipment, order, supplier_order)
