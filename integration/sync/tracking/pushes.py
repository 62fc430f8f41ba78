"""A stored, verified push of a tracking service (17TRACK, AfterShip; the inbox job's part):
apply it to its parcel.

A repeat of the same push was already dropped at intake (one inbox row per body); a different
push repeating old events adds nothing (each event has a key); an older push arriving late
cannot move a status back (the engine's fold)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.base.config import Settings
from integration.storage.models import InboxDelivery, TrackedNumber
from integration.sync.tracking.service import PUSH_PARSERS
from integration.sync.tracking.updates import REJECTED, STOPPED, apply_tracked

SOURCES = frozenset(PUSH_PARSERS)  # the inbox sources this module handles


def handle_push(session: Session, settings: Settings, delivery: InboxDelivery,
                now: datetime) -> str:
    update = PUSH_PARSERS[delivery.source](delivery.body)
    if update is None:
        return "ignored"
    rows = list(session.scalars(select(TrackedNumber).where(
        TrackedNumber.service == delivery.source, TrackedNumber.number == update.number,
        TrackedNumber.state != REJECTED).order_by(TrackedNumber.id)))
    if not rows:
        return "ignored"  # not a number this install registered
    for row in rows:
        if update.stopped:
            row.state, row.stopped_at, row.next_poll_at, row.updated_at = (
                STOPPED, now, None, now)
        elif update.parcel is not None:
            apply_tracked(session, settings, row, update.parcel, now)
    return "processed"
