"""What the owner can do from the needs-attention queue and the order page.

No Flask here: each function takes a session in the caller's transaction, changes state the
way the engine would, records who did it in the audit log, and queues any outside work in the
outbox (never calls out itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.carriers.detect import detect
from integration import alerts, bindings, outbox
from integration.audit import record_audit
from integration.domain import Address, OrderLine, Payment, StoreOrder
from integration.engine.orders import FORWARD_JOB, ORDER, decide
from integration.engine.tracking import NEXT_CHECK, WRITEBACK_JOB, _roll_up_order_status
from integration.status import Status, correction
from integration.storage.models import (
    Alert,
    Order,
    OutboxJob,
    Shipment,
    SupplierOrder,
    TrackingEvent,
)


class ActionError(ValueError):
    """The action cannot be done now; the message tells the owner why and what to do."""


def _order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise ActionError(f"Order {order_id} does not exist (it may have been deleted).")
    return order


def forward_again(session: Session, order_id: int, now: datetime, actor: str) -> int:
    """Send the order's rejected (or stuck) supplier orders again, e.g. after a restock.

    Returns how many supplier orders were queued. The open alert stays open until the
    supplier accepts, so a second refusal is not lost.
    """
    order = _order(session, order_id)
    if order.status in (Status.CANCELLED, Status.REFUNDED):
        raise ActionError(f"Order {order.number} is {order.status}: there is nothing to send.")
    rows = list(session.scalars(select(SupplierOrder).where(
        SupplierOrder.order_id == order.id, SupplierOrder.status.in_(("rejected", "queued")))))
    if not rows:
        raise ActionError(f"Order {order.number} has no supplier order waiting to be sent: "
                          "use \"Check again\" to route it, or it was already accepted.")
    queued = 0
    for row in rows:
        job = session.scalar(select(OutboxJob).where(
            OutboxJob.idempotency_key == row.idempotency_key,
            OutboxJob.kind == FORWARD_JOB))
        if job is None or not outbox.replay(session, job.id, now):
            continue  # running right now: it is being sent already
        row.status, row.reason, row.last_error = "queued", None, None
        queued += 1
    if queued and order.status == Status.PENDING:
        order.status, order.reason, order.updated_at = Status.PROCESSING, None, now
    record_audit(session, now, actor, "order.forward_again", store_id=order.store_id,
                 subject=f"order {order.number}", details={"supplier_orders": queued})
    return queued


def _as_store_order(session: Session, order: Order, now: datetime) -> StoreOrder:
    external_id = bindings.external_id_of(session, bindings.STORE, order.store_id, ORDER,
                                          order.id) or str(order.id)
    try:
        payment = Payment(order.payment_status)
    except ValueError:
        payment = Payment.AWAITING
    return StoreOrder(
        external_id=external_id, number=order.number, email=order.email, payment=payment,
        updated_at=order.store_updated_at or now, customer_name=order.customer_name,
        currency=order.currency, total=order.total, placed_at=order.placed_at,
        lines=tuple(OrderLine(line.external_id, line.quantity, sku=line.sku,
                              product_id=line.product_external_id,
                              variant_id=line.variant_external_id, name=line.name,
                              price=line.price) for line in order.lines),
        shipping_address=Address(
            name=order.ship_name, company=order.ship_company, address1=order.ship_address1,
            address2=order.ship_address2, city=order.ship_city, province=order.ship_province,
            postcode=order.ship_zip, country=order.ship_country, phone=order.ship_phone),
    )


def recheck(session: Session, order_id: int, now: datetime, actor: str) -> str:
    """Run the engine's rules again on a held order (after adding a SKU mapping, a payment
    arriving, an address fix). Returns the outcome."""
    order = _order(session, order_id)
    if order.status != Status.PENDING:
        raise ActionError(f"Order {order.number} is not on hold ({order.status}).")
    result = decide(session, order, _as_store_order(session, order, now), now)
    record_audit(session, now, actor, "order.recheck", store_id=order.store_id,
                 subject=f"order {order.number}", details={"outcome": result.outcome.value})
    return result.outcome.value


ADDRESS_FIELDS = ("ship_name", "ship_company", "ship_address1", "ship_address2", "ship_city",
                  "ship_province", "ship_zip", "ship_country", "ship_phone")


@dataclass(frozen=True)
class AddressFix:
    ship_name: str
    ship_company: str
    ship_address1: str
    ship_address2: str
    ship_city: str
    ship_province: str
    ship_zip: str
    ship_country: str
    ship_phone: str


def correct_address(session: Session, order_id: int, fix: AddressFix, now: datetime,
                    actor: str) -> str:
    """Store the confirmed address and send the order on: to the supplier that refused it, or
    through the rules again when it never left."""
    order = _order(session, order_id)
    if order.status != Status.PENDING:
        raise ActionError(f"Order {order.number} was already sent to the supplier: ask the "
                          "supplier or carrier to change the address instead.")
    changed = []
    for name in ADDRESS_FIELDS:
        value = getattr(fix, name).strip()
        if name == "ship_country":
            value = value.upper()
        if getattr(order, name) != value:
            setattr(order, name, value)
            changed.append(name)
    order.updated_at = now
    # Field names only: the address itself is personal data and stays out of the audit log.
    record_audit(session, now, actor, "order.address_corrected", store_id=order.store_id,
                 subject=f"order {order.number}", details={"fields": changed})
    alerts.resolve_alerts(session, order.id, (alerts.ADDRESS,), now)
    rejected = session.scalar(select(SupplierOrder.id).where(
        SupplierOrder.order_id == order.id, SupplierOrder.status == "rejected"))
    if rejected is not None:
        forward_again(session, order.id, now, actor)
        return "forwarding"
    return recheck(session, order.id, now, actor)


def dismiss_alert(session: Session, alert_id: int, note: str, now: datetime,
                  actor: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ActionError("That alert does not exist any more.")
    if alert.resolved_at is not None:
        raise ActionError("That alert was already resolved.")
    alert.resolved_at = now
    record_audit(session, now, actor, "alert.resolved", store_id=alert.store_id,
                 subject=f"alert {alert.id} ({alert.kind})",
                 details={"note": note.strip()[:500]} if note.strip() else {})
    return alert


def replay_job(session: Session, job_id: int, now: datetime, actor: str) -> None:
    job = session.get(OutboxJob, job_id)
    if job is None:
        raise ActionError("That job does not exist any more (finished jobs are pruned).")
    if not outbox.replay(session, job_id, now):
        raise ActionError("That job is running right now: wait a moment and reload.")
    record_audit(session, now, actor, "job.replayed", store_id=job.store_id,
                 subject=f"job {job.id} ({job.kind})")


def correct_tracking(session: Session, shipment_id: int, tracking_number: str,
                     carrier: str, now: datetime, actor: str) -> Shipment:
    """Replace a parcel's tracking number or carrier: an explicit correction.

    The status model's correction epoch lets the parcel start again from "shipped" (moving
    backwards on purpose); events of the old number stay in history under the old epoch.
    PROPOSAL: this belongs in integration/engine/tracking.py (as `correct_parcel`), beside
    `apply_parcel_update`, whose private helpers it reuses.
    """
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise ActionError("That parcel does not exist any more.")
    number = tracking_number.strip()
    if not number or len(number) > 100:
        raise ActionError("Enter the new tracking number (up to 100 characters).")
    detection = detect(number, stated_carrier=carrier.strip() or None)
    name = carrier.strip() or (detection.carrier.name if detection.carrier else "")
    if (detection.number, name) == (shipment.tracking_number, shipment.carrier):
        raise ActionError("That is the parcel's current tracking number and carrier.")
    event = correction(shipment.status_epoch, Status.INFO_RECEIVED, None, now,
                       key=f"correction:{shipment.id}:{shipment.status_epoch + 1}")
    previous = shipment.tracking_number
    shipment.tracking_number, shipment.carrier = detection.number, name
    shipment.tracking_url = detection.tracking_url
    shipment.status, shipment.reason = event.status, event.reason
    shipment.status_epoch, shipment.status_happened_at = event.epoch, event.happened_at
    shipment.delivered_at, shipment.updated_at = None, now
    delay = NEXT_CHECK.get(event.status) or timedelta(hours=6)
    shipment.next_check_at = now + delay
    session.add(TrackingEvent(
        shipment_id=shipment.id, event_key=event.key, status=event.status, reason=None,
        epoch=event.epoch, raw_status="corrected", message=f"Tracking number changed to "
        f"{detection.number}" + (f" ({name})" if name else ""), location="",
        happened_at=now, created_at=now))
    order = session.get_one(Order, shipment.order_id)
    outbox.enqueue(session, WRITEBACK_JOB,
                   f"writeback:{shipment.id}:{shipment.status_epoch}:{shipment.status}:"
                   f"{shipment.reason or ''}:{shipment.tracking_number}",
                   {"shipment_id": shipment.id, "change": "number"}, now,
                   store_id=order.store_id, serial_key=f"shipment:{shipment.id}")
    alerts.resolve_alerts(session, order.id, (alerts.UNDELIVERED, alerts.STUCK_IN_TRANSIT,
                                              alerts.NO_TRACKING), now)
    _roll_up_order_status(session, order, now)
    record_audit(session, now, actor, "shipment.tracking_corrected", store_id=order.store_id,
                 subject=f"order {order.number}",
                 details={"from": previous, "to": detection.number, "carrier": name})
    return shipment
