"""What a customer may see about their order: found by order number + e-mail, nothing more.

Pure domain code (no Flask): the tracking page, its JSON variant and the Shopify app proxy all
call `tracking_view`. Any mismatch (unknown number, wrong e-mail, wrong store) gives None, so
callers answer every miss the same way and nobody can learn which order numbers exist.

The order status page extension calls `store_order_view`: the order by the store's own id,
within one store only, with the same words but without tracking numbers, carrier events or
places (`details=False`): the extension's session token proves the shop, not the order, and
Shopify's page already shows the parcel's tracking to the customer it belongs to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.status import Reason, Status
from core.wording import customer_label, customer_note
from integration.engine import bindings
from integration.storage.models import (
    Binding,
    Order,
    Shipment,
    Store,
    SupplierOrder,
    TrackingEvent,
)

DEFAULT_ETA_DAYS = (7, 15)
MAX_NUMBER_LENGTH = 64
MAX_EMAIL_LENGTH = 320

_PENDING_NOTES: dict[Reason | None, str] = {
    None: "We have received your order and will start preparing it shortly.",
    Reason.PAYMENT_ISSUE: (
        "We are waiting for your payment to be confirmed. Your order will be prepared as soon "
        "as it is; if you paid already, there is nothing you need to do."
    ),
    # Internal problems (a missing supplier mapping) are ours to fix, not the customer's.
    Reason.UNMAPPED_SKU: "We have received your order and are preparing it.",
}
_PROCESSING_NOTE = (
    "Your order is being prepared for shipping. Tracking details will appear here as soon as "
    "it leaves the warehouse."
)
_NO_ETA = frozenset({Status.DELIVERED, Status.CANCELLED, Status.REFUNDED})
_ACTION_NEEDED = frozenset({Status.UNDELIVERED, Status.READY_FOR_PICKUP})


@dataclass(frozen=True)
class TimelineEntry:
    happened_at: datetime
    label: str
    message: str = ""
    location: str = ""


@dataclass(frozen=True)
class ParcelView:
    carrier: str
    tracking_number: str
    tracking_url: str
    status: str
    label: str
    note: str
    action_needed: bool
    events: tuple[TimelineEntry, ...]  # newest first
    eta_from: datetime | None
    eta_to: datetime | None
    delivered_at: datetime | None
    pickup_point: str = ""


@dataclass(frozen=True)
class TrackingView:
    order_number: str
    store_name: str
    status: str
    label: str
    note: str
    action_needed: bool
    placed_at: datetime | None
    eta_from: datetime | None
    eta_to: datetime | None
    late: bool
    parcels: tuple[ParcelView, ...]
    history: tuple[TimelineEntry, ...] = field(default=())  # order steps, newest first

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as ISO 8601 strings)."""
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def number_candidates(number: str) -> list[str]:
    """The stored forms an order number typed by a customer may have ("1001" or "#1001")."""
    bare = number.strip().lstrip("#").strip()
    if not bare or len(bare) > MAX_NUMBER_LENGTH:
        return []
    return [bare, f"#{bare}"]


def _same_email(stored: str, given: str) -> bool:
    return bool(stored) and stored.strip().casefold() == given.strip().casefold()


def find_order(session: Session, store_id: int | None, number: str, email: str) -> Order | None:
    candidates = number_candidates(number)
    if not candidates or not email.strip() or len(email) > MAX_EMAIL_LENGTH:
        return None
    query = select(Order).where(Order.number.in_(candidates))
    if store_id is not None:
        query = query.where(Order.store_id == store_id)
    matches = [order for order in session.scalars(query.order_by(Order.id.desc()).limit(20))
               if _same_email(order.email, email)]
    return matches[0] if matches else None


def tracking_view(session: Session, store_id: int | None, number: str, email: str, *,
                  now: datetime, eta_days: tuple[int, int] = DEFAULT_ETA_DAYS
                  ) -> TrackingView | None:
    """The customer's view of the order with this number and e-mail, or None for any miss."""
    order = find_order(session, store_id, number, email)
    if order is None:
        return None
    return order_view(session, order, now=now, eta_days=eta_days)


@dataclass(frozen=True)
class StoreOrderView:
    """An order found by the store's ids: its view, and the parcel of the asked fulfillment
    (None when none was asked, or DropTrack has not written that fulfillment)."""

    view: TrackingView
    fulfillment: ParcelView | None


def _ref_candidates(ref: str, kind: str) -> list[str]:
    """`gid://shopify/Order/5001`, `5001` -> both stored forms (orders are bound by their legacy
    id, fulfillments by their GraphQL id)."""
    bare = ref.strip().split("?", 1)[0].rsplit("/", 1)[-1]
    if not bare.isdigit() or len(bare) > MAX_NUMBER_LENGTH:
        return []
    return [bare, f"gid://shopify/{kind}/{bare}"]


def _bound(session: Session, store_id: int, kind: str, candidates: list[str]) -> int | None:
    if not candidates:
        return None
    return session.scalar(select(Binding.internal_id).where(
        Binding.owner_type == bindings.STORE, Binding.owner_id == store_id,
        Binding.kind == kind, Binding.external_id.in_(candidates)).limit(1))


def store_order_view(session: Session, store_id: int, order_ref: str, *, now: datetime,
                     eta_days: tuple[int, int] = DEFAULT_ETA_DAYS,
                     fulfillment_ref: str = "") -> StoreOrderView | None:
    """The order with the store's id `order_ref` (GraphQL or legacy) in this store only, or
    None; without tracking numbers, events or places (see the module's note)."""
    order_id = _bound(session, store_id, bindings.ORDER, _ref_candidates(order_ref, "Order"))
    order = session.get(Order, order_id) if order_id is not None else None
    if order is None or order.store_id != store_id:
        return None
    shipment_id = _bound(session, store_id, bindings.FULFILLMENT,
                         _ref_candidates(fulfillment_ref, "Fulfillment")) \
        if fulfillment_ref else None
    view, by_shipment = _order_view(session, order, now=now, eta_days=eta_days, details=False)
    if shipment_id is not None and shipment_id not in by_shipment:
        shipment_id = None  # a fulfillment of another order of this store
    return StoreOrderView(view, by_shipment[shipment_id] if shipment_id is not None else None)


def order_view(session: Session, order: Order, *, now: datetime,
               eta_days: tuple[int, int] = DEFAULT_ETA_DAYS) -> TrackingView:
    return _order_view(session, order, now=now, eta_days=eta_days, details=True)[0]


def _order_view(session: Session, order: Order, *, now: datetime, eta_days: tuple[int, int],
                details: bool) -> tuple[TrackingView, dict[int, ParcelView]]:
    store = session.get(Store, order.store_id)
    shipments = list(session.scalars(
        select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id)))
    events = _events_by_shipment(session, [s.id for s in shipments])
    forwarded_at = session.scalar(select(func.min(SupplierOrder.forwarded_at)).where(
        SupplierOrder.order_id == order.id))
    started = forwarded_at or order.placed_at or order.created_at
    default_window = (started + timedelta(days=eta_days[0]), started + timedelta(days=eta_days[1]))
    by_shipment = {s.id: _parcel(s, events.get(s.id, []) if details else [], default_window,
                                 details) for s in shipments}
    parcels = tuple(by_shipment.values())

    status = Status.parse(order.status)
    reason = Reason.parse(order.reason) if order.reason else None
    eta_from, eta_to = _order_eta(status, parcels, default_window)
    view = TrackingView(
        order_number=order.number,
        store_name=(store.name or store.domain) if store is not None else "",
        status=status.value,
        label=customer_label(status),
        note=_order_note(status, reason, parcels),
        action_needed=status in _ACTION_NEEDED or reason in (
            Reason.ADDRESS_NEEDS_CONFIRMATION, Reason.OUT_OF_STOCK),
        placed_at=order.placed_at,
        eta_from=eta_from,
        eta_to=eta_to,
        late=eta_to is not None and now > eta_to,
        parcels=parcels,
        history=_history(order, forwarded_at) if details else (),
    )
    return view, by_shipment


def _events_by_shipment(session: Session,
                        shipment_ids: list[int]) -> dict[int, list[TrackingEvent]]:
    grouped: dict[int, list[TrackingEvent]] = {}
    if not shipment_ids:
        return grouped
    rows = session.scalars(select(TrackingEvent).where(
        TrackingEvent.shipment_id.in_(shipment_ids)).order_by(
        TrackingEvent.happened_at.desc(), TrackingEvent.id.desc()))
    for row in rows:
        grouped.setdefault(row.shipment_id, []).append(row)
    return grouped


def _parcel(shipment: Shipment, events: list[TrackingEvent],
            default_window: tuple[datetime, datetime], details: bool = True) -> ParcelView:
    status = Status.parse(shipment.status)
    reason = Reason.parse(shipment.reason) if shipment.reason else None
    # Events from before a correction (an earlier, replaced tracking number) are not shown.
    current = [e for e in events if e.epoch >= shipment.status_epoch]
    entries = tuple(TimelineEntry(e.happened_at, customer_label(Status.parse(e.status)),
                                  e.message, e.location) for e in current)
    if status in _NO_ETA:
        eta: tuple[datetime | None, datetime | None] = (None, None)
    elif shipment.estimated_delivery_at is not None:
        eta = (shipment.estimated_delivery_at, shipment.estimated_delivery_at)
    else:
        eta = default_window
    pickup = entries[0].location if status is Status.READY_FOR_PICKUP and entries else ""
    number = shipment.tracking_number if details else ""
    return ParcelView(
        carrier=shipment.carrier,
        tracking_number=number,
        tracking_url=shipment.tracking_url if details and shipment.tracking_url.startswith(
            ("https://", "http://")) else "",
        status=status.value,
        label=customer_label(status),
        note=customer_note(status, reason, shipment.carrier, number) or "",
        action_needed=status in _ACTION_NEEDED,
        events=entries,
        eta_from=eta[0],
        eta_to=eta[1],
        delivered_at=shipment.delivered_at,
        pickup_point=pickup if details else "",
    )


def _order_eta(status: Status, parcels: tuple[ParcelView, ...],
               default_window: tuple[datetime, datetime]
               ) -> tuple[datetime | None, datetime | None]:
    if status in _NO_ETA or status is Status.PENDING:
        return None, None
    froms = [p.eta_from for p in parcels if p.eta_from is not None]
    tos = [p.eta_to for p in parcels if p.eta_to is not None]
    if froms and tos:
        return min(froms), max(tos)
    if parcels:  # every parcel is delivered or has no estimate left
        return None, None
    return default_window


def _order_note(status: Status, reason: Reason | None, parcels: tuple[ParcelView, ...]) -> str:
    if status is Status.PENDING:
        if reason in _PENDING_NOTES:
            return _PENDING_NOTES[reason]
        return customer_note(status, reason, None, None) or _PENDING_NOTES[None]
    if status is Status.PROCESSING:
        return _PROCESSING_NOTE
    if len(parcels) > 1 and status not in (Status.CANCELLED, Status.REFUNDED):
        return (f"Your order ships in {len(parcels)} parcels; each one's progress is shown "
                "below.")
    if len(parcels) == 1:
        return parcels[0].note
    return customer_note(status, reason, None, None) or ""


def _history(order: Order, forwarded_at: datetime | None) -> tuple[TimelineEntry, ...]:
    steps = []
    if forwarded_at is not None:
        steps.append(TimelineEntry(forwarded_at, "Being prepared",
                                   "Your order was passed to our warehouse."))
    if order.placed_at is not None:
        steps.append(TimelineEntry(order.placed_at, "Order placed"))
    return tuple(steps)
