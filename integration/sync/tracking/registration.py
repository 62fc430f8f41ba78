"""Register each parcel's number with its tracking service once, within the quota.

A number costs one credit when it is registered and nothing after that. When the quota is
exhausted nothing is lost: numbers stay `waiting` and the next run registers them once
`getquota` shows credits again. The owner is alerted before the quota runs out, and when it
has. A number the service refuses is a problem on its order that the owner can correct.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from connectors.carriers.registry import by_name
from connectors.tracking.base import (
    BatchResult,
    ProblemKind,
    Quota,
    QuotaExhausted,
    TrackingService,
    TrackRequest,
)
from core.status import Status
from integration.base.config import Settings
from integration.engine import bindings
from integration.engine.tracking import PARCEL
from integration.jobs import alerts
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    Binding,
    Order,
    Shipment,
    Store,
    Supplier,
    SupplierOrder,
    TrackedNumber,
    TrackingQuota,
)
from integration.sync.tracking import service as services
from integration.sync.tracking.service import SEVENTEEN_TRACK
from integration.sync.tracking.updates import (
    FINAL,
    REGISTERED,
    REJECTED,
    TRACKING_PROBLEM,
    WAITING,
    next_batch,
    next_poll,
)

log = logging.getLogger(__name__)

REGISTER_JOB = "tracking.register"
QUOTA_LOW = "tracking_quota_low"
QUOTA_EXHAUSTED = "tracking_quota_exhausted"
MAX_BATCHES_PER_JOB = 25
ENROL_BATCH = 1000
QUOTA_RECHECK_CREDITS = 100  # after registering, getquota once per this many credits spent


def _tracked_pairs(session: Session, settings: Settings,
                   service: str) -> list[ColumnElement[bool]]:
    """(supplier, store) pairs whose parcels `service` tracks: decided on the few supplier and
    store rows, so parcels tracked by their supplier never crowd the enrolment query."""
    suppliers = list(session.scalars(select(Supplier)))
    store_rows = list(session.scalars(select(Store)))
    return [and_(SupplierOrder.supplier_id == supplier.id, Order.store_id == store.id)
            for supplier in suppliers for store in store_rows
            if services.source_for(settings, supplier, store) == service]


def enrol(session: Session, settings: Settings, service: str, now: datetime) -> int:
    """Give every live parcel this service should watch, and no service watches yet, a
    `waiting` number. Returns how many."""
    pairs = _tracked_pairs(session, settings, service)
    if not pairs:
        return 0
    rows = session.execute(
        select(Shipment, SupplierOrder)
        .join(SupplierOrder, SupplierOrder.id == Shipment.supplier_order_id)
        .join(Order, Order.id == Shipment.order_id)
        # A parcel some service already watches stays with it: a changed choice applies to
        # new parcels, and no parcel is paid for twice.
        .outerjoin(TrackedNumber, TrackedNumber.shipment_id == Shipment.id)
        .where(TrackedNumber.id.is_(None), Shipment.tracking_number != "",
               Shipment.status.not_in([status.value for status in FINAL]), or_(*pairs))
        .order_by(Shipment.id).limit(ENROL_BATCH)).all()
    added = 0
    for shipment, supplier_order in rows:
        ref = session.scalar(select(Binding.external_id).where(
            Binding.owner_type == bindings.SUPPLIER,
            Binding.owner_id == supplier_order.supplier_id,
            Binding.kind == PARCEL, Binding.internal_id == shipment.id))
        if ref is None:
            continue
        session.add(TrackedNumber(
            service=service, shipment_id=shipment.id, supplier_order_id=supplier_order.id,
            parcel_ref=ref, number=shipment.tracking_number, carrier=_carrier_id(shipment),
            state=WAITING, created_at=now, updated_at=now))
        added += 1
    return added


def _carrier_id(shipment: Shipment) -> str | None:
    found = by_name(shipment.carrier) if shipment.carrier else None
    return found.id if found else None


def save_quota(session: Session, service: str, quota: Quota, now: datetime,
               settings: Settings, *, checked: bool = True) -> TrackingQuota:
    """Store the quota; `checked`: the service said so now (else DropTrack counted it, and
    `checked_at` stays the time of the last getquota)."""
    row = session.get(TrackingQuota, service)
    if row is None:
        row = TrackingQuota(service=service, checked_at=now)
        session.add(row)
    row.total, row.used, row.remaining = quota.total, quota.used, quota.remaining
    if checked:
        row.checked_at = now
    row.exhausted = quota.remaining <= 0
    if not row.exhausted:
        for alert in session.scalars(select(Alert).where(
                Alert.kind == QUOTA_EXHAUSTED, Alert.resolved_at.is_(None))):
            alert.resolved_at = now
    if quota.remaining < settings.tracking.quota_alert_below:
        alerts.raise_alert(
            session, QUOTA_LOW, f"{service}:{quota.total}",
            f"{service}: only {quota.remaining} of {quota.total} tracking credits left. New "
            "parcels wait for credits once they run out: add quota in the service's dashboard.",
            now)
    return row


def _mark_exhausted(session: Session, service: str, now: datetime, waiting: int) -> None:
    row = session.get(TrackingQuota, service)
    if row is None:
        row = TrackingQuota(service=service, total=0, used=0, remaining=0, checked_at=now)
        session.add(row)
    row.exhausted, row.remaining, row.checked_at = True, 0, now
    alerts.raise_alert(
        session, QUOTA_EXHAUSTED, f"{service}:{now:%Y-%m-%d}",
        f"{service}: the tracking quota is used up. {waiting} parcel number(s) wait and will "
        "be registered as soon as quota is available again; nothing is lost.", now)


def quota_exhausted(session: Session, service: str) -> bool:
    row = session.get(TrackingQuota, service)
    return bool(row and row.exhausted)


def _request(row: TrackedNumber) -> TrackRequest:
    return TrackRequest(row.number, carrier=row.carrier, service_carrier=row.service_carrier,
                        tag=f"dt-{row.shipment_id}")


def _apply_batch(session: Session, settings: Settings, rows: Sequence[TrackedNumber],
                 result: BatchResult, now: datetime) -> tuple[int, bool]:
    """Record what the service said for each number: (registered, quota ran out)."""
    by_number = {row.number: row for row in rows}
    pushes = bool(rows) and rows[0].service in services.PUSH_PARSERS
    registered, exhausted = 0, False
    for accepted in result.accepted:
        row = by_number.get(accepted.number)
        if row is not None:
            _registered(settings, row, accepted.service_carrier, now, pushes)
            registered += 1
    for problem in result.problems:
        row = by_number.get(problem.number)
        if row is None:
            continue
        if problem.kind is ProblemKind.ALREADY_TRACKED:
            _registered(settings, row, None, now, pushes)  # idempotent: being tracked
        elif problem.kind is ProblemKind.QUOTA_EXHAUSTED:
            exhausted = True  # stays waiting
        else:
            _rejected(session, row, problem.kind, problem.code, problem.message, now)
    return registered, exhausted


def _registered(settings: Settings, row: TrackedNumber, service_carrier: str | None,
                now: datetime, pushes: bool) -> None:
    row.state, row.registered_at, row.updated_at = REGISTERED, now, now
    row.problem_code = row.problem = None
    if service_carrier:
        row.service_carrier = service_carrier
    # A pull-only service (DHL) is asked at once; one that pushes only as a fallback.
    row.next_poll_at = next_poll(settings, Status.INFO_RECEIVED, now) if pushes else now


def _rejected(session: Session, row: TrackedNumber, kind: ProblemKind, code: str,
              message: str, now: datetime) -> None:
    row.state, row.problem_code, row.updated_at = REJECTED, code, now
    what = {
        ProblemKind.CARRIER_UNKNOWN: "the carrier could not be recognised",
        ProblemKind.INVALID_NUMBER: "the tracking number is not valid",
    }.get(kind, "it was refused")
    row.problem = f"{row.service} cannot track {row.number}: {what} ({code} {message})".strip()
    shipment = session.get_one(Shipment, row.shipment_id)
    order = session.get_one(Order, shipment.order_id)
    alerts.raise_alert(
        session, TRACKING_PROBLEM, f"tracked:{row.id}:{code}",
        f"Order {order.number}: {row.service} cannot track {row.number}: {what}. Correct the "
        "carrier (or the tracking number) and DropTrack registers it again.", now,
        store_id=order.store_id, order_id=order.id, shipment_id=shipment.id)


def register_waiting(runtime: Runtime, service_name: str = SEVENTEEN_TRACK) -> int:
    """Enrol new parcels, then register waiting numbers in batches. Returns how many were
    registered."""
    service: TrackingService = services.connector(runtime, service_name)
    settings = runtime.settings
    now = runtime.clock.now()
    with runtime.db.write() as session:
        enrol(session, settings, service_name, now)
        exhausted_before = quota_exhausted(session, service_name)
        waiting = session.scalar(select(TrackedNumber.id).where(
            TrackedNumber.service == service_name, TrackedNumber.state == WAITING).limit(1))
    if waiting is None:
        return 0
    if exhausted_before and service.quota_api:
        quota = service.quota()  # free: is there quota again?
        with runtime.db.write() as session:
            save_quota(session, service_name, quota, now, settings)
        if quota.remaining <= 0:
            log.info("%s quota still exhausted: numbers keep waiting", service_name)
            return 0
    registered, exhausted = 0, False
    for _ in range(MAX_BATCHES_PER_JOB):
        rows = next_batch(runtime, service_name, WAITING, service.max_batch)
        if not rows:
            break
        try:
            result = service.register([_request(row) for row in rows])
        except QuotaExhausted:
            exhausted = True
            break
        with runtime.db.write() as session:
            live = [session.merge(row) for row in rows]
            done, exhausted = _apply_batch(session, settings, live, result, now)
            registered += done
        if exhausted:
            break
    if registered or exhausted:
        if exhausted:
            with runtime.db.write() as session:
                count = len(list(session.scalars(select(TrackedNumber.id).where(
                    TrackedNumber.service == service_name, TrackedNumber.state == WAITING))))
                _mark_exhausted(session, service_name, now, count)
        elif service.quota_api:
            with runtime.db.write() as session:
                known = _counted_quota(session, service_name, registered, settings)
                if known is not None:  # count the credits just spent
                    save_quota(session, service_name, known, now, settings, checked=False)
            if known is None:
                quota = service.quota()
                with runtime.db.write() as session:
                    save_quota(session, service_name, quota, now, settings)
    return registered


def _counted_quota(session: Session, service: str, registered: int,
                   settings: Settings) -> Quota | None:
    """The quota after `registered` more credits, counted from the last getquota (one credit
    a registration, and nothing else spends them); None when it must be asked again: never
    asked, used up, every `QUOTA_RECHECK_CREDITS` credits (credits spent by another app with
    the same key, or added in the dashboard, show within that many), and near the owner's
    alert threshold (the alert is raised on the service's own figures). No clock rule: a
    parcel's registration never pays for a getquota of its own, so a parcel alone in its
    sweep costs register + stoptrack over its life, 2 calls (a getquota is shared by at least
    `QUOTA_RECHECK_CREDITS` registrations, or by the last few before the alert)."""
    row = session.get(TrackingQuota, service)
    if row is None or row.exhausted:
        return None
    remaining = row.remaining - registered
    if remaining < 2 * settings.tracking.quota_alert_below:
        return None
    if row.remaining // QUOTA_RECHECK_CREDITS != remaining // QUOTA_RECHECK_CREDITS:
        return None
    return Quota(total=row.total, used=row.used + registered, remaining=max(remaining, 0))


@job(REGISTER_JOB)
def register_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    registered = register_waiting(runtime, str(claimed.payload.get("service", SEVENTEEN_TRACK)))
    if registered:
        log.info("tracking: %d numbers registered", registered)
