"""Order intake decisions against a real database: forward, hold with a reason, withdraw."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.domain import Address, OrderLine, Payment, StoreOrder
from core.status import Reason
from integration.accounts import stores
from integration.engine.orders import Outcome, import_order
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, Order, OutboxJob, SkuMapping, Supplier, SupplierOrder

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ADDRESS = Address(name="Jane Roe", address1="350 5th Ave", address2="Apt 4B", city="New York",
                  province="NY", postcode="10118", country="US")


@pytest.fixture
def store_id(runtime: Runtime) -> int:
    store = stores.add_shopify_store(runtime, "engine.myshopify.com", "tok", "secret")
    with runtime.db.write() as session:
        for name in ("Shenzhen Lamps", "Yiwu Mugs", "Backup Co"):
            session.add(Supplier(name=name, kind="rest", created_at=T0))
        session.flush()
        session.add_all([
            SkuMapping(store_id=store, sku="LAMP", supplier_id=1, supplier_sku="SZ-LAMP",
                       backup_supplier_id=3, created_at=T0),
            SkuMapping(store_id=store, sku="MUG", supplier_id=2, created_at=T0),
        ])
    return store


def order(payment: Payment = Payment.PAID, updated: datetime = T0, **changes: object) -> StoreOrder:
    base = StoreOrder(
        external_id="5001", number="#1001", email="jane@example.com", payment=payment,
        updated_at=updated, shipping_address=ADDRESS,
        lines=(OrderLine("l1", 1, sku="LAMP"), OrderLine("l2", 2, sku="MUG")),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run(runtime: Runtime, store_id: int, incoming: StoreOrder):  # type: ignore[no-untyped-def]
    with runtime.db.write() as session:
        return import_order(session, store_id, incoming, T0)


def jobs(runtime: Runtime, kind: str) -> list[OutboxJob]:
    with runtime.db.read() as session:
        return list(session.scalars(select(OutboxJob).where(OutboxJob.kind == kind)))


def open_alerts(runtime: Runtime) -> list[tuple[str, bool]]:
    with runtime.db.read() as session:
        return [(a.kind, a.resolved_at is None) for a in session.scalars(select(Alert))]


def test_paid_order_is_split_per_supplier_and_queued_once(runtime: Runtime,
                                                          store_id: int) -> None:
    result = run(runtime, store_id, order())
    assert result.outcome is Outcome.FORWARDING
    forward = jobs(runtime, "supplier.forward")
    assert [j.payload["supplier_id"] for j in forward] == [1, 2]
    assert forward[0].payload["lines"] == [{"line_id": "l1", "supplier_sku": "SZ-LAMP",
                                            "quantity": 1, "supplier_product_id": "",
                                            "supplier_variant_id": "", "max_unit_price": None}]
    with runtime.db.read() as session:
        assert session.scalars(select(Order)).one().status == "processing"
        assert len(session.scalars(select(SupplierOrder)).all()) == 2
    again = run(runtime, store_id, order())
    newer = run(runtime, store_id, order(updated=T0 + timedelta(minutes=5)))
    assert again.outcome is Outcome.STALE
    assert newer.outcome is Outcome.UNCHANGED
    assert len(jobs(runtime, "supplier.forward")) == 2


def test_unpaid_order_waits_with_payment_issue_then_goes_when_paid(runtime: Runtime,
                                                                   store_id: int) -> None:
    held = run(runtime, store_id, order(Payment.AWAITING))
    assert (held.outcome, held.reason) == (Outcome.HELD, Reason.PAYMENT_ISSUE)
    assert jobs(runtime, "supplier.forward") == []
    run(runtime, store_id, order(Payment.AWAITING, updated=T0 + timedelta(minutes=1)))
    assert open_alerts(runtime) == [("payment_issue", True)]
    paid = run(runtime, store_id, order(updated=T0 + timedelta(minutes=2)))
    assert paid.outcome is Outcome.FORWARDING
    assert open_alerts(runtime) == [("payment_issue", False)]


def test_stale_delivery_never_moves_the_order_back(runtime: Runtime, store_id: int) -> None:
    run(runtime, store_id, order(updated=T0 + timedelta(minutes=10)))
    late = run(runtime, store_id, order(Payment.AWAITING, updated=T0))
    assert late.outcome is Outcome.STALE
    with runtime.db.read() as session:
        assert session.scalars(select(Order)).one().status == "processing"


def test_incomplete_address_holds_and_asks_the_customer_once(runtime: Runtime,
                                                             store_id: int) -> None:
    bad = replace(ADDRESS, postcode="1011")
    result = run(runtime, store_id, order(shipping_address=bad))
    assert (result.outcome, result.reason) == (Outcome.HELD, Reason.ADDRESS_NEEDS_CONFIRMATION)
    run(runtime, store_id, order(shipping_address=bad, updated=T0 + timedelta(minutes=1)))
    confirm = jobs(runtime, "notify.confirm_address")
    assert len(confirm) == 1
    assert confirm[0].payload["problems"] == ["postcode: not valid for this country"]
    fixed = run(runtime, store_id, order(updated=T0 + timedelta(minutes=2)))
    assert fixed.outcome is Outcome.FORWARDING


def test_unmapped_sku_holds_the_order(runtime: Runtime, store_id: int) -> None:
    lines = (OrderLine("l1", 1, sku="LAMP"), OrderLine("l9", 1, sku="UNKNOWN"))
    result = run(runtime, store_id, order(lines=lines))
    assert (result.outcome, result.reason) == (Outcome.HELD, Reason.UNMAPPED_SKU)
    with runtime.db.read() as session:
        assert "UNKNOWN" in session.scalars(select(Alert)).one().message


def test_inactive_supplier_hands_over_to_the_backup(runtime: Runtime, store_id: int) -> None:
    with runtime.db.write() as session:
        session.get_one(Supplier, 1).active = False
    run(runtime, store_id, order(lines=(OrderLine("l1", 1, sku="LAMP"),)))
    assert [j.payload["supplier_id"] for j in jobs(runtime, "supplier.forward")] == [3]


def test_cancelled_after_forwarding_is_withdrawn_from_each_supplier(runtime: Runtime,
                                                                    store_id: int) -> None:
    run(runtime, store_id, order())
    result = run(runtime, store_id, order(cancelled=True, updated=T0 + timedelta(hours=1)))
    assert result.outcome is Outcome.CANCELLED
    assert len(jobs(runtime, "supplier.cancel")) == 2
    run(runtime, store_id, order(cancelled=True, updated=T0 + timedelta(hours=2)))
    assert len(jobs(runtime, "supplier.cancel")) == 2
    with runtime.db.read() as session:
        assert session.scalars(select(Order)).one().status == "cancelled"


def test_domain_order_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        order(updated=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="quantity"):
        order(lines=(OrderLine("l1", 0, sku="LAMP"),))
