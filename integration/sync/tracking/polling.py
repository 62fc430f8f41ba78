"""The fallback poll (gettrackinfo for numbers no push told about for a while), stopping
delivered parcels, and the owner's carrier corrections (changecarrier)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.tracking.base import ProblemKind, QuotaExhausted, TrackRequest
from core.status import Status
from integration.jobs import alerts, outbox
from integration.jobs.outbox import ClaimedJob, PermanentError
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, Shipment, TrackedNumber
from integration.sync.tracking import budget
from integration.sync.tracking import service as services
from integration.sync.tracking.service import SEVENTEEN_TRACK
from integration.sync.tracking.updates import (
    REGISTERED,
    REJECTED,
    STOP_PENDING,
    STOPPED,
    TRACKING_PROBLEM,
    WAITING,
    apply_tracked,
    next_batch,
    next_poll,
)

log = logging.getLogger(__name__)

POLL_JOB = "tracking.poll"
STOP_JOB = "tracking.stop"
CHANGE_CARRIER_JOB = "tracking.change_carrier"
MAX_BATCHES_PER_JOB = 25


def _request(row: TrackedNumber) -> TrackRequest:
    return TrackRequest(row.number, carrier=row.carrier, service_carrier=row.service_carrier)


def poll_due(runtime: Runtime, service_name: str = SEVENTEEN_TRACK) -> int:
    """Ask the service about registered numbers whose poll is due. A service with a daily
    call budget (DHL) is asked only while calls are left; the rest keep their due poll and
    are asked after the budget's reset."""
    service = services.connector(runtime, service_name)
    now = runtime.clock.now()
    daily = service.daily_calls
    polled = 0
    for _ in range(MAX_BATCHES_PER_JOB):
        with runtime.db.read() as session:
            if daily is not None and budget.calls_left(session, service_name, daily, now) <= 0:
                break
            rows = list(session.scalars(select(TrackedNumber).where(
                TrackedNumber.service == service_name, TrackedNumber.state == REGISTERED,
                TrackedNumber.next_poll_at <= now)
                .order_by(TrackedNumber.next_poll_at).limit(service.max_batch)))
            for row in rows:
                session.expunge(row)
        if not rows:
            break
        calls_before = service.calls
        try:
            parcels, problems = service.track([_request(row) for row in rows])
        except QuotaExhausted as exc:
            log.info("%s: %s; %d numbers wait for the reset", service_name, exc, len(rows))
            if daily is not None:
                with runtime.db.write() as session:
                    budget.spend(session, service_name, daily, 0, now, spent_out=True)
            break
        with runtime.db.write() as session:
            if daily is not None:
                budget.spend(session, service_name, daily, service.calls - calls_before, now)
            live = {row.number: session.merge(row) for row in rows}
            for parcel in parcels:
                if parcel.number in live:
                    apply_tracked(session, runtime.settings, live[parcel.number], parcel, now)
            for problem in problems:
                unknown = live.get(problem.number)
                # A service that registers numbers forgot this one: register it again. (DHL's
                # 404 only means "not in DHL's system yet": it is asked again later.)
                if unknown is not None and problem.kind is ProblemKind.NOT_TRACKED \
                        and service_name in services.PUSH_PARSERS:
                    unknown.state, unknown.updated_at = WAITING, now
            for row in live.values():  # answered or not: not again before the next cadence
                if row.state == REGISTERED and (row.next_poll_at is None
                                                or row.next_poll_at <= now):
                    row.next_poll_at = next_poll(runtime.settings, Status.IN_TRANSIT, now,
                                                 service_name)
        polled += len(rows)
    return polled


def stop_finished(runtime: Runtime, service_name: str = SEVENTEEN_TRACK) -> int:
    """stoptrack for delivered (and cancelled) parcels: nothing more to learn about them."""
    service = services.connector(runtime, service_name)
    now = runtime.clock.now()
    stopped = 0
    for _ in range(MAX_BATCHES_PER_JOB):
        rows = next_batch(runtime, service_name, STOP_PENDING, service.max_batch)
        if not rows:
            break
        result = service.stop([_request(row) for row in rows])
        with runtime.db.write() as session:
            # Accepted, or refused because it is no longer tracking: stopped either way.
            for row in rows:
                live = session.merge(row)
                live.state, live.stopped_at, live.next_poll_at, live.updated_at = (
                    STOPPED, now, None, now)
        stopped += len(result.accepted)
    return stopped


def correct_carrier(runtime: Runtime, tracked_id: int, service_carrier: str) -> str:
    """The owner names the right carrier (the service's code) for a number. A refused number
    is registered again with it; a registered one gets a `changecarrier` job."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        row = session.get(TrackedNumber, tracked_id)
        if row is None:
            raise LookupError(f"tracked number {tracked_id} does not exist")
        if row.state == REJECTED:
            row.service_carrier, row.state, row.updated_at = service_carrier, WAITING, now
            row.problem_code = row.problem = None
            _resolve_problem(session, row, now)
            return "register"
        outbox.enqueue(session, CHANGE_CARRIER_JOB,
                       f"{CHANGE_CARRIER_JOB}:{row.id}:{service_carrier}:{now.isoformat()}",
                       {"tracked_id": row.id, "carrier": service_carrier}, now,
                       serial_key=f"tracked:{row.id}")
        return "change"


def _resolve_problem(session: Session, row: TrackedNumber, now: datetime) -> None:
    shipment = session.get(Shipment, row.shipment_id)
    if shipment is not None:
        for alert in session.scalars(select(Alert).where(
                Alert.kind == TRACKING_PROBLEM, Alert.shipment_id == shipment.id,
                Alert.resolved_at.is_(None))):
            alert.resolved_at = now


@job(CHANGE_CARRIER_JOB)
def change_carrier_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    tracked_id, new = int(claimed.payload["tracked_id"]), str(claimed.payload["carrier"])
    with runtime.db.read() as session:
        row = session.get(TrackedNumber, tracked_id)
        if row is None:
            return
        service_name, number, old = row.service, row.number, row.service_carrier
    if not old:
        raise PermanentError(f"{number}: the current carrier is unknown, cannot change it")
    service = services.connector(runtime, service_name)
    result = service.change_carrier(number, old, new)
    now = runtime.clock.now()
    with runtime.db.write() as session:
        row = session.get_one(TrackedNumber, tracked_id)
        if result.accepted:
            row.service_carrier, row.problem_code, row.problem = new, None, None
            row.next_poll_at, row.updated_at = now, now  # look at it with the right carrier
            _resolve_problem(session, row, now)
            return
        problem = result.problems[0] if result.problems else None
        message = f"{problem.code} {problem.message}" if problem else "no answer"
        row.problem = f"{service_name} refused the carrier change: {message}"
        shipment = session.get_one(Shipment, row.shipment_id)
        alerts.raise_alert(session, TRACKING_PROBLEM, f"tracked:{row.id}:change:{new}",
                           row.problem, now, order_id=shipment.order_id, shipment_id=shipment.id)


@job(POLL_JOB)
def poll_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    polled = poll_due(runtime, str(claimed.payload.get("service", SEVENTEEN_TRACK)))
    if polled:
        log.info("tracking: %d numbers polled (fallback)", polled)


@job(STOP_JOB)
def stop_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    stop_finished(runtime, str(claimed.payload.get("service", SEVENTEEN_TRACK)))
