"""`droptrack scheduler`: the one active scheduler of a scaled-out install.

It waits for leadership (hot standby), then runs the timed sweeps (APScheduler) and moves due
outbox jobs onto the Redis queue every second. It only enqueues; workers do the work.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from integration.jobs import chain, outbox
from integration.jobs.workers import make_broker, send
from integration.kernel.heartbeat import beat
from integration.kernel.runtime import Runtime
from integration.scheduling.leadership import leadership, still_leader
from integration.scheduling.scheduler import ClockJumpGuard, build_scheduler
from integration.storage.listen import Listener, listener

log = logging.getLogger(__name__)

HEARTBEAT_NAME = "scheduler"
SWEEP_BATCH = 500
# Woken by web processes' NOTIFY, sweeps are at least this far apart: one sweep (one
# transaction, one batch of sends) for the many jobs of a busy moment, not one per delivery.
MIN_SWEEP_GAP_SECONDS = 0.05


def run(runtime: Runtime, stop: threading.Event) -> None:
    settings = runtime.settings.workers
    with leadership(runtime, stop, settings.standby_poll_seconds) as leading:
        if not leading:
            return
        broker = make_broker(settings.redis_url)
        scheduler = build_scheduler(runtime)
        scheduler.start()
        try:
            _sweep_loop(runtime, broker, stop, ClockJumpGuard(scheduler))
        finally:
            scheduler.shutdown(wait=False)
            broker.close()


def _sweep_loop(runtime: Runtime, broker: object, stop: threading.Event,
                guard: ClockJumpGuard) -> None:
    settings = runtime.settings.workers
    grace = timedelta(seconds=settings.queue_grace_seconds)
    woken = listener(runtime.db, chain.NOTIFY_CHANNEL) if settings.send_at_commit else None
    try:
        _sweep_until_stopped(runtime, broker, stop, guard, grace, woken)
    finally:
        if woken is not None:
            woken.close()


def _sweep_until_stopped(runtime: Runtime, broker: object, stop: threading.Event,
                         guard: ClockJumpGuard, grace: timedelta,
                         woken: Listener | None) -> None:
    """Sweep every `sweep_interval_seconds`, and at once (MIN_SWEEP_GAP_SECONDS apart) when
    a web process NOTIFYs that it stored a due job."""
    settings = runtime.settings.workers
    last_beat = 0.0
    while not stop.is_set():
        if time.monotonic() - last_beat >= 5:
            if not still_leader(runtime):
                log.error("database connection lost: stepping down")
                return
            beat(runtime, HEARTBEAT_NAME)
            guard.check()
            last_beat = time.monotonic()
        try:
            queued = sweep_once(runtime, broker, grace)
        except Exception:
            log.exception("outbox sweep failed; retrying")
            queued = 0
        if queued >= SWEEP_BATCH:
            continue
        if woken is None:
            stop.wait(settings.sweep_interval_seconds)
        elif woken.wait(settings.sweep_interval_seconds):
            stop.wait(MIN_SWEEP_GAP_SECONDS)


def sweep_once(runtime: Runtime, broker: object, grace: timedelta) -> int:
    """Mark due jobs as queued (committed first), then send them. A send that fails leaves
    them to be queued again once `grace` has passed."""
    lease = timedelta(seconds=runtime.settings.dispatcher.lease_seconds)
    with runtime.db.write() as session:
        ids = outbox.mark_for_queue(session, runtime.clock.now(), grace, SWEEP_BATCH, lease)
    if ids:
        send(broker, ids)  # type: ignore[arg-type]
    return len(ids)
