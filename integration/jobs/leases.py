"""Keeps the leases of the jobs this process is running alive while they run.

A lease says "this worker is on it"; when it runs out, another worker may claim the job. A job
that outlives its lease while its worker is still alive (a long wait for a shop's API budget, a
slow supplier) would then run twice at once: two fulfillments, two supplier orders. So each
process renews its running jobs' leases every third of the lease, in one UPDATE; only a worker
that died (or stalled for a whole lease) lets its leases expire.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from core.clock import Clock
from integration.base.process_thread import ProcessThread
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.storage.db import Database

log = logging.getLogger(__name__)

MIN_RENEW_EVERY_SECONDS = 0.2


class LeaseKeeper:
    """The jobs this process runs, and a daemon thread renewing their leases (started with the
    first job, stopped by `close`)."""

    def __init__(self, db: Database, clock: Clock, lease: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.lease = lease
        self.renew_every = max(lease.total_seconds() / 3, MIN_RENEW_EVERY_SECONDS)
        self._held: dict[tuple[int, str], outbox.ClaimedJob] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = ProcessThread("lease-keeper", self._run)
        self.on_lost: Callable[[outbox.ClaimedJob], None] = _warn_lost

    @contextmanager
    def holding(self, job: outbox.ClaimedJob) -> Iterator[None]:
        """Keep `job`'s lease alive for the duration of the block."""
        key = (job.id, job.lease_owner)
        with self._lock:
            self._held[key] = job
            if not self._thread.running() and not self._stop.is_set():
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(key, None)

    def renew_now(self) -> None:
        """Push every held lease to now + lease; report the ones this process no longer has."""
        with self._lock:
            jobs = list(self._held.values())
        if not jobs:
            return
        with self.db.write() as session:
            kept = outbox.renew_leases(session, jobs, self.clock.now(), self.lease)
        for job in jobs:
            if (job.id, job.lease_owner) not in kept:
                with self._lock:  # reported once: the job is no longer ours to renew
                    self._held.pop((job.id, job.lease_owner), None)
                self.on_lost(job)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                self.renew_now()
            except Exception:  # the database was away: try again at the next turn
                log.warning("could not renew job leases", exc_info=True)


def _warn_lost(job: outbox.ClaimedJob) -> None:
    log.warning("job %s (%s) lost its lease while running; its outcome will not be recorded",
                job.id, job.kind)


def keeper(runtime: Runtime) -> LeaseKeeper:
    """The lease keeper of this runtime's process (one per runtime, closed with it)."""
    return runtime.resource("leases", lambda rt: LeaseKeeper(
        rt.db, rt.clock, timedelta(seconds=rt.settings.dispatcher.lease_seconds)))
