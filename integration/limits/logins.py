"""Fixed-window rate limits kept in the database, so every web worker shares one count.

No Flask here: the views decide the key (an address, an address + account) and what to say.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.storage.accounts import RateLimit


def _row(session: Session, key: str, now: datetime) -> RateLimit:
    query = select(RateLimit).where(RateLimit.key == key)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.scalar(query)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = RateLimit(key=key, count=0, window_started_at=now)
            session.add(row)
            session.flush()
    except IntegrityError:  # another worker created it meanwhile
        row = session.scalars(query).one()
    return row


def blocked_until(session: Session, key: str, now: datetime) -> datetime | None:
    """When the key may try again, or None when it is not blocked now."""
    until = session.scalar(select(RateLimit.blocked_until).where(RateLimit.key == key))
    return until if until is not None and until > now else None


def hit(session: Session, key: str, now: datetime, limit: int, window: timedelta) -> bool:
    """Count one attempt; False when it is over the limit (the key is then blocked until the
    window ends)."""
    row = _row(session, key, now)
    if row.blocked_until is not None and row.blocked_until > now:
        return False
    if now - row.window_started_at >= window:
        row.count, row.window_started_at, row.blocked_until = 0, now, None
    row.count += 1
    if row.count > limit:
        row.blocked_until = row.window_started_at + window
        return False
    return True


def block_if_exhausted(session: Session, key: str, now: datetime, limit: int,
                       window: timedelta, lockout: timedelta) -> datetime | None:
    """Count one failure; once `limit` failures fall in one window, block for `lockout`.
    Returns the end of the block, if one started."""
    row = _row(session, key, now)
    if now - row.window_started_at >= window:
        row.count, row.window_started_at = 0, now
    row.count += 1
    if row.count >= limit:
        row.blocked_until = now + lockout
        row.count, row.window_started_at = 0, now
        return row.blocked_until
    return None


def back_off(session: Session, key: str, now: datetime, free: int, base: timedelta,
             cap: timedelta) -> datetime | None:
    """Count one failure in a row; past `free` of them, each further one makes the key wait
    twice as long as the last (from `base`, at most `cap`). Never a lockout: the wait ends,
    however many failures there were. Returns the end of the wait, if one started."""
    row = _row(session, key, now)
    row.count += 1
    row.window_started_at = now  # the last failure: `prune` forgets quiet keys
    if row.count <= free:
        return None
    wait = min(cap, base * 2 ** min(row.count - free - 1, 30))
    row.blocked_until = now + wait
    return row.blocked_until


def clear(session: Session, key: str) -> None:
    session.execute(delete(RateLimit).where(RateLimit.key == key))


def prune(session: Session, now: datetime, older_than: timedelta) -> int:
    """Forget counters idle for longer than `older_than` (a scheduler sweep may call this)."""
    result = session.execute(delete(RateLimit).where(
        RateLimit.window_started_at < now - older_than,
        (RateLimit.blocked_until.is_(None)) | (RateLimit.blocked_until < now)))
    return int(result.rowcount)  # type: ignore[attr-defined]
