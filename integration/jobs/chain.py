"""Follow-up jobs are started when the transaction that created them commits, not when the
next sweep finds them.

The outbox row stays the source of truth: this module only says "job N is due now" sooner.
`outbox.enqueue_row` notes every new job that is due at once on its session; when that
session commits, the ids go to

- the job that is running in this thread, when `collecting` (`dispatcher.run_job`): it claims
  the first follow-up in the transaction that completes it and runs it next, in the same
  thread (an order's `inbox.process` -> `supplier.forward` costs no wait and no extra claim
  transaction), and announces the rest;
- otherwise the process's announcer (`set_announcer`): the embedded dispatcher wakes up
  (`Dispatcher.wake`), a Dramatiq worker puts them on the queue itself;
- and a web process of the scaled-out layout on PostgreSQL (`set_notify`) sends
  `NOTIFY droptrack_outbox` in the transaction that writes a due job: the scheduler LISTENs
  and sweeps at once instead of at its next interval (the web never talks to Redis).

A rolled-back transaction announces nothing. An announcement that is lost (a crash right
after the commit, Redis away) only delays the job: the dispatcher's poll or the scheduler's
sweep still finds it, and a message for a job another worker already has is ignored by the
claim (`outbox.claim_one`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_NEW_JOBS = "droptrack.new_due_jobs"
NOTIFY_CHANNEL = "droptrack_outbox"
NOTIFY_SQL = f"NOTIFY {NOTIFY_CHANNEL}"

Announcer = Callable[[Sequence[int]], None]


class _State:
    announcer: Announcer | None = None
    # When the announcer queues messages (scaled out), a new job is recorded as queued until
    # then (its lease column, as the scheduler's sweep does), so the sweep does not send it a
    # second time; a lost message is sent again by the sweep once this has passed.
    queued_for: timedelta | None = None
    notify = False  # NOTIFY the scheduler in transactions that write due jobs (PostgreSQL)


_state = _State()
_collected: ContextVar[list[int] | None] = ContextVar("droptrack_chained_jobs", default=None)


def set_announcer(announcer: Announcer | None, queued_for: timedelta | None = None) -> None:
    """Who hears of new due jobs in this process (one per process; None: nobody, the
    dispatcher's poll or the scheduler's sweep finds them)."""
    _state.announcer = announcer
    _state.queued_for = queued_for


def clear_announcer(announcer: Announcer) -> None:
    """No announcer any more, if `announcer` is still the one (a stopping dispatcher)."""
    if _state.announcer == announcer:
        set_announcer(None)


def queued_until(now: datetime) -> datetime | None:
    """The lease column of a new job written in this process (see `_State.queued_for`)."""
    return None if _state.queued_for is None else now + _state.queued_for


def set_notify(on: bool) -> None:
    """This process (a scaled-out web process) tells the scheduler of its new due jobs."""
    _state.notify = on


def notifies(dialect: str) -> bool:
    """Whether a transaction of this process that writes a due job sends `NOTIFY_SQL`."""
    return _state.notify and dialect == "postgresql"


def note_new_job(session: Session, job_id: int) -> None:
    """Job `job_id`, due now, was written in `session`'s transaction."""
    new = session.info.get(_NEW_JOBS)
    if new is None:
        session.info[_NEW_JOBS] = new = []
        if notifies(session.get_bind().dialect.name):  # once per transaction, sent at commit
            session.execute(text(NOTIFY_SQL))
    new.append(job_id)


def announce(job_ids: Sequence[int]) -> None:
    """Tell the process's announcer that these committed jobs are due; never raises (the
    sweep is the safety net)."""
    announcer = _state.announcer
    if not job_ids or announcer is None:
        return
    try:
        announcer(job_ids)
    except Exception:
        log.warning("could not announce jobs %s; the sweep will find them", list(job_ids),
                    exc_info=True)


@contextmanager
def collecting() -> Iterator[list[int]]:
    """Collect the due jobs committed in this thread (context) while the block runs, instead
    of announcing them: the caller decides what runs next."""
    ids: list[int] = []
    token = _collected.set(ids)
    try:
        yield ids
    finally:
        _collected.reset(token)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    ids = session.info.pop(_NEW_JOBS, None)
    if not ids:
        return
    collected = _collected.get()
    if collected is not None:
        collected.extend(ids)
    else:
        announce(ids)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():  # the outermost transaction ended: nothing was written
        session.info.pop(_NEW_JOBS, None)
