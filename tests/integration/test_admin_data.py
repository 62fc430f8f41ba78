"""A small shop built through the real engine (stores, import_order, apply_parcel_update),
shared by the dashboard, API and tracking page tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.domain import Address, CarrierEvent, OrderLine, Payment, StoreOrder
from core.status import Reason, Status
from integration.accounts import owners as accounts
from integration.accounts import stores
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime
from integration.storage.models import Order, SkuMapping, Supplier, SupplierOrder

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "correct horse battery"
ADDRESS = Address(name="Jane Doe", address1="742 Evergreen Terrace", city="Springfield",
                  province="IL", postcode="62704", country="US")


@dataclass
class Shop:
    runtime: Runtime
    clock: FrozenClock
    store_id: int
    supplier_id: int

    def place(self, number: str, email: str = "jane@example.com", sku: str = "LAMP",
              payment: Payment = Payment.PAID, address: Address = ADDRESS,
              store_id: int | None = None) -> int:
        now = self.clock.now()
        with self.runtime.db.write() as session:
            return import_order(session, store_id or self.store_id, StoreOrder(
                external_id=f"ext-{number}", number=number, email=email, payment=payment,
                updated_at=now, placed_at=now, shipping_address=address,
                lines=(OrderLine("1", 1, sku=sku, name="Desk lamp"),)), now).order_id

    def ship(self, order_id: int, tracking_number: str = "LX123456785CN",
             *events: tuple[str, Status, float, Reason | None, str],
             eta: datetime | None = None) -> None:
        """Events: (key, status, days after T0, reason, location)."""
        with self.runtime.db.write() as session:
            supplier_order = session.scalars(select(SupplierOrder).where(
                SupplierOrder.order_id == order_id)).one()
            supplier_order.status, supplier_order.forwarded_at = "forwarded", self.clock.now()
            apply_parcel_update(session, ParcelUpdate(
                supplier_order.id, f"parcel-{order_id}", tracking_number, None, None,
                tuple(CarrierEvent(key, status, T0 + DAY * days, reason, raw_status=key,
                                   message=f"scan {key}", location=location)
                      for key, status, days, reason, location in events),
                eta), self.clock.now())


def build_shop(runtime: Runtime) -> Shop:
    clock = FrozenClock(T0)
    runtime.clock = clock
    store_id = stores.add_shopify_store(runtime, "lamps.myshopify.com", "tok", "secret")
    with runtime.db.write() as session:
        supplier = Supplier(name="Shenzhen Lights", kind="rest", created_at=T0)
        session.add(supplier)
        session.flush()
        session.add(SkuMapping(store_id=store_id, sku="LAMP", supplier_id=supplier.id,
                               supplier_sku="SZ-LAMP", created_at=T0))
        accounts.create_user(session, OWNER_EMAIL, OWNER_PASSWORD, T0)
    return Shop(runtime, clock, store_id, supplier.id)


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return build_shop(runtime)


def test_the_shop_forwards_paid_orders_and_holds_unpaid_ones(shop: Shop) -> None:
    paid = shop.place("#1001")
    unpaid = shop.place("#1002", payment=Payment.AWAITING)
    with shop.runtime.db.read() as session:
        assert session.get_one(Order, paid).status == "processing"
        held = session.get_one(Order, unpaid)
        assert (held.status, held.reason) == ("pending", "payment_issue")
