"""The one APScheduler of a process: fixed job ids, idempotent sweeps, cursors in our tables."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from integration import inbox, outbox
from integration.runtime import Runtime

log = logging.getLogger(__name__)


def prune_old_records(runtime: Runtime) -> None:
    """Delete processed deliveries and finished jobs past retention; dead jobs stay."""
    cutoff = runtime.clock.now() - timedelta(days=runtime.settings.scheduler.retention_days)
    with runtime.db.write() as session:
        deliveries = inbox.prune_processed(session, cutoff)
        jobs = outbox.prune_done(session, cutoff)
    if deliveries or jobs:
        log.info("retention: pruned %d deliveries and %d finished jobs", deliveries, jobs)


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    settings = runtime.settings.scheduler
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600,
    })
    scheduler.add_job(prune_old_records, "interval", args=[runtime], id="retention",
                      minutes=settings.retention_interval_minutes, replace_existing=True)
    return scheduler
