"""Which supplier orders to ask about now: parcels whose next check is due, and forwarded
orders still waiting for a parcel. Queues one poll job per supplier order and due time, so
running the sweep twice (or on two schedulers) queues nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.engine.forwarding import POLL_JOB
from integration.jobs import outbox
from integration.storage.models import Order, Shipment, Supplier, SupplierOrder

BATCH = 1000


def queue_due_polls(session: Session, now: datetime, unshipped_every: timedelta) -> int:
    queued = 0
    due_parcels = session.execute(
        select(Shipment.supplier_order_id, Shipment.next_check_at, Order.store_id)
        .join(Order, Order.id == Shipment.order_id)
        .join(SupplierOrder, SupplierOrder.id == Shipment.supplier_order_id)
        .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
        .where(Shipment.next_check_at <= now, Supplier.active.is_(True))
        .order_by(Shipment.next_check_at).limit(BATCH)
    ).all()
    for supplier_order_id, next_check_at, store_id in due_parcels:
        due = next_check_at.isoformat() if next_check_at else "now"
        queued += outbox.enqueue(
            session, POLL_JOB, f"poll:{supplier_order_id}:{due}",
            {"supplier_order_id": supplier_order_id}, now, store_id=store_id,
            serial_key=f"supplier_order:{supplier_order_id}")
    bucket = int(now.timestamp() // unshipped_every.total_seconds())
    forwarded_before = now - unshipped_every
    waiting = session.execute(
        select(SupplierOrder.id, Order.store_id)
        .join(Order, Order.id == SupplierOrder.order_id)
        .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
        .where(SupplierOrder.status.in_(("forwarded", "awaiting_payment")),
               SupplierOrder.forwarded_at < forwarded_before,
               Supplier.active.is_(True))
        # (status, forwarded_at) is indexed: filter and order come from one index range.
        .order_by(SupplierOrder.forwarded_at, SupplierOrder.id).limit(BATCH)
    ).all()
    for supplier_order_id, store_id in waiting:
        queued += outbox.enqueue(
            session, POLL_JOB, f"poll:{supplier_order_id}:unshipped:{bucket}",
            {"supplier_order_id": supplier_order_id}, now, store_id=store_id,
            serial_key=f"supplier_order:{supplier_order_id}")
    return queued
