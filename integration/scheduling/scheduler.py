"""The one APScheduler of a process: fixed job ids, idempotent sweeps, cursors in our tables."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from integration.engine import polling, sweeps
from integration.jobs import alerts, inbox, outbox
from integration.kernel.runtime import Runtime
from integration.limits import logins as ratelimit
from integration.scheduling.scheduled import contributed
from integration.sync.suppliers import csv_exchange

log = logging.getLogger(__name__)


def prune_old_records(runtime: Runtime) -> None:
    """Delete processed deliveries, finished jobs and idle rate-limit counters past
    retention; dead jobs stay for the owner."""
    now = runtime.clock.now()
    cutoff = now - timedelta(days=runtime.settings.scheduler.retention_days)
    with runtime.db.write() as session:
        deliveries = inbox.prune_processed(session, cutoff)
        jobs = outbox.prune_done(session, cutoff)
        ratelimit.prune(session, now, timedelta(days=1))
    if deliveries or jobs:
        log.info("retention: pruned %d deliveries and %d finished jobs", deliveries, jobs)


def flag_attention_needed(runtime: Runtime) -> None:
    """Alerts for forwarded orders without tracking and parcels stuck in transit, then the
    owner's e-mails for order alerts past their grace period (a digest, or one each)."""
    settings = runtime.settings.alerts
    now = runtime.clock.now()
    with runtime.db.write() as session:
        no_tracking = sweeps.flag_no_tracking(
            session, now, timedelta(days=settings.no_tracking_days))
        stuck = sweeps.flag_stuck_in_transit(
            session, now, timedelta(days=settings.stuck_in_transit_days))
    with runtime.db.write() as session:
        emails = alerts.queue_owner_emails(
            session, now, timedelta(hours=settings.email_grace_hours), settings.owner_emails)
    if no_tracking or stuck or emails:
        log.info("alerts: %d without tracking, %d stuck in transit; %d owner e-mails queued",
                 no_tracking, stuck, emails)


def queue_tracking_polls(runtime: Runtime) -> None:
    """Queue supplier polls for parcels that are due and orders still without a parcel."""
    every = timedelta(hours=runtime.settings.scheduler.unshipped_check_hours)
    with runtime.db.write() as session:
        queued = polling.queue_due_polls(session, runtime.clock.now(), every)
    if queued:
        log.info("tracking: %d supplier polls queued", queued)


def queue_csv_exchanges(runtime: Runtime) -> None:
    """Spreadsheet suppliers: one exchange job each (orders out, tracking files in)."""
    queued = csv_exchange.queue_exchanges(runtime)
    if queued:
        log.info("csv suppliers: %d exchanges queued", queued)


class ClockJumpGuard:
    """Notices the wall clock jumping (NTP step, VM resume) and pulls the sweeps forward.

    APScheduler sleeps until each job's next wall-clock time: after a jump back of hours it
    would sleep for hours. Running every sweep once right away is safe (they are idempotent
    and coalesced) and keeps the schedule honest from then on.
    """

    def __init__(self, scheduler: BaseScheduler, threshold_seconds: float = 60.0) -> None:
        self.scheduler = scheduler
        self.threshold = threshold_seconds
        self._offset = time.time() - time.monotonic()

    def check(self) -> bool:
        offset = time.time() - time.monotonic()
        jumped = abs(offset - self._offset) > self.threshold
        self._offset = offset
        if jumped:
            log.warning("wall clock jumped by %.0f s: running every sweep now", offset)
            for job in self.scheduler.get_jobs():
                job.modify(next_run_time=datetime.now(UTC))
        return jumped


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    settings = runtime.settings.scheduler
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600,
    })
    scheduler.add_job(prune_old_records, "interval", args=[runtime], id="retention",
                      minutes=settings.retention_interval_minutes, replace_existing=True)
    scheduler.add_job(flag_attention_needed, "interval", args=[runtime], id="alerts",
                      minutes=runtime.settings.alerts.sweep_interval_minutes,
                      replace_existing=True)
    scheduler.add_job(queue_tracking_polls, "interval", args=[runtime], id="tracking_polls",
                      minutes=settings.tracking_sweep_minutes, replace_existing=True)
    scheduler.add_job(queue_csv_exchanges, "interval", args=[runtime], id="csv_suppliers",
                      minutes=settings.csv_interval_minutes, replace_existing=True)
    for extra in contributed():
        scheduler.add_job(extra.function, "interval", args=[runtime], id=extra.id,
                          minutes=extra.minutes, replace_existing=True)
    return scheduler
