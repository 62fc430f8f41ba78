"""What a tracking service says about a number, applied to its parcel (push and poll alike)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.carriers.registry import CARRIERS
from connectors.tracking.base import TrackedParcel
from core.status import Status
from integration.base.config import Settings
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.jobs import alerts
from integration.kernel.runtime import Runtime
from integration.storage.models import Order, Shipment, TrackedNumber

WAITING, REGISTERED, REJECTED, STOP_PENDING, STOPPED = (
    "waiting", "registered", "rejected", "stop_pending", "stopped")
TRACKING_PROBLEM = "tracking_problem"
FINAL = frozenset({Status.DELIVERED, Status.CANCELLED, Status.REFUNDED})
# Parcels where something happens soon are polled (as a fallback) four times as often.
BUSY = frozenset({Status.OUT_FOR_DELIVERY, Status.READY_FOR_PICKUP, Status.UNDELIVERED,
                  Status.EXCEPTION})


def next_poll(settings: Settings, status: Status, now: datetime,
              service: str = "") -> datetime | None:
    """The poll's cadence by status. For a service that pushes it is the fallback that
    catches lost pushes; DHL never pushes, so there it is the way news arrives (within DHL's
    advice of at most 10 looks per shipment a day)."""
    if status in FINAL:
        return None
    if service == "dhl":
        hours = settings.tracking.dhl_poll_hours
        return now + timedelta(hours=hours / 2 if status in BUSY else hours)
    hours = settings.tracking.poll_after_hours
    return now + timedelta(hours=hours / 4 if status in BUSY else hours)


def _carrier_name(carrier_id: str | None, fallback: str) -> str | None:
    if carrier_id and carrier_id in CARRIERS:
        return CARRIERS[carrier_id].name
    return fallback or None


def apply_tracked(session: Session, settings: Settings, row: TrackedNumber,
                  parcel: TrackedParcel, now: datetime) -> Status:
    """Fold the service's events into the parcel; the last-mile number, once known, becomes
    the parcel's number; the ETA is taken when given. Returns the parcel's status."""
    shipment = session.get_one(Shipment, row.shipment_id)
    if parcel.last_mile_number:
        number = parcel.last_mile_number
        carrier = _carrier_name(parcel.last_mile_carrier, parcel.last_mile_carrier_name)
    else:
        # An older push (from before the handover) arriving late keeps the last-mile number.
        number = shipment.tracking_number or row.number
        carrier = _carrier_name(parcel.carrier or row.carrier, parcel.carrier_name)
    change = apply_parcel_update(session, ParcelUpdate(
        row.supplier_order_id, row.parcel_ref, number, carrier=carrier, events=parcel.events,
        estimated_delivery_at=parcel.estimated_delivery_at), now)
    row.last_update_at, row.updated_at = now, now
    if parcel.service_carrier:
        row.service_carrier = parcel.service_carrier
    order = session.get_one(Order, shipment.order_id)
    if parcel.expired:
        alerts.raise_alert(
            session, alerts.STUCK_IN_TRANSIT, f"shipment:{shipment.id}:{row.service}-expired",
            f"Order {order.number}: parcel {row.number} has had no carrier news for so long "
            f"that {row.service} stopped tracking it. Ask the supplier, or offer the customer "
            "a reshipment or a refund.", now, store_id=order.store_id, order_id=order.id,
            shipment_id=shipment.id)
    if parcel.invalid_number:
        row.problem_code, row.problem = "invalid_number", (
            f"the carrier does not know {row.number}: correct the carrier or the number")
        alerts.raise_alert(
            session, TRACKING_PROBLEM, f"tracked:{row.id}:invalid_number",
            f"Order {order.number}: the carrier does not recognise tracking number "
            f"{row.number}. Correct the carrier (or the number).", now,
            store_id=order.store_id, order_id=order.id, shipment_id=shipment.id)
    if change.status in FINAL and row.state == REGISTERED:
        row.state = STOP_PENDING  # nothing more to learn: stop tracking it
    row.next_poll_at = next_poll(settings, change.status, now, row.service) \
        if row.state == REGISTERED \
        else None
    return change.status


def next_batch(runtime: Runtime, service_name: str, state: str,
               size: int) -> list[TrackedNumber]:
    """The next `size` numbers of this service in `state`, oldest first, detached from the
    session (a batch call to the service runs between reading them and writing the answer)."""
    with runtime.db.read() as session:
        rows = list(session.scalars(select(TrackedNumber).where(
            TrackedNumber.service == service_name, TrackedNumber.state == state)
            .order_by(TrackedNumber.id).limit(size)))
        for row in rows:
            session.expunge(row)
    return rows
