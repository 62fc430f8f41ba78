"""The write-back job: snapshot, skip when the store already shows it, bind the fulfillment.

The store connectors themselves are tested against the sandboxes; here a recording connector
stands in so the job's own rules are checked in isolation.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.store_base import ShipmentSnapshot, StoreAccess, WriteResult
from core.clock import FrozenClock
from core.domain import Address, CarrierEvent, OrderLine, Payment, StoreOrder
from core.status import Reason, Status
from integration.accounts import stores
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime
from integration.storage.models import Binding, SkuMapping, Supplier, SupplierOrder
from integration.sync import writeback
from tests.helpers.jobs import run_jobs

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
written: list[ShipmentSnapshot] = []


class RecordingConnector:
    def __init__(self, access: StoreAccess) -> None:
        self.access = access

    def write_shipment(self, snapshot: ShipmentSnapshot) -> WriteResult:
        written.append(snapshot)
        return WriteResult(fulfillment_external_id=snapshot.fulfillment_external_id
                           or f"gid://shopify/Fulfillment/{snapshot.shipment_id}")

    def close(self) -> None:
        pass


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ShipmentSnapshot]]:
    module = types.ModuleType("recording_connector")
    module.build = RecordingConnector  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "recording_connector", module)
    monkeypatch.setitem(writeback.STORE_CONNECTORS, "shopify", "recording_connector")
    written.clear()
    yield written


def ship(runtime: Runtime, *events: CarrierEvent, number: str = "LX123456785CN") -> None:
    with runtime.db.write() as session:
        supplier_order = session.scalars(select(SupplierOrder)).one()
        apply_parcel_update(session, ParcelUpdate(supplier_order.id, "P1", number,
                                                  events=events), T0)


@pytest.fixture
def order(runtime: Runtime) -> None:
    runtime.clock = FrozenClock(T0 + timedelta(days=30))
    store = stores.add_shopify_store(runtime, "wb.myshopify.com", "tok", "secret")
    with runtime.db.write() as session:
        session.add(Supplier(name="A", kind="rest", created_at=T0))
        session.flush()
        session.add(SkuMapping(store_id=store, sku="LAMP", supplier_id=1, created_at=T0))
        import_order(session, store, StoreOrder(
            external_id="820982911946154508", number="#1001", email="a@example.com",
            payment=Payment.PAID, updated_at=T0, lines=(OrderLine("466157049", 2, sku="LAMP"),),
            shipping_address=Address(name="A B", address1="1 Main St", city="Boston",
                                     province="MA", postcode="02108", country="US")), T0)


def test_snapshot_carries_what_the_store_needs(runtime: Runtime, order: None,
                                               recording: list[ShipmentSnapshot]) -> None:
    ship(runtime, CarrierEvent("e1", Status.IN_TRANSIT, T0 + timedelta(days=2)))
    assert run_jobs(runtime, "store.writeback") == 1
    [snap] = recording
    assert snap.order_external_id == "820982911946154508"
    assert [(line.external_id, line.quantity) for line in snap.lines] == [("466157049", 2)]
    assert (snap.shopify_company, snap.tracking_number) == ("China Post", "LX123456785CN")
    assert snap.status is Status.IN_TRANSIT and snap.fulfillment_external_id is None
    assert snap.customer_note == ("Your parcel is on its way with China Post / ePacket, "
                                  "tracking number LX123456785CN.")
    with runtime.db.read() as session:
        binding = session.scalars(select(Binding).where(Binding.kind == "fulfillment")).one()
    assert binding.external_id.endswith("/Fulfillment/1")


def test_later_writes_update_the_same_fulfillment(runtime: Runtime, order: None,
                                                  recording: list[ShipmentSnapshot]) -> None:
    ship(runtime, CarrierEvent("e1", Status.IN_TRANSIT, T0 + timedelta(days=2)))
    run_jobs(runtime, "store.writeback")
    ship(runtime, CarrierEvent("e2", Status.UNDELIVERED, T0 + timedelta(days=9),
                               Reason.RECIPIENT_UNAVAILABLE))
    ship(runtime, CarrierEvent("e2", Status.UNDELIVERED, T0 + timedelta(days=9),
                               Reason.RECIPIENT_UNAVAILABLE))
    run_jobs(runtime, "store.writeback")
    assert [s.status for s in recording] == [Status.IN_TRANSIT, Status.UNDELIVERED]
    assert recording[1].fulfillment_external_id == "gid://shopify/Fulfillment/1"
    assert recording[1].written_status is Status.IN_TRANSIT


def test_nothing_is_written_twice(runtime: Runtime, order: None,
                                  recording: list[ShipmentSnapshot]) -> None:
    ship(runtime, CarrierEvent("e1", Status.IN_TRANSIT, T0 + timedelta(days=2)))
    run_jobs(runtime, "store.writeback")
    from integration.jobs import outbox

    with runtime.db.write() as session:
        outbox.enqueue(session, "store.writeback", "manual-again", {"shipment_id": 1}, T0)
    run_jobs(runtime, "store.writeback")
    assert len(recording) == 1
