"""Order intake: upsert a store's order, then decide what it needs.

The importer is a template (after OCA's connector): skip stale -> map -> create/update ->
bind -> decide. Deciding is idempotent: running it twice on the same order changes nothing
and queues nothing new (every job and alert carries a deterministic key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from core.domain import Payment, StoreOrder
from core.status import Reason, Status, rank
from integration.engine import bindings
from integration.engine.address_check import check_address
from integration.engine.routing import Mapping, RoutedLine, route
from integration.jobs import alerts, outbox
from integration.storage import plain
from integration.storage.models import (
    Binding,
    Order,
    OrderLine,
    SkuMapping,
    Supplier,
    SupplierOrder,
    table_of,
)

ORDER = bindings.ORDER
FORWARD_JOB = "supplier.forward"
STORE_STATUS_LENGTH = 40  # orders.store_status is a String(40)
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
    if binding is None:
        return _import_new(session, store_id, incoming, now)
    order = session.get(Order, binding.internal_id)
    if order is None:
        raise LookupError(f"binding {binding.id} points at a missing order")
    if binding.external_updated_at and incoming.updated_at <= binding.external_updated_at:
        return ImportResult(order.id, Outcome.STALE)
    binding.external_updated_at = incoming.updated_at
    binding.synced_at = now
    _copy_fields(order, incoming, now)
    session.flush()
    return decide(session, order, incoming, now)


_NEW_ORDER = insert(table_of(Order)).returning(table_of(Order).c.id)
_NEW_LINES = insert(table_of(OrderLine))
_NEW_BINDING = insert(table_of(Binding))
_NEW_SUPPLIER_ORDER = insert(table_of(SupplierOrder))


def _import_new(session: Session, store_id: int, incoming: StoreOrder,
                now: datetime) -> ImportResult:
    """An order's first import, the hot path: plain rows, no ORM objects. The order is
    inserted with its decided status, its lines in one statement, then its binding: a racing
    first import of the same order fails there (IntegrityError, retried, then finds it)."""
    common, ship = _order_fields(incoming)
    withdrawn = _withdrawn_status(incoming)
    if withdrawn is not None:
        verdict = _Verdict(withdrawn, outcome=Outcome.CANCELLED)
    else:
        verdict = _judge(session, store_id, incoming, incoming.number, ship["ship_country"])
    order_id: int = plain.run(session, _NEW_ORDER, {
        **common, **ship, "store_id": store_id, "status": verdict.status,
        "reason": verdict.reason, "status_epoch": 0,
        "store_status": incoming.store_status[:STORE_STATUS_LENGTH]
        if incoming.store_status else None,
        "store_status_at": incoming.updated_at if incoming.store_status else None,
        "created_at": now, "updated_at": now}).scalar_one()
    if incoming.lines:
        plain.run(session, _NEW_LINES,
                  [{**line, "order_id": order_id} for line in _line_fields(incoming)])
    plain.run(session, _NEW_BINDING, {
        "owner_type": bindings.STORE, "owner_id": store_id, "kind": ORDER,
        "external_id": incoming.external_id, "internal_id": order_id,
        "external_updated_at": incoming.updated_at, "synced_at": now})
    return _act(session, order_id, store_id, incoming.number, verdict, now, new=True)


def _order_fields(incoming: StoreOrder) -> tuple[dict[str, Any], dict[str, Any]]:
    """The order's columns from the store's order: those always copied, and the shipping
    address (kept as sent once the order is forwarded)."""
    address = incoming.shipping_address
    common = {
        "number": incoming.number, "email": incoming.email,
        "customer_name": incoming.customer_name or address.name,
        "payment_status": incoming.payment, "currency": incoming.currency,
        "total": incoming.total, "placed_at": incoming.placed_at,
        "store_updated_at": incoming.updated_at,
    }
    ship = {
        "ship_name": address.name, "ship_company": address.company,
        "ship_address1": address.address1, "ship_address2": address.address2,
        "ship_city": address.city, "ship_province": address.province,
        "ship_zip": address.postcode, "ship_country": address.country.upper(),
        "ship_phone": address.phone,
    }
    return common, ship


def _line_fields(incoming: StoreOrder) -> list[dict[str, Any]]:
    return [{"external_id": line.external_id, "sku": line.sku, "name": line.name,
             "product_external_id": line.product_id, "variant_external_id": line.variant_id,
             "quantity": line.quantity, "price": line.price} for line in incoming.lines]


def _copy_fields(order: Order, incoming: StoreOrder, now: datetime) -> None:
    common, ship = _order_fields(incoming)
    for name, value in common.items():
        setattr(order, name, value)
    if incoming.store_status:
        remember_store_status(order, incoming.store_status, incoming.updated_at)
    order.updated_at = now
    if _forwarded(order):
        return  # what the supplier already has stays as it was sent
    for name, value in ship.items():
        setattr(order, name, value)
    order.lines = [OrderLine(**line) for line in _line_fields(incoming)]


def remember_store_status(order: Order, status: str, modified: datetime | None) -> None:
    """Remember the status the store showed at `modified` (its own modification time), unless
    DropTrack already saw a newer state of the order (a delayed webhook is older news)."""
    if modified is not None and order.store_status_at is not None \
            and modified < order.store_status_at:
        return
    order.store_status = status[:STORE_STATUS_LENGTH]
    order.store_status_at = modified


def _forwarded(order: Order) -> bool:
    return order.id is not None and rank(Status(order.status)) >= rank(Status.PROCESSING) and \
        order.status not in (Status.CANCELLED, Status.REFUNDED)


def _set_status(order: Order, status: Status, reason: Reason | None, now: datetime) -> None:
    order.status = status
    order.reason = reason
    order.updated_at = now


@dataclass(frozen=True)
class _Verdict:
    """What an order needs: its status and reason, the owner's alert when it is held, the
    address problems to ask the customer about, the supplier orders to queue."""
    status: Status
    reason: Reason | None = None
    message: str = ""
    problems: tuple[str, ...] = ()
    by_supplier: dict[int, list[RoutedLine]] = field(default_factory=dict)
    outcome: Outcome = Outcome.HELD


def decide(session: Session, order: Order, incoming: StoreOrder,
           now: datetime) -> ImportResult:
    """Decide for an order already stored (a re-import, an owner's action)."""
    withdrawn = _withdrawn_status(incoming)
    if withdrawn is not None:
        return _withdraw(session, order, withdrawn, now)
    if Status(order.status) in (Status.CANCELLED, Status.REFUNDED):
        return ImportResult(order.id, Outcome.UNCHANGED)
    if _forwarded(order):
        return ImportResult(order.id, Outcome.UNCHANGED)
    verdict = _judge(session, order.store_id, incoming, order.number, order.ship_country)
    _set_status(order, verdict.status, verdict.reason, now)
    return _act(session, order.id, order.store_id, order.number, verdict, now, new=False)


def _judge(session: Session, store_id: int, incoming: StoreOrder, number: str,
           ship_country: str) -> _Verdict:
    """Held (unpaid, address to confirm, unmapped SKU) or forwarding, and to whom."""
    if incoming.payment is not Payment.PAID:
        return _Verdict(Status.PENDING, Reason.PAYMENT_ISSUE,
                        f"Order {number}: payment is {incoming.payment.value}; it will be "
                        "forwarded once paid.")
    problems = check_address(incoming.shipping_address)
    if problems:
        summary = "; ".join(str(problem) for problem in problems)
        return _Verdict(Status.PENDING, Reason.ADDRESS_NEEDS_CONFIRMATION,
                        f"Order {number}: shipping address needs confirmation ({summary}).",
                        problems=tuple(str(p) for p in problems))
    mappings, inactive = _routing_inputs(session, store_id)
    routing = route(incoming.lines, mappings, ship_country, unavailable=inactive)
    if not routing.complete:
        skus = ", ".join(line.sku or f"product {line.product_id}" for line in routing.unmapped)
        return _Verdict(Status.PENDING, Reason.UNMAPPED_SKU,
                        f"Order {number}: no supplier mapped for {skus}.")
    return _Verdict(Status.PROCESSING, by_supplier=routing.by_supplier,
                    outcome=Outcome.FORWARDING)


def _act(session: Session, order_id: int, store_id: int, number: str, verdict: _Verdict,
         now: datetime, new: bool) -> ImportResult:
    """What the verdict needs besides the order's status (set by the caller). `new`: the
    order was created in this transaction, so it has neither alerts to resolve nor supplier
    orders yet (two lookups fewer on an order's first import, the common case)."""
    if verdict.outcome is not Outcome.FORWARDING:
        if verdict.reason is not None:
            alerts.raise_alert(session, verdict.reason.value, f"order:{order_id}",
                               verdict.message, now, store_id=store_id, order_id=order_id)
        if verdict.problems:
            outbox.enqueue(session, CONFIRM_ADDRESS_JOB, f"confirm-address:{order_id}",
                           {"order_id": order_id, "problems": list(verdict.problems)}, now,
                           store_id=store_id)
        return ImportResult(order_id, verdict.outcome, verdict.reason)
    if not new:
        alerts.resolve_alerts(session, order_id, (alerts.PAYMENT_ISSUE, alerts.ADDRESS,
                                                  alerts.UNMAPPED_SKU), now)
    for supplier_id, lines in sorted(verdict.by_supplier.items()):
        key = f"forward:{store_id}:{order_id}:{supplier_id}"
        payload = [r.payload() for r in lines]
        if new or session.scalar(select(SupplierOrder.id).where(
                SupplierOrder.idempotency_key == key)) is None:
            plain.run(session, _NEW_SUPPLIER_ORDER, {
                "order_id": order_id, "supplier_id": supplier_id, "idempotency_key": key,
                "status": "queued", "created_at": now, "lines": payload})
        outbox.enqueue(session, FORWARD_JOB, key, {
            "order_id": order_id, "supplier_id": supplier_id, "lines": payload,
        }, now, store_id=store_id)
    return ImportResult(order_id, Outcome.FORWARDING)


def _withdrawn_status(incoming: StoreOrder) -> Status | None:
    """REFUNDED or CANCELLED when the store withdrew the order, else None."""
    if incoming.payment is Payment.REFUNDED:
        return Status.REFUNDED
    return Status.CANCELLED if incoming.cancelled else None


def _withdraw(session: Session, order: Order, status: Status, now: datetime) -> ImportResult:
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


_MAPPINGS, _SUPPLIERS = table_of(SkuMapping), table_of(Supplier)
_BACKUP = _SUPPLIERS.alias("backup")
_ROUTING_INPUTS = select(
    _MAPPINGS.c.supplier_id, _MAPPINGS.c.sku, _MAPPINGS.c.supplier_sku,
    _MAPPINGS.c.product_external_id, _MAPPINGS.c.variant_external_id,
    _MAPPINGS.c.destination_country, _MAPPINGS.c.backup_supplier_id,
    _MAPPINGS.c.supplier_product_id, _MAPPINGS.c.supplier_variant_id,
    _MAPPINGS.c.max_unit_price, _SUPPLIERS.c.active, _BACKUP.c.active.label("backup_active"),
).outerjoin(_SUPPLIERS, _SUPPLIERS.c.id == _MAPPINGS.c.supplier_id).outerjoin(
    _BACKUP, _BACKUP.c.id == _MAPPINGS.c.backup_supplier_id,
).where(_MAPPINGS.c.store_id == bindparam("store_id"))


def _routing_inputs(session: Session, store_id: int) -> tuple[list[Mapping], set[int]]:
    """The store's SKU mappings and which of their suppliers (primary or backup) are switched
    off, in one query. Columns, not SkuMapping objects: nothing is changed, so no mapper."""
    rows = plain.run(session, _ROUTING_INPUTS, {"store_id": store_id}).all()
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
