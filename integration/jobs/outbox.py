"""The outbox: jobs written in the same transaction as the state change that wants them.

A job is claimed with a lease; a worker that dies leaves the lease to expire and the job is
claimed again. Retryable failures back off exponentially with jitter; permanent failures and
exhausted retries are dead-lettered for the owner to inspect and replay.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

# Re-exported: job handlers raise these to say how the outbox should treat a failure.
from core.errors import PermanentError as PermanentError
from core.errors import RetryableError as RetryableError
from integration.jobs import chain
from integration.limits.circuits import record_success
from integration.storage.insert_once import insert_once
from integration.storage.models import OutboxJob

PENDING = "pending"
RUNNING = "running"
DONE = "done"
DEAD = "dead"

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    store_id: int | None
    attempt: int
    lease_owner: str


def enqueue(session: Session, kind: str, idempotency_key: str, payload: dict[str, Any],
            now: datetime, store_id: int | None = None, max_attempts: int = 8,
            run_at: datetime | None = None, serial_key: str | None = None) -> bool:
    """Add a job unless one with the same idempotency key exists. True when added.

    Runs inside the caller's transaction; a duplicate key leaves the rest of the caller's work
    intact (the insert simply does nothing).
    """
    return enqueue_row(session, new_job_row(
        kind, idempotency_key, payload, now, store_id=store_id, max_attempts=max_attempts,
        run_at=run_at, serial_key=serial_key,
    ))


def enqueue_row(session: Session, row: dict[str, Any]) -> bool:
    """`enqueue` for a row built by `new_job_row`. True when added. A job that is due at once
    is started when the transaction commits (`chain`), not when a sweep finds it."""
    session.flush()  # pending ORM rows (e.g. the store a job refers to) go first
    job_id = insert_once(session, OutboxJob, row, unique=JOB_UNIQUE)
    if job_id is None:
        return False
    if row["next_run_at"] <= row["created_at"]:
        chain.note_new_job(session, job_id)
    return True


JOB_UNIQUE = ("idempotency_key",)


def new_job_row(kind: str, idempotency_key: str, payload: dict[str, Any], now: datetime,
                store_id: int | None = None, max_attempts: int = 8,
                run_at: datetime | None = None, serial_key: str | None = None
                ) -> dict[str, Any]:
    """The column values of a new pending job (also written by the intake's driver path)."""
    return {
        "kind": kind, "idempotency_key": idempotency_key, "payload": payload,
        "store_id": store_id, "serial_key": serial_key, "state": PENDING, "attempts": 0,
        "max_attempts": max_attempts, "next_run_at": run_at or now, "created_at": now,
        "updated_at": now,
        # Pending: when it was last queued (see mark_for_queue); set when this process sends
        # its new jobs to the queue itself at commit (chain.queued_until).
        "lease_expires_at": None if run_at is not None and run_at > now
        else chain.queued_until(now),
    }


# Workers read the clock before they get the database lock, so a lease another worker set a
# moment later can lie slightly beyond `now + lease`; only far beyond is a clock jump.
CLOCK_SLACK = timedelta(minutes=5)


def _due(now: datetime, lease: timedelta, horizon: timedelta) -> ColumnElement[bool]:
    """Runnable now. Times further ahead than any lease or retry delay we ever set can only
    come from a clock that jumped back; they count as due instead of stalling for hours."""
    return or_(
        (OutboxJob.state == PENDING)
        & ((OutboxJob.next_run_at <= now) | (OutboxJob.next_run_at > now + horizon)),
        (OutboxJob.state == RUNNING)
        & ((OutboxJob.lease_expires_at <= now)
           | (OutboxJob.lease_expires_at > now + lease + CLOCK_SLACK)),
    )


DEFAULT_HORIZON = timedelta(days=1)


@dataclass(frozen=True)
class StoreFilter:
    """Which stores' jobs a claim may take: only those in `only` (when given), never those in
    `skip`. Jobs without a store pass unless `only` is given."""

    only: frozenset[int] | None = None
    skip: frozenset[int] = frozenset()

    def clause(self) -> ColumnElement[bool]:
        if self.only is not None:
            return OutboxJob.store_id.in_(sorted(self.only - self.skip))
        if not self.skip:
            return true()
        return OutboxJob.store_id.is_(None) | OutboxJob.store_id.not_in(sorted(self.skip))


def claim_due(session: Session, owner: str, now: datetime, lease: timedelta,
              limit: int, horizon: timedelta = DEFAULT_HORIZON, *,
              stores: StoreFilter | None = None) -> list[ClaimedJob]:
    """Lease up to `limit` jobs that are due, or whose previous lease expired.

    A job whose serial key belongs to a job running under a live lease waits its turn.
    `stores` narrows the claim to some stores' jobs or away from them (budget-aware dispatch).
    """
    due = _due(now, lease, horizon)
    if stores is not None:
        due = due & stores.clause()
    busy = select(OutboxJob.serial_key).where(
        OutboxJob.state == RUNNING, OutboxJob.lease_expires_at > now,
        OutboxJob.serial_key.is_not(None))
    query = (select(OutboxJob)
             .where(due, or_(OutboxJob.serial_key.is_(None), OutboxJob.serial_key.not_in(busy)))
             .order_by(OutboxJob.next_run_at, OutboxJob.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    taken: set[str] = set()
    for job in session.scalars(query):
        if job.serial_key is not None:
            if job.serial_key in taken:
                continue
            taken.add(job.serial_key)
        job.state = RUNNING
        job.attempts += 1
        job.lease_owner = owner
        job.lease_expires_at = now + lease
        job.updated_at = now
        claimed.append(ClaimedJob(job.id, job.kind, job.idempotency_key, dict(job.payload),
                                  job.store_id, job.attempts, owner))
    return claimed


def claim_one(session: Session, job_id: int, owner: str, now: datetime,
              lease: timedelta) -> ClaimedJob | None:
    """Lease one named job if it is runnable now (a worker got its id from the queue, or a job
    chains its follow-up), in one `UPDATE ... RETURNING`.

    None when another worker has it, it is finished, not due yet, or its serial key is busy:
    a duplicate or stale queue message is harmless. On PostgreSQL a row another transaction
    holds is skipped, not waited for (`FOR UPDATE SKIP LOCKED` in the statement); SQLite has
    one writer at a time. The statement is built once per dialect (building it cost more
    CPU than running it).
    """
    statement = _claim_statement(session.get_bind().dialect.name)
    row = session.connection().execute(statement, {
        "job_id": job_id, "owner": owner, "now": now, "lease_at": now + lease,
        "far_at": now + DEFAULT_HORIZON, "stale_at": now + lease + CLOCK_SLACK}).one_or_none()
    if row is None:
        return None
    return ClaimedJob(row.id, row.kind, row.idempotency_key, dict(row.payload), row.store_id,
                      row.attempts, owner)


@lru_cache(maxsize=4)
def _claim_statement(dialect: str) -> Update:
    table = _table()
    c = table.c
    now = bindparam("now", type_=c.next_run_at.type)
    other = table.alias("other")
    due = _due_bound(c, now)
    serial_busy = exists().where(
        other.c.serial_key == c.serial_key, other.c.id != c.id,
        other.c.state == RUNNING, other.c.lease_expires_at > now)
    job_id = bindparam("job_id", type_=c.id.type)
    target: ColumnElement[bool] = c.id == job_id
    if dialect == "postgresql":
        target = c.id == (select(c.id).where(c.id == job_id)
                          .with_for_update(skip_locked=True).scalar_subquery())
    return (update(table)
            .where(target, due, c.serial_key.is_(None) | ~serial_busy)
            .values(state=RUNNING, attempts=c.attempts + 1, lease_owner=bindparam("owner"),
                    lease_expires_at=bindparam("lease_at", type_=now.type), updated_at=now)
            .returning(c.id, c.kind, c.idempotency_key, c.payload, c.store_id, c.attempts))


def _table() -> Table:
    table: Table = OutboxJob.__table__  # type: ignore[assignment]
    return table


def mark_for_queue(session: Session, now: datetime, grace: timedelta, limit: int,
                   lease: timedelta, horizon: timedelta = DEFAULT_HORIZON) -> list[int]:
    """Ids of jobs to put on the message queue now, marked so they are not sent again
    before `grace` has passed (after which a lost message is simply sent again).

    A pending job carries no lease, so its lease column records when it was last queued. A
    running job whose lease expired (its worker died) goes back in line. One statement, built
    once per dialect (the scheduler sweeps as soon as a web process stores a job).
    """
    rows = session.connection().execute(_mark_statement(session.get_bind().dialect.name), {
        "now": now, "far_at": now + horizon, "stale_at": now + lease + CLOCK_SLACK,
        "requeue_at": now + grace + CLOCK_SLACK, "grace_at": now + grace, "limit": limit})
    return [row.id for row in sorted(rows, key=lambda row: (row.next_run_at, row.id))]


def _due_bound(c: Any, now: BindParameter[datetime]) -> ColumnElement[bool]:
    """`_due` with bound parameters: now, far_at (now + horizon), stale_at (now + lease +
    CLOCK_SLACK)."""
    return or_(
        (c.state == PENDING)
        & ((c.next_run_at <= now) | (c.next_run_at > bindparam("far_at", type_=now.type))),
        (c.state == RUNNING)
        & ((c.lease_expires_at <= now)
           | (c.lease_expires_at > bindparam("stale_at", type_=now.type))))


@lru_cache(maxsize=4)
def _mark_statement(dialect: str) -> Update:
    table = _table()
    c = table.c
    now = bindparam("now", type_=c.next_run_at.type)
    not_queued_recently = (c.lease_expires_at.is_(None) | (c.lease_expires_at <= now)
                           | (c.lease_expires_at > bindparam("requeue_at", type_=now.type)))
    candidates = (select(c.id)
                  .where(_due_bound(c, now), (c.state == RUNNING) | not_queued_recently)
                  .order_by(c.next_run_at, c.id).limit(bindparam("limit")))
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return (update(table).where(c.id.in_(candidates))
            .values(state=case((c.state == RUNNING, PENDING), else_=c.state),
                    lease_owner=case((c.state == RUNNING, None), else_=c.lease_owner),
                    lease_expires_at=bindparam("grace_at", type_=now.type), updated_at=now)
            .returning(c.id, c.next_run_at))


def renew_leases(session: Session, jobs: Sequence[ClaimedJob], now: datetime,
                 lease: timedelta) -> set[tuple[int, str]]:
    """Extend the leases of `jobs` that their owners still hold to `now + lease`. Returns the
    (id, owner) pairs renewed; a job missing from them was taken over (its lease had run out)
    or has finished."""
    if not jobs:
        return set()
    held = or_(*(and_(OutboxJob.id == job.id, OutboxJob.lease_owner == job.lease_owner,
                      OutboxJob.attempts == job.attempt) for job in jobs))
    renewed = session.execute(
        update(OutboxJob).where(OutboxJob.state == RUNNING, held)
        .values(lease_expires_at=now + lease).returning(OutboxJob.id, OutboxJob.lease_owner))
    return {(job_id, str(owner)) for job_id, owner in renewed}


def _owned(session: Session, job: ClaimedJob) -> OutboxJob | None:
    """The job row if this worker still holds its lease (a stale worker must not finish it)."""
    row = session.get(OutboxJob, job.id)
    if row is None or row.state != RUNNING or row.lease_owner != job.lease_owner:
        return None
    if row.attempts != job.attempt:
        return None
    return row


def complete(session: Session, job: ClaimedJob, now: datetime) -> bool:
    """Record a finished job, in one `UPDATE ... RETURNING`, if this worker still holds its
    lease (a stale worker must not finish it: the lease expired and another worker claimed
    it, which counted an attempt). A job that had failed to reach a remote closes that
    remote's circuit (a second statement, on that path only)."""
    done = session.connection().execute(_complete_statement(), {
        "job_id": job.id, "owner": job.lease_owner, "attempt": job.attempt,
        "now": now}).one_or_none()
    if done is None:
        return False
    if done.remote is not None:  # it reached the remote it had failed to reach
        record_success(session, done.remote)
        session.execute(update(OutboxJob).where(OutboxJob.id == job.id).values(remote=None)
                        .execution_options(synchronize_session=False))
    return True


def hand_back(session: Session, job: ClaimedJob, due_at: datetime, now: datetime) -> bool:
    """Put a claimed job back in line, due at `due_at`, as if it had not been claimed: no
    attempt counted, no error recorded (its store's budget could not pay for its first call
    yet, and nothing was sent). False when this worker no longer holds its lease."""
    row = _owned(session, job)
    if row is None:
        return False
    row.state = PENDING
    row.attempts = max(row.attempts - 1, 0)
    row.next_run_at = due_at
    row.lease_owner = None
    row.lease_expires_at = None
    row.updated_at = now
    return True


@lru_cache(maxsize=1)
def _complete_statement() -> Update:
    c = _table().c
    now = bindparam("now", type_=c.finished_at.type)
    return (update(_table())
            .where(c.id == bindparam("job_id", type_=c.id.type), c.state == RUNNING,
                   c.lease_owner == bindparam("owner", type_=c.lease_owner.type),
                   c.attempts == bindparam("attempt", type_=c.attempts.type))
            .values(state=DONE, finished_at=now, updated_at=now, lease_owner=None,
                    lease_expires_at=None, last_error=None)
            .returning(c.remote))


def backoff_seconds(attempt: int, base: float, cap: float,
                    rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: uniform in [base/2, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(min(base / 2, ceiling), ceiling)


PAUSED = "paused"  # what `fail` reports for a job waiting for its remote's circuit


def fail(session: Session, job: ClaimedJob, error: BaseException, now: datetime,
         backoff_base: float, backoff_max: float, remote: str | None = None,
         remote_down_wait: float | None = None) -> str:
    """Record a failure: schedule a retry or dead-letter. Returns the job's new state.

    A job that has used up its attempts against a `remote` that is down (its circuit open:
    `remote_down_wait` given) is not dead-lettered: it waits, retrying at most that many
    seconds apart, until the remote answers again. An outage strands nothing."""
    row = _owned(session, job)
    if row is None:
        return "lost-lease"
    row.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
    row.updated_at = now
    row.lease_owner = None
    row.lease_expires_at = None
    if remote is not None:
        row.remote = remote
    if remote_down_wait is not None and not isinstance(error, PermanentError) \
            and row.attempts >= row.max_attempts:
        row.state = PENDING
        row.next_run_at = now + timedelta(seconds=min(
            remote_down_wait, backoff_seconds(min(row.attempts, 30), backoff_base,
                                              backoff_max)))
        return PAUSED
    permanent = isinstance(error, PermanentError) or row.attempts >= row.max_attempts
    if permanent:
        row.state = DEAD
        row.finished_at = now
        return DEAD
    delay = backoff_seconds(row.attempts, backoff_base, backoff_max)
    if isinstance(error, RetryableError) and error.retry_after_seconds is not None:
        delay = max(delay, error.retry_after_seconds)
    row.state = PENDING
    row.next_run_at = now + timedelta(seconds=delay)
    return PENDING


def replay(session: Session, job_id: int, now: datetime) -> bool:
    """Put a dead (or finished) job back in the queue with a fresh attempt budget."""
    row = session.get(OutboxJob, job_id)
    if row is None or row.state == RUNNING:
        return False
    row.state = PENDING
    row.attempts = 0
    row.next_run_at = now
    row.finished_at = None
    row.updated_at = now
    return True


def list_jobs(session: Session, states: Sequence[str] | None = None,
              limit: int = 50) -> list[OutboxJob]:
    query = select(OutboxJob).order_by(OutboxJob.id.desc()).limit(limit)
    if states:
        query = query.where(OutboxJob.state.in_(states))
    return list(session.scalars(query))


def prune_done(session: Session, older_than: datetime) -> int:
    """Finished jobs are deleted after the retention period; dead ones stay for the owner."""
    result = session.execute(
        delete(OutboxJob)
        .where(OutboxJob.state == DONE, OutboxJob.finished_at < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
