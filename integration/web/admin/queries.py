"""What the dashboard reads: the orders table (keyset pages), the needs-attention queue and one
order's full timeline. No Flask here; a page makes a fixed number of queries whatever its size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from core.status import Reason
from core.wording import (
    ALERT_TITLES,
    alert_title,
    job_state,
    job_title,
    message_title,
    owner_label,
    reason_hint,
)
from integration.engine import bindings
from integration.engine.orders import FORWARD_JOB, ORDER
from integration.engine.tracking_view import number_candidates
from integration.jobs import alerts, outbox
from integration.storage.models import (
    Alert,
    InboxDelivery,
    Order,
    OrderLine,
    OutboxJob,
    SentNotification,
    Shipment,
    Store,
    Supplier,
    SupplierOrder,
    TrackingEvent,
)

# --- the orders table -------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    store_id: int | None = None
    supplier_id: int | None = None
    status: str | None = None
    reason: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    q: str = ""

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.store_id is not None:
            where.append(Order.store_id == self.store_id)
        if self.supplier_id is not None:
            where.append(exists().where(SupplierOrder.order_id == Order.id,
                                        SupplierOrder.supplier_id == self.supplier_id))
        if self.status:
            where.append(Order.status == self.status)
        if self.reason:
            where.append(Order.reason == self.reason)
        if self.created_from is not None:
            where.append(Order.created_at >= self.created_from)
        if self.created_to is not None:
            where.append(Order.created_at < self.created_to)
        if self.q.strip():
            where.append(search_condition(self.q))
        return where


def search_condition(q: str) -> ColumnElement[bool]:
    """Order number (with or without '#'), exact e-mail, or a parcel's tracking number; each
    branch is an equality an index answers (no leading-wildcard LIKE)."""
    term = q.strip()
    if "@" in term:
        return Order.email.in_({term, term.lower()})
    numbers = number_candidates(term)
    by_tracking = Order.id.in_(select(Shipment.order_id).where(
        Shipment.tracking_number.in_({term, term.upper()})))
    return or_(Order.number.in_(numbers), by_tracking) if numbers else by_tracking


@dataclass(frozen=True)
class OrderRow:
    id: int
    number: str
    store: str
    email: str
    customer_name: str
    status: str
    reason: str | None
    created_at: datetime
    placed_at: datetime | None
    total: str
    tracking_numbers: tuple[str, ...]
    suppliers: tuple[str, ...]


@dataclass(frozen=True)
class OrderPage:
    rows: list[OrderRow]
    next_cursor: int | None


def order_page_query(filters: OrderFilters, after: int | None, limit: int) -> Any:
    """Newest first, keyed on the primary key: page N costs what page 1 costs (no OFFSET)."""
    query = select(Order).where(*filters.conditions())
    if after is not None:
        query = query.where(Order.id < after)
    return query.order_by(Order.id.desc()).limit(limit + 1)


def list_orders(session: Session, filters: OrderFilters, after: int | None = None,
                limit: int = 50) -> OrderPage:
    orders = list(session.scalars(order_page_query(filters, after, limit)))
    more = len(orders) > limit
    orders = orders[:limit]
    ids = [order.id for order in orders]
    numbers: dict[int, list[str]] = {}
    suppliers: dict[int, list[str]] = {}
    if ids:
        for order_id, number in session.execute(select(Shipment.order_id, Shipment.tracking_number)
                                                .where(Shipment.order_id.in_(ids))
                                                .order_by(Shipment.id)):
            numbers.setdefault(order_id, []).append(number)
        for order_id, name in session.execute(
                select(SupplierOrder.order_id, Supplier.name)
                .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
                .where(SupplierOrder.order_id.in_(ids)).order_by(SupplierOrder.id)):
            suppliers.setdefault(order_id, []).append(name)
    store_names = store_labels(session)
    rows = [OrderRow(
        id=o.id, number=o.number, store=store_names.get(o.store_id, str(o.store_id)),
        email=o.email, customer_name=o.customer_name, status=o.status, reason=o.reason,
        created_at=o.created_at, placed_at=o.placed_at,
        total=f"{o.total} {o.currency}".strip() if o.total is not None else "",
        tracking_numbers=tuple(numbers.get(o.id, ())), suppliers=tuple(suppliers.get(o.id, ())),
    ) for o in orders]
    return OrderPage(rows, orders[-1].id if more and orders else None)


def store_labels(session: Session) -> dict[int, str]:
    return {store_id: name or domain for store_id, name, domain in
            session.execute(select(Store.id, Store.name, Store.domain).order_by(Store.id))}


def supplier_labels(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Supplier.id, Supplier.name).order_by(Supplier.name)).all())


# --- needs attention --------------------------------------------------------------------------

FORWARD_AGAIN = "forward_again"
RECHECK = "recheck"
CORRECT_ADDRESS = "correct_address"
CORRECT_TRACKING = "correct_tracking"
DISMISS = "dismiss"
REPLAY_JOB = "replay_job"
SWITCH_BACKUP = "switch_backup"
RESEND_MESSAGE = "resend_message"
NOTE_OUTCOME = "note_outcome"

ACTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    alerts.OUT_OF_STOCK: (FORWARD_AGAIN, SWITCH_BACKUP, NOTE_OUTCOME),
    alerts.SUPPLIER_REJECTED: (FORWARD_AGAIN, SWITCH_BACKUP, NOTE_OUTCOME, DISMISS),
    alerts.PAYMENT_ISSUE: (DISMISS,),
    alerts.ADDRESS: (CORRECT_ADDRESS, RESEND_MESSAGE, DISMISS),
    alerts.UNMAPPED_SKU: (RECHECK, DISMISS),
    alerts.NO_TRACKING: (DISMISS,),
    alerts.STUCK_IN_TRANSIT: (CORRECT_TRACKING, DISMISS),
    alerts.UNDELIVERED: (RESEND_MESSAGE, CORRECT_TRACKING, NOTE_OUTCOME, DISMISS),
    Reason.LOST.value: (NOTE_OUTCOME, DISMISS),
    Reason.RETURN_TO_SENDER.value: (NOTE_OUTCOME, DISMISS),
}

KIND_TITLES: Mapping[str, str] = ALERT_TITLES  # the one list, in core/wording.py


@dataclass(frozen=True)
class AttentionItem:
    kind: str
    title: str
    message: str
    hint: str
    created_at: datetime
    actions: tuple[str, ...]
    order_id: int | None = None
    order_number: str = ""
    store: str = ""
    alert_id: int | None = None
    job_id: int | None = None
    shipment_id: int | None = None
    tracking_number: str = ""
    carrier: str = ""
    retry_queued: bool = False

    @property
    def key(self) -> str:
        return f"alert-{self.alert_id}" if self.alert_id is not None else f"job-{self.job_id}"


def _hint(kind: str, shipment_reason: str | None) -> str:
    for value in (shipment_reason, kind):
        if value and value in Reason.__members__.values():
            return reason_hint(Reason(value))
    return {
        alerts.NO_TRACKING: "The supplier has not sent a tracking number yet: ask them for it.",
        alerts.STUCK_IN_TRANSIT: ("No carrier scan for days: ask the supplier whether the "
                                  "parcel has a new tracking number, and correct it here."),
        alerts.SUPPLIER_REJECTED: "The supplier refused the order: read its reason below.",
    }.get(kind, "")


def attention_items(session: Session, store_id: int | None = None,
                    limit: int = 200) -> list[AttentionItem]:
    """Open alerts and dead-lettered jobs, oldest first: what the owner must act on."""
    alert_query = (
        select(Alert, Order.number, Shipment.tracking_number, Shipment.carrier, Shipment.reason)
        .outerjoin(Order, Order.id == Alert.order_id)
        .outerjoin(Shipment, Shipment.id == Alert.shipment_id)
        .where(Alert.resolved_at.is_(None)).order_by(Alert.created_at, Alert.id).limit(limit))
    job_query = (select(OutboxJob).where(OutboxJob.state == outbox.DEAD)
                 .order_by(OutboxJob.finished_at, OutboxJob.id).limit(limit))
    if store_id is not None:
        alert_query = alert_query.where(Alert.store_id == store_id)
        job_query = job_query.where(OutboxJob.store_id == store_id)
    stores = store_labels(session)
    rows = session.execute(alert_query).all()
    order_ids = {alert.order_id for alert, *_ in rows if alert.order_id is not None}
    queued = _orders_with_pending_forward(session, order_ids)
    items = [AttentionItem(
        kind=alert.kind, title=alert_title(alert.kind),
        message=alert.message, hint=_hint(alert.kind, shipment_reason),
        created_at=alert.created_at, actions=ACTIONS_BY_KIND.get(alert.kind, (DISMISS,)),
        order_id=alert.order_id, order_number=number or "",
        store=stores.get(alert.store_id, "") if alert.store_id else "", alert_id=alert.id,
        shipment_id=alert.shipment_id, tracking_number=tracking or "", carrier=carrier or "",
        retry_queued=alert.order_id in queued and FORWARD_AGAIN in ACTIONS_BY_KIND.get(
            alert.kind, ()),
    ) for alert, number, tracking, carrier, shipment_reason in rows]
    jobs = list(session.scalars(job_query))
    job_orders = {int(job.payload["order_id"]) for job in jobs
                  if isinstance(job.payload.get("order_id"), int)}
    numbers = dict(session.execute(select(Order.id, Order.number).where(
        Order.id.in_(job_orders))).all()) if job_orders else {}
    for job in jobs:
        order_id = job.payload.get("order_id") if isinstance(job.payload.get("order_id"),
                                                             int) else None
        items.append(AttentionItem(
            kind="dead_job", title=f"{KIND_TITLES['dead_job']}: {job.kind}",
            message=job.last_error or "The job failed without an error message.",
            hint=("It failed for good or ran out of retries. Fix the cause (credentials, "
                  "supplier settings), then try again."),
            created_at=job.finished_at or job.updated_at, actions=(REPLAY_JOB,),
            order_id=order_id, order_number=numbers.get(order_id, "") if order_id else "",
            store=stores.get(job.store_id, "") if job.store_id else "", job_id=job.id))
    return items


def _orders_with_pending_forward(session: Session, order_ids: set[int]) -> set[int]:
    if not order_ids:
        return set()
    return set(session.scalars(
        select(SupplierOrder.order_id).join(
            OutboxJob, OutboxJob.idempotency_key == SupplierOrder.idempotency_key)
        .where(SupplierOrder.order_id.in_(order_ids), OutboxJob.kind == FORWARD_JOB,
               OutboxJob.state.in_((outbox.PENDING, outbox.RUNNING)))))


def attention_count(session: Session) -> int:
    open_alerts = session.scalar(select(func.count(Alert.id)).where(Alert.resolved_at.is_(None)))
    dead = session.scalar(select(func.count(OutboxJob.id)).where(
        OutboxJob.state == outbox.DEAD))
    return int(open_alerts or 0) + int(dead or 0)


# --- one order's timeline ---------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # webhook, supplier, tracking, writeback, job, alert, message
    title: str
    detail: str = ""
    failed: bool = False


@dataclass
class OrderDetail:
    order: Order
    store: str
    lines: list[OrderLine]
    supplier_orders: list[tuple[SupplierOrder, str]]
    shipments: list[Shipment]
    alerts: list[Alert]
    timeline: list[TimelineItem] = field(default_factory=list)


def _order_jobs_condition(order: Order, shipment_ids: list[int]) -> ColumnElement[bool]:
    keys = [OutboxJob.idempotency_key.like(f"forward:{order.store_id}:{order.id}:%"),
            OutboxJob.idempotency_key.like(f"cancel:forward:{order.store_id}:{order.id}:%"),
            OutboxJob.idempotency_key == f"confirm-address:{order.id}",
            OutboxJob.idempotency_key.like(f"confirm-address:{order.id}:%")]
    keys += [OutboxJob.serial_key == f"shipment:{sid}" for sid in shipment_ids]
    keys += [OutboxJob.idempotency_key.like(f"undelivered:{sid}:%") for sid in shipment_ids]
    return and_(OutboxJob.store_id == order.store_id, or_(*keys))


def _webhooks_for(session: Session, order: Order, window: timedelta) -> list[InboxDelivery]:
    """Deliveries about this order. The inbox does not link rows to orders, so look at the
    store's deliveries since the order arrived and match the order id in their bodies."""
    external_id = bindings.external_id_of(session, bindings.STORE, order.store_id, ORDER,
                                          order.id)
    if external_id is None:
        return []
    rows = session.scalars(select(InboxDelivery).where(
        InboxDelivery.store_id == order.store_id,
        InboxDelivery.received_at >= order.created_at - window,
    ).order_by(InboxDelivery.id.desc()).limit(500))
    found = []
    for row in rows:
        try:
            payload = json.loads(row.body)
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(payload, dict):
            continue
        ids = {str(payload.get("id", "")), str(payload.get("admin_graphql_api_id", ""))
               .rsplit("/", 1)[-1]}
        if external_id in ids:
            found.append(row)
    return found


def order_detail(session: Session, order_id: int) -> OrderDetail | None:
    order = session.get(Order, order_id)
    if order is None:
        return None
    lines = list(session.scalars(select(OrderLine).where(OrderLine.order_id == order.id)
                                 .order_by(OrderLine.id)))
    supplier_orders = [(row, name) for row, name in session.execute(
        select(SupplierOrder, Supplier.name)
        .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
        .where(SupplierOrder.order_id == order.id).order_by(SupplierOrder.id))]
    shipments = list(session.scalars(select(Shipment).where(Shipment.order_id == order.id)
                                     .order_by(Shipment.id)))
    shipment_ids = [s.id for s in shipments]
    by_id = {s.id: s for s in shipments}
    order_alerts = list(session.scalars(select(Alert).where(Alert.order_id == order.id)
                                        .order_by(Alert.id)))
    timeline: list[TimelineItem] = []
    if order.placed_at is not None:
        timeline.append(TimelineItem(order.placed_at, "store", "Order placed in the store"))
    timeline.append(TimelineItem(order.created_at, "store", "Order received by DropTrack"))
    for delivery in _webhooks_for(session, order, timedelta(days=1)):
        timeline.append(TimelineItem(
            delivery.received_at, "webhook", f"Webhook {delivery.topic} received",
            delivery.error or delivery.state, failed=delivery.state == "failed"))
    for row, name in supplier_orders:
        if row.forwarded_at is not None:
            timeline.append(TimelineItem(row.forwarded_at, "supplier",
                                         f"Forwarded to {name}"))
        if row.status == "rejected":
            timeline.append(TimelineItem(
                row.forwarded_at or row.created_at, "supplier", f"{name} rejected the order",
                f"{row.reason or ''}: {row.last_error or ''}".strip(": "), failed=True))
    if shipment_ids:
        for event in session.scalars(select(TrackingEvent).where(
                TrackingEvent.shipment_id.in_(shipment_ids))):
            parcel = by_id[event.shipment_id]
            where = f" at {event.location}" if event.location else ""
            status = owner_label(event.status, event.reason)
            timeline.append(TimelineItem(
                event.happened_at, "tracking",
                f"{parcel.tracking_number}: {status}{where}",
                event.message or event.raw_status,
                failed=event.status in ("undelivered", "exception")))
    for job in session.scalars(select(OutboxJob).where(
            _order_jobs_condition(order, shipment_ids)).order_by(OutboxJob.id)):
        title = job_title(job.kind)
        detail = f"{job_state(job.state)}, {job.attempts} attempt(s)"
        if job.last_error:
            detail += f": {job.last_error}"
        timeline.append(TimelineItem(job.finished_at or job.updated_at, "job", title, detail,
                                     failed=job.state == outbox.DEAD))
    for note in session.scalars(select(SentNotification).where(
            SentNotification.order_id == order.id)):
        timeline.append(TimelineItem(note.sent_at, "message",
                                     message_title(note.kind)))
    for alert in order_alerts:
        timeline.append(TimelineItem(alert.created_at, "alert",
                                     alert_title(alert.kind), alert.message,
                                     failed=alert.resolved_at is None))
        if alert.resolved_at is not None:
            timeline.append(TimelineItem(alert.resolved_at, "alert",
                                         f"Resolved: {alert_title(alert.kind)}"))
    timeline.sort(key=lambda item: item.at, reverse=True)
    store = session.get(Store, order.store_id)
    return OrderDetail(order=order, store=(store.name or store.domain) if store else "",
                       lines=lines, supplier_orders=supplier_orders, shipments=shipments,
                       alerts=order_alerts, timeline=timeline)


@dataclass(frozen=True)
class TrackingBudget:
    """A tracking service's last known quota, and the numbers waiting for it."""

    service: str
    remaining: int
    total: int
    exhausted: bool
    waiting: int
    checked_at: datetime


def tracking_budgets(session: Session) -> list[TrackingBudget]:
    from integration.storage.models import TrackedNumber, TrackingQuota

    waiting = dict(session.execute(
        select(TrackedNumber.service, func.count(TrackedNumber.id))
        .where(TrackedNumber.state == "waiting").group_by(TrackedNumber.service)).all())
    return [TrackingBudget(q.service, q.remaining, q.total, q.exhausted,
                           int(waiting.get(q.service, 0)), q.checked_at)
            for q in session.scalars(select(TrackingQuota).order_by(TrackingQuota.service))]
