"""Parcels and their tracking events: store each event once, fold them into one status,
and queue a write-back to the store only when the status or the tracking number changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.carriers.detect import detect
from core.domain import CarrierEvent
from core.inputs import safe_link
from core.status import Reason, Status, StatusEvent, StatusState, apply_checked, rank
from integration.engine import bindings
from integration.jobs import alerts, outbox
from integration.storage.models import Order, Shipment, SupplierOrder, TrackingEvent

PARCEL = "parcel"
# A supplier order's status once parcels come: every line has left, or some are still to come.
SHIPPED = "shipped"
PARTIALLY_SHIPPED = "partially_shipped"
PARCEL_LOST_OR_RETURNING = (Reason.LOST, Reason.RETURN_TO_SENDER)
WRITEBACK_JOB = "store.writeback"
UNDELIVERED_NOTICE_JOB = "notify.undelivered"

# How soon to look at a parcel again, by status: often while things happen, rarely during
# the long haul, never once it is delivered or the order is gone.
NEXT_CHECK: dict[Status, timedelta | None] = {
    Status.INFO_RECEIVED: timedelta(hours=6),
    Status.IN_TRANSIT: timedelta(hours=12),
    Status.EXCEPTION: timedelta(hours=6),
    Status.OUT_FOR_DELIVERY: timedelta(hours=2),
    Status.READY_FOR_PICKUP: timedelta(hours=12),
    Status.UNDELIVERED: timedelta(hours=6),
    Status.DELIVERED: None,
    Status.CANCELLED: None,
    Status.REFUNDED: None,
}


@dataclass(frozen=True)
class ParcelUpdate:
    """What a supplier (push or poll) says about one parcel of one of its orders."""

    supplier_order_id: int
    parcel_ref: str
    tracking_number: str
    carrier: str | None = None
    tracking_url: str | None = None
    events: Sequence[CarrierEvent] = ()
    estimated_delivery_at: datetime | None = None
    # Whether every line of the supplier order has left now (the supplier's per-line report):
    # False keeps the order partly shipped however far this parcel gets. None: the supplier
    # reports nothing per line (a spreadsheet row), and a first parcel counts as the order.
    all_lines_shipped: bool | None = None
    # The supplier order's lines in this parcel ({"line_id", "quantity"}); None = all of
    # them (a supplier that does not say, or an order in one parcel).
    lines: Sequence[Mapping[str, Any]] | None = None


def parcel_lines(order_lines: Sequence[Mapping[str, Any]], items: Sequence[tuple[str, int]]
                 ) -> list[dict[str, Any]] | None:
    """Which of a supplier order's lines one parcel holds, from the supplier's list of
    (product id or supplier SKU, quantity); None when it names none of them."""
    lines: list[dict[str, Any]] = []
    for ref, quantity in items:
        for line in order_lines:
            if ref and ref in (str(line.get("supplier_product_id") or ""),
                               str(line.get("supplier_sku") or "")):
                taken = min(int(quantity), int(line.get("quantity", 0)))
                if taken > 0:
                    lines.append({"line_id": line["line_id"], "quantity": taken})
                break
    return lines or None


@dataclass(frozen=True)
class ParcelChange:
    shipment_id: int
    created: bool
    status_changed: bool
    number_changed: bool
    status: Status


def apply_parcel_update(session: Session, update: ParcelUpdate, now: datetime) -> ParcelChange:
    supplier_order = session.get(SupplierOrder, update.supplier_order_id)
    if supplier_order is None:
        raise LookupError(f"supplier order {update.supplier_order_id} does not exist")
    binding = bindings.find(session, bindings.SUPPLIER, supplier_order.supplier_id, PARCEL,
                            update.parcel_ref)
    shipment = session.get(Shipment, binding.internal_id) if binding else None
    created = shipment is None
    detection = detect(update.tracking_number, stated_carrier=update.carrier)
    # One name per carrier, whatever the supplier calls it ("china-post", "China Post").
    carrier = detection.carrier.name if detection.carrier else (update.carrier or "")
    # A supplier's link reaches customers and stores: only http(s) (never javascript:).
    url = safe_link(update.tracking_url) or detection.tracking_url
    if shipment is None:
        shipment = Shipment(
            order_id=supplier_order.order_id, supplier_order_id=supplier_order.id,
            carrier=carrier, tracking_number=detection.number, tracking_url=url,
            status=Status.INFO_RECEIVED, status_epoch=0, created_at=now, updated_at=now,
            lines=list(update.lines) if update.lines else None,
        )
        session.add(shipment)
        session.flush()
        bindings.bind(session, bindings.SUPPLIER, supplier_order.supplier_id, PARCEL,
                      update.parcel_ref, shipment.id, now)
    lines_moved = _record_lines_shipped(supplier_order, update.all_lines_shipped, created)
    number_changed = not created and detection.number != shipment.tracking_number
    if number_changed:
        # A last-mile carrier took over with its own number: same parcel, new number.
        shipment.tracking_number, shipment.carrier, shipment.tracking_url = (
            detection.number, carrier, url)
    if update.estimated_delivery_at is not None:
        shipment.estimated_delivery_at = update.estimated_delivery_at
    status_changed = _apply_events(session, shipment, update.events, now)
    shipment.updated_at = now
    delay = NEXT_CHECK.get(Status(shipment.status))
    shipment.next_check_at = now + delay if delay is not None else None
    if created or number_changed or status_changed:
        _queue_writeback(session, shipment, now, "number" if number_changed else "status")
    if status_changed:
        _after_status_change(session, shipment, now)
    elif created or lines_moved:
        _roll_up_order_status(session, session.get_one(Order, shipment.order_id), now)
    return ParcelChange(shipment.id, created, status_changed, number_changed,
                        Status(shipment.status))


def _record_lines_shipped(supplier_order: SupplierOrder, all_lines_shipped: bool | None,
                          new_parcel: bool) -> bool:
    """Set the supplier order shipped or partly shipped as its supplier reports its lines;
    True when that changed. Without a report a first parcel marks it shipped, and a later
    parcel leaves what the supplier said before."""
    if all_lines_shipped is None:
        if not new_parcel or supplier_order.status in (SHIPPED, PARTIALLY_SHIPPED):
            return False
        all_lines_shipped = True
    wanted = SHIPPED if all_lines_shipped else PARTIALLY_SHIPPED
    if supplier_order.status in ("cancelled", wanted):
        return False
    supplier_order.status = wanted
    return True


def _current_state(shipment: Shipment) -> StatusState | None:
    if shipment.status_happened_at is None:
        return None
    return StatusState(status=Status(shipment.status),
                       reason=Reason(shipment.reason) if shipment.reason else None,
                       happened_at=shipment.status_happened_at, epoch=shipment.status_epoch,
                       key=f"shipment:{shipment.id}")


def _apply_events(session: Session, shipment: Shipment, events: Sequence[CarrierEvent],
                  now: datetime) -> bool:
    known = set(session.scalars(select(TrackingEvent.event_key).where(
        TrackingEvent.shipment_id == shipment.id)))
    state = _current_state(shipment)
    changed = False
    for event in sorted(events, key=lambda e: (e.happened_at, e.key)):
        if event.key in known:
            continue
        known.add(event.key)
        session.add(TrackingEvent(
            shipment_id=shipment.id, event_key=event.key, status=event.status,
            reason=event.reason, epoch=shipment.status_epoch, raw_status=event.raw_status,
            message=event.message, location=event.location, happened_at=event.happened_at,
            created_at=now))
        state, moved = apply_checked(state, StatusEvent(
            event.status, event.reason, event.happened_at, event.key, shipment.status_epoch))
        changed |= moved
        shipment.last_event_at = max(filter(None, (shipment.last_event_at, event.happened_at)))
    if state is not None and changed:
        shipment.status, shipment.reason = state.status, state.reason
        shipment.status_happened_at = state.happened_at
        if state.status is Status.DELIVERED:
            shipment.delivered_at = state.happened_at
    return changed


def _queue_writeback(session: Session, shipment: Shipment, now: datetime, what: str) -> None:
    key = (f"writeback:{shipment.id}:{shipment.status_epoch}:{shipment.status}:"
           f"{shipment.reason or ''}:{shipment.tracking_number}")
    order = session.get_one(Order, shipment.order_id)
    outbox.enqueue(session, WRITEBACK_JOB, key, {"shipment_id": shipment.id, "change": what},
                   now, store_id=order.store_id, serial_key=f"shipment:{shipment.id}")


def _after_status_change(session: Session, shipment: Shipment, now: datetime) -> None:
    order = session.get_one(Order, shipment.order_id)
    if shipment.status == Status.UNDELIVERED:
        reason = shipment.reason or "unknown"
        alerts.raise_alert(
            session, alerts.UNDELIVERED, f"shipment:{shipment.id}:{shipment.status_epoch}",
            f"Order {order.number}: parcel {shipment.tracking_number} could not be delivered "
            f"({reason.replace('_', ' ')}).", now, store_id=order.store_id, order_id=order.id,
            shipment_id=shipment.id)
        if shipment.reason in (Reason.INVALID_ADDRESS, Reason.INCOMPLETE_ADDRESS):
            outbox.enqueue(session, UNDELIVERED_NOTICE_JOB,
                           f"undelivered:{shipment.id}:{shipment.status_epoch}",
                           {"shipment_id": shipment.id}, now, store_id=order.store_id)
    if shipment.status == Status.EXCEPTION and shipment.reason in PARCEL_LOST_OR_RETURNING:
        what = ("was lost by the carrier" if shipment.reason == Reason.LOST
                else "is going back to the sender")
        alerts.raise_alert(
            session, str(shipment.reason), f"shipment:{shipment.id}:{shipment.status_epoch}",
            f"Order {order.number}: parcel {shipment.tracking_number} {what}. Offer the "
            "customer a reshipment or a refund.", now, store_id=order.store_id,
            order_id=order.id, shipment_id=shipment.id)
    alerts.resolve_alerts(session, order.id, (alerts.NO_TRACKING, alerts.STUCK_IN_TRANSIT), now)
    _roll_up_order_status(session, order, now)


def _roll_up_order_status(session: Session, order: Order, now: datetime) -> None:
    """The order shows its least advanced parcel, once every line of every supplier order
    has left; until then it stays as it is (the store shows it partly shipped), touched so
    that the next status flush looks at it."""
    if order.status in (Status.CANCELLED, Status.REFUNDED):
        return
    parcels = list(session.scalars(select(Shipment).where(Shipment.order_id == order.id)))
    waiting = session.scalar(select(SupplierOrder.id).where(
        SupplierOrder.order_id == order.id, SupplierOrder.status != SHIPPED,
        SupplierOrder.status != "cancelled"))
    if not parcels:
        return
    if waiting is not None:
        order.updated_at = now
        return
    least = min(parcels, key=lambda s: rank(Status(s.status),
                                            Reason(s.reason) if s.reason else None))
    order.status, order.reason, order.updated_at = least.status, least.reason, now
