"""Embedded-mode outbox dispatcher: one polling thread feeding a small thread pool."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Set
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core import budget
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


@dataclass(frozen=True)
class Outcome:
    """What running a job taught the dispatcher about its store's budget."""

    deferred_until: datetime | None = None  # handed back: the store's budget is short till then
    budgeted: bool = False  # the job spent from a rate budget (core.budget)


def claim_plan(free: Set[int], short_until: Mapping[int, datetime],
               now: datetime) -> tuple[outbox.StoreFilter, ...]:
    """The claims to make, in order, for budget-aware dispatch.

    Stores whose budget is short (a job of theirs was handed back until a time still ahead)
    are skipped: their jobs would only be handed back again. Stores known to be `free` (their
    jobs have never spent from a rate budget: WooCommerce) come last: a Shopify bucket left
    full wastes its refill, while work without a budget loses nothing by waiting a moment.
    Everything else, in due order, goes first: stores with a budget, stores not known yet (so
    they are learnt at once), and jobs of no store.
    """
    skip = frozenset(store for store, until in short_until.items() if until > now)
    last = frozenset(free) - skip
    if not free:
        return (outbox.StoreFilter(skip=skip),)
    first = outbox.StoreFilter(skip=skip | frozenset(free))
    return (first, outbox.StoreFilter(only=last)) if last else (first,)


def idle_wait(short_until: Mapping[int, datetime], now: datetime, poll: float) -> float:
    """How long an idle dispatcher waits: its poll interval, or less when a skipped store's
    budget is back sooner (its jobs are due then)."""
    ahead = [(until - now).total_seconds() for until in short_until.values() if until > now]
    return min([poll, *ahead]) if ahead else poll


class StoreBudgets:
    """What this dispatcher learnt from its jobs about their stores' budgets (in memory: a
    restart forgets it, and the first job handed back teaches it again)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._budgeted: set[int] = set()
        self._free: set[int] = set()  # stores whose jobs never spent from a rate budget
        self._short_until: dict[int, datetime] = {}
        self.handed_back: Counter[int] = Counter()  # jobs handed back so far, per store

    def learn(self, store_id: int | None, outcome: Outcome) -> None:
        if store_id is None:
            return
        with self._lock:
            if outcome.budgeted or outcome.deferred_until is not None:
                self._budgeted.add(store_id)  # once seen with a budget, always
                self._free.discard(store_id)
            elif store_id not in self._budgeted:
                self._free.add(store_id)
            if outcome.deferred_until is not None:
                self.handed_back[store_id] += 1
                self._short_until[store_id] = max(
                    outcome.deferred_until, self._short_until.get(store_id, outcome.deferred_until))

    def plan(self, now: datetime) -> tuple[outbox.StoreFilter, ...]:
        with self._lock:
            for store, until in list(self._short_until.items()):
                if until <= now:
                    del self._short_until[store]
            return claim_plan(self._free, self._short_until, now)

    def idle_wait(self, now: datetime, poll: float) -> float:
        with self._lock:
            return idle_wait(self._short_until, now, poll)


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
        self.budgets = StoreBudgets()

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
                self._wake.wait(self.budgets.idle_wait(self.runtime.clock.now(),
                                                       self.settings.poll_interval_seconds))
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
                now = self.runtime.clock.now()
                lease = timedelta(seconds=self.settings.lease_seconds)
                if not self.settings.budget_aware:
                    jobs = outbox.claim_due(session, self.owner, now, lease, free)
                else:
                    jobs = []
                    for stores in self.budgets.plan(now):
                        jobs += outbox.claim_due(session, self.owner, now, lease,
                                                 free - len(jobs), stores=stores)
                        if len(jobs) == free:
                            break
        except BaseException:
            for _ in range(free):
                self._slots.release()
            raise
        for _ in range(free - len(jobs)):
            self._slots.release()
        for job in jobs:
            future: Future[list[Ran]] = self._pool.submit(run_job, self.runtime, job)
            future.add_done_callback(self._finished)
        return len(jobs)

    def _finished(self, done: Future[list[Ran]]) -> None:
        try:
            if not done.cancelled() and done.exception() is None:
                for store_id, outcome in done.result():  # the job, then those it chained
                    self.budgets.learn(store_id, outcome)
        finally:
            self._slots.release()


Ran = tuple[int | None, Outcome]
"""A job that ran: its store and what it taught about that store's budget."""


def run_job(runtime: Runtime, job: outbox.ClaimedJob, chained: bool = True) -> list[Ran]:
    """Run one claimed job and record its outcome; never raises.

    `chained`: the follow-up jobs it commits (due at once) run next in this thread, each
    claimed in the transaction that completes the one before (up to MAX_CHAINED; the rest are
    announced to the process, see `chain`). Without it they are announced. Returns every job
    that ran, the first one first."""
    ran: list[Ran] = []
    next_job: outbox.ClaimedJob | None = job
    remaining = MAX_CHAINED if chained else 0
    while next_job is not None:
        current = next_job
        token = logs.job_id.set(f"{current.id}:{current.attempt}")
        try:
            with leases.keeper(runtime).holding(current), budget.job_scope() as scope:
                deferred_until, next_job = _run_and_record(runtime, current, remaining > 0)
            ran.append((current.store_id, Outcome(deferred_until, scope.budgeted)))
        finally:
            logs.job_id.reset(token)
        remaining -= 1
    return ran


def _run_and_record(runtime: Runtime, job: outbox.ClaimedJob, chained: bool,
                    ) -> tuple[datetime | None, outbox.ClaimedJob | None]:
    """Run `job`'s handler and record how it ended. Returns (when the job is due again if it
    was handed back because its store's budget could not pay for its first call yet, the
    follow-up claimed to run next, if any)."""
    settings = runtime.settings.dispatcher
    started = time.perf_counter()
    try:
        if chained:
            with chain.collecting() as follow_ups:
                handler_for(job.kind)(runtime, job)
        else:
            handler_for(job.kind)(runtime, job)
            follow_ups = []
    except budget.NotReady as short:  # nothing was sent: not an attempt, not an error
        now = runtime.clock.now()
        due_at = now + timedelta(seconds=short.seconds)
        with runtime.db.write() as session:
            handed_back = outbox.hand_back(session, job, due_at, now)
        log.debug("job %s (%s) handed back until %s: %s", job.id, job.kind, due_at, short)
        return (due_at if handed_back else None), None
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
        return None, None
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
    return None, follow_up


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
