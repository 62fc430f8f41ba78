"""The overview's numbers: orders by status, delivery times, on-time rate. No Flask here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.status import Status
from core.wording import owner_label
from integration.storage.models import Order, Shipment, Supplier, SupplierOrder

DELIVERED_SAMPLE = 20_000


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    display: str


@dataclass(frozen=True)
class Overview:
    total_orders: int
    by_status: list[Bar]
    days_by_supplier: list[Bar]
    days_by_destination: list[Bar]
    delivered: int
    on_time: int

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.delivered if self.delivered else None


def overview(session: Session, now: datetime, promised_days: int,
             since: timedelta = timedelta(days=90), store_id: int | None = None) -> Overview:
    """Every store's numbers, or one store's (`store_id`: the embedded admin's shop)."""
    one_store = [Order.store_id == store_id] if store_id is not None else []
    counts = dict(session.execute(select(Order.status, func.count(Order.id))
                                  .where(*one_store).group_by(Order.status)).all())
    by_status = [Bar(owner_label(status),
                     counts[status.value], str(counts[status.value]))
                 for status in Status if counts.get(status.value)]
    rows = session.execute(
        select(Supplier.name, Order.ship_country, SupplierOrder.forwarded_at, Order.created_at,
               Shipment.delivered_at, Shipment.estimated_delivery_at)
        .join(Order, Order.id == Shipment.order_id)
        .outerjoin(SupplierOrder, SupplierOrder.id == Shipment.supplier_order_id)
        .outerjoin(Supplier, Supplier.id == SupplierOrder.supplier_id)
        .where(Shipment.delivered_at.is_not(None), Shipment.delivered_at >= now - since,
               *one_store)
        .limit(DELIVERED_SAMPLE)).all()
    per_supplier: dict[str, list[float]] = {}
    per_country: dict[str, list[float]] = {}
    on_time = 0
    for supplier, country, forwarded, created, delivered, estimated in rows:
        assert delivered is not None
        start = forwarded or created
        days = (delivered - start).total_seconds() / 86400
        per_supplier.setdefault(supplier or "Unknown supplier", []).append(days)
        per_country.setdefault(country or "??", []).append(days)
        promised = estimated or start + timedelta(days=promised_days)
        on_time += delivered <= promised + timedelta(hours=23, minutes=59)
    return Overview(
        total_orders=sum(counts.values()), by_status=by_status,
        days_by_supplier=_medians(per_supplier), days_by_destination=_medians(per_country),
        delivered=len(rows), on_time=on_time)


def _medians(samples: dict[str, list[float]]) -> list[Bar]:
    bars = [Bar(f"{name} ({len(days)})", median(days), f"{median(days):.1f} d")
            for name, days in samples.items()]
    return sorted(bars, key=lambda bar: bar.value, reverse=True)[:12]


@dataclass(frozen=True)
class SvgBar:
    label: str
    display: str
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    """Geometry for a horizontal bar chart drawn as inline SVG (no JavaScript, no CDN)."""

    title: str
    bars: list[SvgBar]
    height: int
    label_width: int = 260  # room for a supplier's full name and count at 14 units
    plot_width: int = 260
    row: int = 28

    @classmethod
    def of(cls, title: str, bars: list[Bar]) -> BarChart:
        top = max((bar.value for bar in bars), default=0) or 1
        row = 28
        return cls(title, [SvgBar(bar.label, bar.display, 8 + index * row,
                                  max(2.0, 260 * bar.value / top))
                           for index, bar in enumerate(bars)], 16 + row * len(bars))
