"""Timed sweeps that flag what needs a human: no tracking yet, stuck in transit.

Stuck follows the route: a parcel is stuck when it has had no carrier scan for the quiet
period AND has been on its way longer than its supplier's parcels to that country usually take
(the latest day of the delivery window the ETA model learns, integration/engine/eta.py). A
parcel delivered within its route's usual transit time is therefore never flagged.

Each sweep is idempotent: an alert's dedupe key makes a second run (or a second scheduler)
raise nothing new. Queries touch only live parcels (indexed by status), never history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.status import Reason, Status
from integration.engine import eta
from integration.jobs import alerts
from integration.storage.models import Order, Shipment, SupplierOrder

MOVING = (Status.INFO_RECEIVED, Status.IN_TRANSIT)
# Exceptions on the way (a delay, customs) still head for the customer; a parcel going back to
# the sender or lost is already an alert of its own, not "stuck".
STILL_ON_ITS_WAY = (Reason.DELAYED, Reason.CUSTOMS)
AWAITING_PARCEL = ("forwarded", "accepted")
BATCH = 500


def flag_no_tracking(session: Session, now: datetime, after: timedelta) -> int:
    """Supplier orders forwarded `after` ago that still have no parcel."""
    cutoff = now - after
    rows = session.execute(
        select(SupplierOrder, Order)
        .join(Order, Order.id == SupplierOrder.order_id)
        .where(SupplierOrder.status.in_(AWAITING_PARCEL), SupplierOrder.forwarded_at < cutoff)
        .where(~select(Shipment.id).where(
            Shipment.supplier_order_id == SupplierOrder.id).exists())
        .limit(BATCH)
    ).all()
    raised = 0
    for supplier_order, order in rows:
        days = (now - supplier_order.forwarded_at).days if supplier_order.forwarded_at else 0
        raised += alerts.raise_alert(
            session, alerts.NO_TRACKING, f"supplier_order:{supplier_order.id}",
            f"Order {order.number}: no tracking number {days} days after it was forwarded to "
            "the supplier. Ask the supplier for the tracking number.",
            now, store_id=order.store_id, order_id=order.id)
    return raised


def flag_stuck_in_transit(session: Session, now: datetime, after: timedelta) -> int:
    """Parcels with no carrier event for `after` that have also been on their way longer than
    their route usually takes (one alert per parcel and last event)."""
    cutoff = now - after
    raised = 0
    windows: dict[tuple[int | None, str], tuple[int, int]] = {}
    for shipment, order, supplier_id in _quiet_parcels(session, cutoff):
        route = (supplier_id, order.ship_country or "")
        if route not in windows:
            windows[route] = (eta.delivery_window(session, supplier_id, route[1])
                              if supplier_id is not None else eta.DEFAULT_WINDOW_DAYS)
        usual_days = windows[route][1]
        underway = now - shipment.created_at
        if underway <= timedelta(days=usual_days):
            continue  # quiet, but still within the route's usual transit time
        since = shipment.last_event_at or shipment.created_at
        raised += alerts.raise_alert(
            session, alerts.STUCK_IN_TRANSIT, f"shipment:{shipment.id}:{since.isoformat()}",
            f"Order {order.number}: parcel {shipment.tracking_number} has had no carrier "
            f"update for {(now - since).days} days and has been on its way for "
            f"{underway.days} days (this route usually takes up to {usual_days}). "
            "Check with the carrier or the supplier.",
            now, store_id=order.store_id, order_id=order.id, shipment_id=shipment.id)
    return raised


def _quiet_parcels(session: Session, cutoff: datetime
                   ) -> list[tuple[Shipment, Order, int | None]]:
    """Live parcels quiet since `cutoff`. Separate queries, each an index range on
    (status, last_event_at), so the cost follows live parcels, never delivered history."""
    quiet = or_(Shipment.last_event_at < cutoff,
                Shipment.last_event_at.is_(None) & (Shipment.created_at < cutoff))
    found: list[tuple[Shipment, Order, int | None]] = []
    for condition in (Shipment.status.in_(MOVING),
                      (Shipment.status == Status.EXCEPTION)
                      & Shipment.reason.in_(STILL_ON_ITS_WAY)):
        rows = session.execute(
            select(Shipment, Order, SupplierOrder.supplier_id)
            .join(Order, Order.id == Shipment.order_id)
            .outerjoin(SupplierOrder, SupplierOrder.id == Shipment.supplier_order_id)
            .where(condition, quiet).order_by(Shipment.last_event_at)
            .limit(BATCH - len(found))).all()
        found.extend((shipment, order, supplier_id) for shipment, order, supplier_id in rows)
        if len(found) >= BATCH:
            break
    return found
