"""What the owner can do from the needs-attention queue and the order page.

No Flask here: each function takes a session in the caller's transaction, changes state the
way the engine would, records who did it in the audit log, and queues any outside work in the
outbox (never calls out itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectors.carriers.detect import detect
from core.domain import Address, OrderLine, Payment, StoreOrder
from core.status import Status, correction
from integration.accounts.audit import record_audit
from integration.engine import bindings
from integration.engine.address_check import check_address
from integration.engine.orders import CONFIRM_ADDRESS_JOB, FORWARD_JOB, ORDER, decide
from integration.engine.routing import Mapping, choose
from integration.engine.tracking import (
    NEXT_CHECK,
    UNDELIVERED_NOTICE_JOB,
    WRITEBACK_JOB,
    _roll_up_order_status,
)
from integration.jobs import alerts, outbox
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


# --- out of stock: the backup supplier, or a refund / variant offer ---------------------------

REPLACED = "replaced_by_backup"


def _store_mappings(session: Session, store_id: int) -> list[Mapping]:
    return [Mapping(supplier_id=row.supplier_id, sku=row.sku, supplier_sku=row.supplier_sku,
                    product_id=row.product_external_id, variant_id=row.variant_external_id,
                    destination_country=row.destination_country,
                    backup_supplier_id=row.backup_supplier_id)
            for row in session.scalars(select(SkuMapping).where(SkuMapping.store_id == store_id))]


def switch_to_backup(session: Session, order_id: int, now: datetime, actor: str) -> str:
    """Send what the supplier refused (out of stock, or any rejection) to each line's backup
    supplier from the SKU mappings, instead of the supplier that refused.

    The refused supplier order is closed (status "cancelled", reason "replaced_by_backup") and
    a new one is queued for the backup with `supplier.forward`, the way the engine routes an
    order. The alert stays open until the backup accepts. Returns the backup suppliers' names.
    PROPOSAL: this belongs in integration/engine/orders.py (as `reroute_to_backup`), next to
    `decide`, sharing its supplier-order creation.
    """
    order = _order(session, order_id)
    if order.status in (Status.CANCELLED, Status.REFUNDED):
        raise ActionError(f"Order {order.number} is {order.status}: there is nothing to send.")
    refused = list(session.scalars(select(SupplierOrder).where(
        SupplierOrder.order_id == order.id, SupplierOrder.status == "rejected")
        .order_by(SupplierOrder.id)))
    if not refused:
        raise ActionError(f"No supplier refused order {order.number}, so there is nothing to "
                          "switch: it was already accepted or is on its way.")
    mappings = _store_mappings(session, order.store_id)
    by_line = {line.external_id: line for line in order.lines}
    suppliers = {s.id: s for s in session.scalars(select(Supplier))}
    plan: list[tuple[SupplierOrder, dict[int, list[dict[str, object]]]]] = []
    for row in refused:
        groups: dict[int, list[dict[str, object]]] = {}
        for entry in row.lines:
            line = by_line.get(str(entry.get("line_id")))
            if line is None:
                raise ActionError(f"Order {order.number} changed since it was sent: use "
                                  "\"Check again\" on the order instead.")
            found = choose(OrderLine(line.external_id, line.quantity, sku=line.sku,
                                     product_id=line.product_external_id,
                                     variant_id=line.variant_external_id),
                           mappings, order.ship_country)
            what = line.sku or line.name or f"line {line.external_id}"
            backup_id = found.backup_supplier_id if found else None
            if backup_id is None or backup_id == row.supplier_id:
                raise ActionError(f"{what} has no backup supplier. Add one in SKU mappings "
                                  "(the backup_supplier column), or offer the customer a "
                                  "variant or a refund.")
            backup = suppliers.get(backup_id)
            if backup is None or not backup.active:
                name = backup.name if backup else f"supplier {backup_id}"
                raise ActionError(f"The backup supplier for {what}, {name}, is switched off. "
                                  "Switch it on under Suppliers first.")
            groups.setdefault(backup_id, []).append({
                "line_id": line.external_id, "quantity": int(str(entry.get("quantity"))),
                "supplier_sku": str(entry.get("supplier_sku") or line.sku or "")})
        plan.append((row, groups))
    names: list[str] = []
    for row, groups in plan:
        for backup_id, lines in sorted(groups.items()):
            key = f"forward:{order.store_id}:{order.id}:{backup_id}"
            if session.scalar(select(SupplierOrder.id).where(
                    SupplierOrder.idempotency_key == key)) is not None:
                key = f"{key}:from:{row.id}"  # the backup already ships other lines
            session.add(SupplierOrder(order_id=order.id, supplier_id=backup_id,
                                      idempotency_key=key, status="queued", created_at=now,
                                      lines=lines))
            outbox.enqueue(session, FORWARD_JOB, key, {
                "order_id": order.id, "supplier_id": backup_id, "lines": lines}, now,
                store_id=order.store_id)
            names.append(suppliers[backup_id].name)
        row.status, row.reason = "cancelled", REPLACED
    if order.status == Status.PENDING:
        order.status, order.reason, order.updated_at = Status.PROCESSING, None, now
    record_audit(session, now, actor, "order.switched_to_backup", store_id=order.store_id,
                 subject=f"order {order.number}",
                 details={"from": sorted({suppliers[r.supplier_id].name for r, _ in plan
                                          if r.supplier_id in suppliers}),
                          "to": sorted(set(names))})
    return ", ".join(sorted(set(names)))


OUTCOMES = {
    "refund": "Refunded the customer",
    "variant": "Offered the customer a variant",
    "reship": "Reshipped the order",
    "other": "Other",
}


def note_outcome(session: Session, alert_id: int, outcome: str, note: str, now: datetime,
                 actor: str) -> Alert:
    """What the owner did outside DropTrack (a refund in the store, a variant offered by
    e-mail): an audited note that closes the alert. The store's own refund still arrives by
    webhook and moves the order to "refunded"."""
    if outcome not in OUTCOMES:
        raise ActionError("Choose what you did: refund, variant offered, reshipped or other.")
    if outcome == "other" and not note.strip():
        raise ActionError("Write a short note about what you did, so it is on record.")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ActionError("That alert does not exist any more.")
    if alert.resolved_at is not None:
        raise ActionError("That alert was already resolved.")
    alert.resolved_at = now
    order = session.get(Order, alert.order_id) if alert.order_id else None
    record_audit(session, now, actor, "order.outcome_noted", store_id=alert.store_id,
                 subject=f"order {order.number}" if order else f"alert {alert.id}",
                 details={"alert": alert.kind, "outcome": outcome,
                          **({"note": note.strip()[:500]} if note.strip() else {})})
    return alert


# --- customer messages ------------------------------------------------------------------------


def _waiting(session: Session, kind: str, prefix: str) -> bool:
    return session.scalar(select(OutboxJob.id).where(
        OutboxJob.kind == kind,
        or_(OutboxJob.idempotency_key == prefix, OutboxJob.idempotency_key.like(f"{prefix}:%")),
        OutboxJob.state.in_((outbox.PENDING, outbox.RUNNING)))) is not None


def resend_message(session: Session, alert_id: int, now: datetime, actor: str) -> str:
    """Queue the customer's message again with a new idempotency key: "confirm your address"
    for an address alert, "we could not deliver" for an undelivered parcel. Returns which."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.order_id is None:
        raise ActionError("That alert does not exist any more.")
    order = _order(session, alert.order_id)
    if not order.email:
        raise ActionError(f"Order {order.number} has no e-mail address: contact the customer "
                          "another way (phone, the store's messages).")
    stamp = f"{now:%Y%m%dT%H%M%S%f}"
    if alert.kind == alerts.ADDRESS:
        prefix = f"confirm-address:{order.id}"
        if _waiting(session, CONFIRM_ADDRESS_JOB, prefix):
            raise ActionError("The address message is already waiting to be sent.")
        original = session.scalar(select(OutboxJob).where(OutboxJob.idempotency_key == prefix))
        problems = original.payload.get("problems") if original is not None else None
        if not isinstance(problems, list):
            problems = [str(p) for p in check_address(Address(
                name=order.ship_name, company=order.ship_company,
                address1=order.ship_address1, address2=order.ship_address2,
                city=order.ship_city, province=order.ship_province, postcode=order.ship_zip,
                country=order.ship_country, phone=order.ship_phone))]
        outbox.enqueue(session, CONFIRM_ADDRESS_JOB, f"{prefix}:resend:{stamp}",
                       {"order_id": order.id, "problems": problems}, now,
                       store_id=order.store_id)
        what = "the request to confirm the address"
    elif alert.kind == alerts.UNDELIVERED and alert.shipment_id is not None:
        shipment = session.get(Shipment, alert.shipment_id)
        if shipment is None:
            raise ActionError("That parcel does not exist any more.")
        prefix = f"undelivered:{shipment.id}"
        if _waiting(session, UNDELIVERED_NOTICE_JOB, prefix):
            raise ActionError("The undelivered message is already waiting to be sent.")
        outbox.enqueue(session, UNDELIVERED_NOTICE_JOB,
                       f"{prefix}:{shipment.status_epoch}:resend:{stamp}",
                       {"shipment_id": shipment.id}, now, store_id=order.store_id)
        what = "the undelivered-parcel message"
    else:
        raise ActionError("This alert has no customer message to send again.")
    record_audit(session, now, actor, "order.message_resent", store_id=order.store_id,
                 subject=f"order {order.number}", details={"alert": alert.kind})
    return what
