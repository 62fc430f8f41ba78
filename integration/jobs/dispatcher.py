"""Embedded-mode outbox dispatcher: one polling thread feeding a small thread pool."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from integration.base import logs
from integration.jobs import chain, leases, outbox
from integration.jobs import metrics as job_metrics
from integration.jobs.registry import handler_for
from integration.kernel.heartbeat import beat
from integration.kernel.runtime import Runtime
from integration.limits import circuits

log = logging.getLogger(__name__)

HEARTBEAT_NAME = "dispatcher"
DEAD_JOB_ALERT = "job_failed"
HEARTBEAT_EVERY_SECONDS = 5.0
# Follow-ups one thread runs back to back before it leaves the rest to the others (so a long
# chain cannot hold a thread forever).
MAX_CHAINED = 16


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.dispatcher
        self.owner = worker_identity()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._slots = threading.Semaphore(self.settings.threads)
        self._pool = ThreadPoolExecutor(self.settings.threads, thread_name_prefix="outbox")
        self._thread: threading.Thread | None = None
        self._last_beat = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="outbox-dispatcher", daemon=True)
        self._thread.start()
        chain.set_announcer(self.wake)
        log.info("outbox dispatcher started with %d threads", self.settings.threads)

    def wake(self, _job_ids: object = None) -> None:
        """New jobs are due (committed in this process): poll now instead of at the next
        interval."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        chain.clear_announcer(self.wake)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._heartbeat()
                idle = self.run_once() == 0
            except OperationalError as exc:
                log.warning("outbox poll failed, will retry: %s", exc.orig)
                idle = True
            except Exception:
                log.exception("outbox poll failed")
                idle = True
            if idle and not self._stop.is_set():
                self._wake.wait(self.settings.poll_interval_seconds)
            self._wake.clear()

    def _heartbeat(self) -> None:
        if time.monotonic() - self._last_beat >= HEARTBEAT_EVERY_SECONDS:
            beat(self.runtime, HEARTBEAT_NAME)
            self._last_beat = time.monotonic()

    def run_once(self) -> int:
        """Claim as many due jobs as there are free threads and start them; -1 when every
        thread stayed busy for a whole poll interval. Waits for the first free thread, so a
        finished job is replaced at once (sleeping a poll interval while all threads were busy
        capped the embedded worker at about threads / 0.24 s: 16 jobs/s with 4 threads)."""
        if not self._slots.acquire(timeout=self.settings.poll_interval_seconds):
            return -1
        free = 1
        while self._slots.acquire(blocking=False):
            free += 1
        try:
            with self.runtime.db.write() as session:
                jobs = outbox.claim_due(
                    session, self.owner, self.runtime.clock.now(),
                    timedelta(seconds=self.settings.lease_seconds), free,
                )
        except BaseException:
            for _ in range(free):
                self._slots.release()
            raise
        for _ in range(free - len(jobs)):
            self._slots.release()
        for job in jobs:
            future: Future[None] = self._pool.submit(run_job, self.runtime, job)
            future.add_done_callback(lambda _f: self._slots.release())
        return len(jobs)


def run_job(runtime: Runtime, job: outbox.ClaimedJob, chained: bool = True) -> None:
    """Run one claimed job and record its outcome; never raises.

    `chained`: the follow-up jobs it commits (due at once) run next in this thread, each
    claimed in the transaction that completes the one before (up to MAX_CHAINED; the rest are
    announced to the process, see `chain`). Without it they are announced."""
    next_job: outbox.ClaimedJob | None = job
    budget = MAX_CHAINED if chained else 0
    while next_job is not None:
        token = logs.job_id.set(f"{next_job.id}:{next_job.attempt}")
        try:
            with leases.keeper(runtime).holding(next_job):
                next_job = _run_and_record(runtime, next_job, budget > 0)
        finally:
            logs.job_id.reset(token)
        budget -= 1


def _run_and_record(runtime: Runtime, job: outbox.ClaimedJob,
                    chained: bool) -> outbox.ClaimedJob | None:
    """Run `job`, record its outcome; the follow-up claimed to run next, if any."""
    settings = runtime.settings.dispatcher
    started = time.perf_counter()
    try:
        if chained:
            with chain.collecting() as follow_ups:
                handler_for(job.kind)(runtime, job)
        else:
            handler_for(job.kind)(runtime, job)
            follow_ups = []
    except Exception as exc:
        job_metrics.observe(job.kind, time.perf_counter() - started, failed=True)
        remote = circuits.remote_of(exc)
        with runtime.db.write() as session:
            now = runtime.clock.now()
            opened = circuits.record_failure(session, remote, now, str(exc), settings) \
                if remote is not None else None
            state = outbox.fail(session, job, exc, now, settings.backoff_base_seconds,
                                settings.backoff_max_seconds, remote=remote,
                                remote_down_wait=settings.circuit_max_open_seconds
                                if opened else None)
            _tell_the_owner(session, job, exc, state, remote, opened, now)
        level = logging.ERROR if state == outbox.DEAD else logging.WARNING
        log.log(level, "job %s (%s) attempt %d failed -> %s: %s",
                job.id, job.kind, job.attempt, state, exc)
        return None
    job_metrics.observe(job.kind, time.perf_counter() - started, failed=False)
    follow_up: outbox.ClaimedJob | None = None
    with runtime.db.write() as session:
        now = runtime.clock.now()
        if not outbox.complete(session, job, now):
            log.warning("job %s finished after its lease was taken over", job.id)
        if follow_ups:
            follow_up = outbox.claim_one(session, follow_ups[0], job.lease_owner, now,
                                         timedelta(seconds=settings.lease_seconds))
    # The follow-ups are committed (the handler's transactions): the one claimed runs next,
    # the others (and one that could not be claimed: its serial key was busy) are announced.
    chain.announce(follow_ups[1:] if follow_up is not None else follow_ups)
    return follow_up


def _tell_the_owner(session: Session, job: outbox.ClaimedJob, error: Exception, state: str,
                    remote: str | None, opened: circuits.Opened | None,
                    now: datetime) -> None:
    """A dead letter, or a remote found down, is an owner alert (with its e-mail)."""
    from integration.jobs import alerts

    if opened is not None and opened.newly and remote is not None:
        alerts.raise_alert(session, circuits.REMOTE_DOWN_ALERT, f"{remote}:{now.isoformat()}", (
            f"{remote.replace(':', ' ')} is not answering ({str(error)[:200]}). DropTrack "
            f"pauses its work and resumes by itself when it answers again."), now,
            store_id=job.store_id)
    if state == outbox.DEAD and job.kind != alerts.OWNER_ALERT_JOB:
        order_id = job.payload.get("order_id")
        order_id = order_id if isinstance(order_id, int) else None
        alerts.raise_alert(session, DEAD_JOB_ALERT, f"job:{job.id}:{job.attempt}", (
            f"A {job.kind} job gave up after {job.attempt} attempt(s): {str(error)[:300]}. "
            f"Fix the cause, then run it again (`droptrack jobs replay {job.id}`)."), now,
            store_id=job.store_id, order_id=order_id)
