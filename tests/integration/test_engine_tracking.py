"""Parcels and tracking events: dedupe, never backwards, write-back once per change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.domain import Address, CarrierEvent, OrderLine, Payment, StoreOrder
from core.status import Reason, Status
from integration.accounts import stores
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    Order,
    OutboxJob,
    Shipment,
    SkuMapping,
    Supplier,
    SupplierOrder,
    TrackingEvent,
)

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def supplier_orders(runtime: Runtime) -> list[int]:
    store = stores.add_shopify_store(runtime, "track.myshopify.com", "tok", "secret")
    with runtime.db.write() as session:
        session.add_all([Supplier(name="A", kind="rest", created_at=T0),
                         Supplier(name="B", kind="rest", created_at=T0)])
        session.flush()
        session.add_all([SkuMapping(store_id=store, sku="LAMP", supplier_id=1, created_at=T0),
                         SkuMapping(store_id=store, sku="MUG", supplier_id=2, created_at=T0)])
        import_order(session, store, StoreOrder(
            external_id="9", number="#1009", email="c@example.com", payment=Payment.PAID,
            updated_at=T0, lines=(OrderLine("1", 1, sku="LAMP"), OrderLine("2", 1, sku="MUG")),
            shipping_address=Address(name="C D", address1="1 Main St", city="Boston",
                                     province="MA", postcode="02108", country="US")), T0)
        return list(session.scalars(select(SupplierOrder.id).order_by(SupplierOrder.id)))


Apply = Callable[..., object]


@pytest.fixture
def parcel(runtime: Runtime, supplier_orders: list[int]) -> Apply:
    def apply(*events: CarrierEvent, number: str = "LX123456785CN", supplier_order: int = 0,
              ref: str = "P1", carrier: str | None = None) -> object:
        with runtime.db.write() as session:
            return apply_parcel_update(session, ParcelUpdate(
                supplier_orders[supplier_order], ref, number, carrier, None, events), T0)
    return apply


def event(key: str, status: Status, days: float, reason: Reason | None = None) -> CarrierEvent:
    return CarrierEvent(key, status, T0 + timedelta(days=days), reason, raw_status=key)


def writebacks(runtime: Runtime) -> list[str]:
    with runtime.db.read() as session:
        return [j.idempotency_key for j in session.scalars(
            select(OutboxJob).where(OutboxJob.kind == "store.writeback").order_by(OutboxJob.id))]


def shipment(runtime: Runtime) -> Shipment:
    with runtime.db.read() as session:
        return session.scalars(select(Shipment)).one()


def test_new_parcel_is_detected_and_written_back(runtime: Runtime, parcel: Apply) -> None:
    parcel()
    found = shipment(runtime)
    assert (found.carrier, found.status) == ("China Post / ePacket", "info_received")
    assert found.tracking_url.endswith("LX123456785CN")
    assert found.next_check_at == T0 + timedelta(hours=6)
    assert len(writebacks(runtime)) == 1


def test_duplicates_and_late_events_change_nothing(runtime: Runtime, parcel: Apply) -> None:
    parcel(event("accepted", Status.INFO_RECEIVED, 0.1), event("departed", Status.IN_TRANSIT, 1))
    parcel(event("departed", Status.IN_TRANSIT, 1), event("departed", Status.IN_TRANSIT, 1))
    assert shipment(runtime).status == "in_transit"
    parcel(event("ofd", Status.OUT_FOR_DELIVERY, 9))
    parcel(event("late-hub-scan", Status.IN_TRANSIT, 8))  # arrives late, is older
    found = shipment(runtime)
    assert found.status == "out_for_delivery"
    assert found.last_event_at == T0 + timedelta(days=9)
    with runtime.db.read() as session:
        assert len(session.scalars(select(TrackingEvent)).all()) == 4
    # The first update brought two events at once: only the state they lead to is written.
    assert [k.split(":")[3] for k in writebacks(runtime)] == ["in_transit", "out_for_delivery"]


def test_last_mile_number_replaces_the_original(runtime: Runtime, parcel: Apply) -> None:
    parcel(event("e1", Status.IN_TRANSIT, 2))
    parcel(event("e2", Status.IN_TRANSIT, 9), number="9400111206206406260787")
    found = shipment(runtime)
    assert (found.tracking_number, found.carrier) == ("9400111206206406260787", "USPS")
    with runtime.db.read() as session:
        assert len(session.scalars(select(Shipment)).all()) == 1
    assert writebacks(runtime)[-1].endswith(":9400111206206406260787")


def test_undelivered_raises_one_alert_and_one_customer_notice(runtime: Runtime,
                                                              parcel: Apply) -> None:
    parcel(event("x", Status.UNDELIVERED, 10, Reason.INVALID_ADDRESS))
    parcel(event("x", Status.UNDELIVERED, 10, Reason.INVALID_ADDRESS),
           event("y", Status.UNDELIVERED, 10.5, Reason.INVALID_ADDRESS))
    with runtime.db.read() as session:
        assert [a.kind for a in session.scalars(select(Alert))] == ["undelivered"]
        notices = session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "notify.undelivered")).all()
    assert len(notices) == 1


def test_order_follows_its_least_advanced_parcel(runtime: Runtime, parcel: Apply) -> None:
    parcel(event("a1", Status.DELIVERED, 12), ref="A")
    with runtime.db.read() as session:
        assert session.scalars(select(Order)).one().status == "processing"  # B not shipped
    parcel(event("b1", Status.IN_TRANSIT, 3), supplier_order=1, ref="B",
           number="YT2229521272164446")
    with runtime.db.read() as session:
        assert session.scalars(select(Order)).one().status == "in_transit"
        delivered = session.scalars(select(Shipment).where(Shipment.status == "delivered")).one()
    assert delivered.next_check_at is None
    assert delivered.delivered_at == T0 + 12 * DAY

