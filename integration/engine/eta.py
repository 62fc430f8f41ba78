"""When a parcel should arrive: a window per supplier and destination, learned from the
parcels it already delivered there, and 7-15 days from dispatch until enough exist."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.storage.models import Order, Shipment, SupplierOrder

DEFAULT_WINDOW_DAYS = (7, 15)
MIN_SAMPLES = 20
RECENT_SAMPLES = 500  # the latest deliveries say most about the route as it is now


def delivery_window(session: Session, supplier_id: int, country: str) -> tuple[int, int]:
    """(earliest, latest) days from dispatch: the 10th and 90th percentile of recent ones."""
    rows = session.execute(
        select(Shipment.created_at, Shipment.delivered_at)
        .join(SupplierOrder, SupplierOrder.id == Shipment.supplier_order_id)
        .join(Order, Order.id == Shipment.order_id)
        .where(SupplierOrder.supplier_id == supplier_id, Order.ship_country == country,
               Shipment.delivered_at.is_not(None))
        .order_by(Shipment.delivered_at.desc()).limit(RECENT_SAMPLES)).all()
    days = sorted((delivered - created).total_seconds() / 86400
                  for created, delivered in rows if delivered is not None)
    if len(days) < MIN_SAMPLES:
        return DEFAULT_WINDOW_DAYS
    earliest = days[int(0.1 * (len(days) - 1))]
    latest = days[math.ceil(0.9 * (len(days) - 1))]
    return max(1, math.floor(earliest)), max(1, math.ceil(latest))


def estimate(session: Session, supplier_id: int, country: str,
             dispatched_at: datetime) -> datetime:
    """The date to promise (and send to Shopify as estimatedDeliveryAt): the window's end."""
    _earliest, latest = delivery_window(session, supplier_id, country)
    return dispatched_at + timedelta(days=latest)
