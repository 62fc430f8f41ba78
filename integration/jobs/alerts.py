"""Alerts for the owner: derived from state, raised once per dedupe key, resolved when fixed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.jobs import outbox
from integration.storage.models import Alert

OWNER_ALERT_JOB = "notify.owner_alert"

PAYMENT_ISSUE = "payment_issue"
OUT_OF_STOCK = "out_of_stock"
ADDRESS = "address_needs_confirmation"
UNMAPPED_SKU = "unmapped_sku"
NO_TRACKING = "no_tracking"
STUCK_IN_TRANSIT = "stuck_in_transit"
UNDELIVERED = "undelivered"
SUPPLIER_REJECTED = "supplier_rejected"


def raise_alert(session: Session, kind: str, dedupe_key: str, message: str, now: datetime,
                store_id: int | None = None, order_id: int | None = None,
                shipment_id: int | None = None) -> bool:
    """Open an alert unless one with this key exists (open or resolved). True when new."""
    key = f"{kind}:{dedupe_key}"
    if session.scalar(select(Alert.id).where(Alert.dedupe_key == key)) is not None:
        return False
    alert = Alert(kind=kind, dedupe_key=key, message=message, created_at=now,
                  store_id=store_id, order_id=order_id, shipment_id=shipment_id)
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return False
    # Tell the owner by e-mail too (the job does nothing when no owner address is set).
    outbox.enqueue(session, OWNER_ALERT_JOB, f"owner-alert:{key}", {"alert_id": alert.id}, now,
                   store_id=store_id)
    return True


def resolve_alerts(session: Session, order_id: int, kinds: tuple[str, ...],
                   now: datetime) -> int:
    """Mark an order's open alerts of these kinds resolved (the cause went away)."""
    rows = session.scalars(select(Alert).where(
        Alert.order_id == order_id, Alert.kind.in_(kinds), Alert.resolved_at.is_(None)))
    count = 0
    for alert in rows:
        alert.resolved_at = now
        count += 1
    return count


def open_alerts(session: Session, order_id: int) -> list[Alert]:
    return list(session.scalars(select(Alert).where(
        Alert.order_id == order_id, Alert.resolved_at.is_(None)).order_by(Alert.id)))
