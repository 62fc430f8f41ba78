"""Order intake: upsert a store's order, then decide what it needs.

The importer is a template (after OCA's connector): skip stale -> map -> create/update ->
bind -> decide. Deciding is idempotent: running it twice on the same order changes nothing
and queues nothing new (every job and alert carries a deterministic key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from core.domain import Payment, StoreOrder
from core.status import Reason, Status, rank
from integration.engine import bindings
from integration.engine.address_check import check_address
from integration.engine.routing import Mapping, route
from integration.jobs import alerts, outbox
from integration.storage.models import Order, OrderLine, SkuMapping, Supplier, SupplierOrder

ORDER = bindings.ORDER
FORWARD_JOB = "supplier.forward"
CANCEL_JOB = "supplier.cancel"
CONFIRM_ADDRESS_JOB = "notify.confirm_address"


class Outcome(StrEnum):
    STALE = "stale"  # an older or identical version of what we already have
    HELD = "held"  # pending with a reason
    FORWARDING = "forwarding"  # supplier orders queued
    UNCHANGED = "unchanged"  # already forwarded or beyond; nothing to do
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ImportResult:
    order_id: int
    outcome: Outcome
    reason: Reason | None = None


def import_order(session: Session, store_id: int, incoming: StoreOrder,
                 now: datetime) -> ImportResult:
    binding = bindings.find(session, bindings.STORE, store_id, ORDER, incoming.external_id)
    if binding is not None:
        order = session.get(Order, binding.internal_id)
        if order is None:
            raise LookupError(f"binding {binding.id} points at a missing order")
        if binding.external_updated_at and incoming.updated_at <= binding.external_updated_at:
            return ImportResult(order.id, Outcome.STALE)
        binding.external_updated_at = incoming.updated_at
        binding.synced_at = now
    else:
        order = Order(store_id=store_id, status=Status.PENDING, status_epoch=0,
                      created_at=now, updated_at=now)
        session.add(order)
    _copy_fields(order, incoming, now)
    session.flush()
    if binding is None:
        bindings.bind(session, bindings.STORE, store_id, ORDER, incoming.external_id,
                      order.id, now, incoming.updated_at)
    return decide(session, order, incoming, now, new=binding is None)


def _copy_fields(order: Order, incoming: StoreOrder, now: datetime) -> None:
    address = incoming.shipping_address
    order.number = incoming.number
    order.email = incoming.email
    order.customer_name = incoming.customer_name or address.name
    order.payment_status = incoming.payment
    order.currency = incoming.currency
    order.total = incoming.total
    order.placed_at = incoming.placed_at
    order.store_updated_at = incoming.updated_at
    if incoming.store_status:
        remember_store_status(order, incoming.store_status, incoming.updated_at)
    order.updated_at = now
    if _forwarded(order):
        return  # what the supplier already has stays as it was sent
    order.ship_name = address.name
    order.ship_company = address.company
    order.ship_address1 = address.address1
    order.ship_address2 = address.address2
    order.ship_city = address.city
    order.ship_province = address.province
    order.ship_zip = address.postcode
    order.ship_country = address.country.upper()
    order.ship_phone = address.phone
    order.lines = [
        OrderLine(external_id=line.external_id, sku=line.sku, name=line.name,
                  product_external_id=line.product_id, variant_external_id=line.variant_id,
                  quantity=line.quantity, price=line.price)
        for line in incoming.lines
    ]


def remember_store_status(order: Order, status: str, modified: datetime | None) -> None:
    """Remember the status the store showed at `modified` (its own modification time), unless
    DropTrack already saw a newer state of the order (a delayed webhook is older news)."""
    if modified is not None and order.store_status_at is not None \
            and modified < order.store_status_at:
        return
    order.store_status = status[:40]
    order.store_status_at = modified


def _forwarded(order: Order) -> bool:
    return order.id is not None and rank(Status(order.status)) >= rank(Status.PROCESSING) and \
        order.status not in (Status.CANCELLED, Status.REFUNDED)


def _set_status(order: Order, status: Status, reason: Reason | None, now: datetime) -> None:
    order.status = status
    order.reason = reason
    order.updated_at = now


def decide(session: Session, order: Order, incoming: StoreOrder,
           now: datetime, new: bool = False) -> ImportResult:
    """`new`: the order was created in this transaction, so it has neither alerts to resolve
    nor supplier orders yet (two lookups fewer on an order's first import, the common case)."""
    if incoming.cancelled or incoming.payment is Payment.REFUNDED:
        return _withdraw(session, order, incoming, now)
    if Status(order.status) in (Status.CANCELLED, Status.REFUNDED):
        return ImportResult(order.id, Outcome.UNCHANGED)
    if _forwarded(order):
        return ImportResult(order.id, Outcome.UNCHANGED)
    if incoming.payment is not Payment.PAID:
        return _hold(session, order, Reason.PAYMENT_ISSUE, now,
                     f"Order {order.number}: payment is {incoming.payment.value}; it will be "
                     "forwarded once paid.")
    problems = check_address(incoming.shipping_address)
    if problems:
        summary = "; ".join(str(problem) for problem in problems)
        result = _hold(session, order, Reason.ADDRESS_NEEDS_CONFIRMATION, now,
                       f"Order {order.number}: shipping address needs confirmation ({summary}).")
        outbox.enqueue(session, CONFIRM_ADDRESS_JOB, f"confirm-address:{order.id}",
                       {"order_id": order.id, "problems": [str(p) for p in problems]}, now,
                       store_id=order.store_id)
        return result
    mappings, inactive = _routing_inputs(session, order.store_id)
    routing = route(incoming.lines, mappings, order.ship_country, unavailable=inactive)
    if not routing.complete:
        skus = ", ".join(line.sku or f"product {line.product_id}" for line in routing.unmapped)
        return _hold(session, order, Reason.UNMAPPED_SKU, now,
                     f"Order {order.number}: no supplier mapped for {skus}.")
    if not new:
        alerts.resolve_alerts(session, order.id, (alerts.PAYMENT_ISSUE, alerts.ADDRESS,
                                                  alerts.UNMAPPED_SKU), now)
    for supplier_id, lines in sorted(routing.by_supplier.items()):
        key = f"forward:{order.store_id}:{order.id}:{supplier_id}"
        if new or session.scalar(select(SupplierOrder.id).where(
                SupplierOrder.idempotency_key == key)) is None:
            session.add(SupplierOrder(
                order_id=order.id, supplier_id=supplier_id, idempotency_key=key,
                status="queued", created_at=now,
                lines=[r.payload() for r in lines]))
        outbox.enqueue(session, FORWARD_JOB, key, {
            "order_id": order.id, "supplier_id": supplier_id,
            "lines": [r.payload() for r in lines],
        }, now, store_id=order.store_id)
    _set_status(order, Status.PROCESSING, None, now)
    return ImportResult(order.id, Outcome.FORWARDING)


def _hold(session: Session, order: Order, reason: Reason, now: datetime,
          message: str) -> ImportResult:
    _set_status(order, Status.PENDING, reason, now)
    alerts.raise_alert(session, reason.value, f"order:{order.id}", message, now,
                       store_id=order.store_id, order_id=order.id)
    return ImportResult(order.id, Outcome.HELD, reason)


def _withdraw(session: Session, order: Order, incoming: StoreOrder,
              now: datetime) -> ImportResult:
    status = Status.REFUNDED if incoming.payment is Payment.REFUNDED else Status.CANCELLED
    if order.status == status:
        return ImportResult(order.id, Outcome.UNCHANGED)
    _set_status(order, status, None, now)
    supplier_orders = session.scalars(select(SupplierOrder).where(
        SupplierOrder.order_id == order.id, SupplierOrder.status != "cancelled"))
    for supplier_order in supplier_orders:
        outbox.enqueue(session, CANCEL_JOB, f"cancel:{supplier_order.idempotency_key}",
                       {"supplier_order_id": supplier_order.id}, now, store_id=order.store_id)
    return ImportResult(order.id, Outcome.CANCELLED)


def withdraw_deleted(session: Session, order: Order, now: datetime) -> ImportResult:
    """The store deleted the order: nothing more is forwarded or written for it, and what
    suppliers hold is cancelled, as for an order cancelled in the store."""
    if Status(order.status) in (Status.CANCELLED, Status.REFUNDED):
        return ImportResult(order.id, Outcome.UNCHANGED)
    _set_status(order, Status.CANCELLED, None, now)
    for supplier_order in session.scalars(select(SupplierOrder).where(
            SupplierOrder.order_id == order.id, SupplierOrder.status != "cancelled")):
        outbox.enqueue(session, CANCEL_JOB, f"cancel:{supplier_order.idempotency_key}",
                       {"supplier_order_id": supplier_order.id}, now, store_id=order.store_id)
    return ImportResult(order.id, Outcome.CANCELLED)


_BACKUP = aliased(Supplier)


def _routing_inputs(session: Session, store_id: int) -> tuple[list[Mapping], set[int]]:
    """The store's SKU mappings and which of their suppliers (primary or backup) are switched
    off, in one query. Columns, not SkuMapping objects: nothing is changed, so no mapper."""
    rows = session.execute(select(
        SkuMapping.supplier_id, SkuMapping.sku, SkuMapping.supplier_sku,
        SkuMapping.product_external_id, SkuMapping.variant_external_id,
        SkuMapping.destination_country, SkuMapping.backup_supplier_id,
        SkuMapping.supplier_product_id, SkuMapping.supplier_variant_id,
        SkuMapping.max_unit_price, Supplier.active, _BACKUP.active.label("backup_active"))
        .outerjoin(Supplier, Supplier.id == SkuMapping.supplier_id)
        .outerjoin(_BACKUP, _BACKUP.id == SkuMapping.backup_supplier_id)
        .where(SkuMapping.store_id == store_id)).all()
    mappings = [Mapping(supplier_id=row.supplier_id, sku=row.sku, supplier_sku=row.supplier_sku,
                        product_id=row.product_external_id, variant_id=row.variant_external_id,
                        destination_country=row.destination_country,
                        backup_supplier_id=row.backup_supplier_id,
                        supplier_product_id=row.supplier_product_id,
                        supplier_variant_id=row.supplier_variant_id,
                        max_unit_price=row.max_unit_price) for row in rows]
    inactive = {row.supplier_id for row in rows if row.active is False} | {
        row.backup_supplier_id for row in rows if row.backup_active is False}
    return mappings, inactive
