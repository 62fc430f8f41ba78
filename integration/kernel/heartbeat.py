"""Liveness marks for background loops, stored so any process (e.g. /readyz) can read them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from integration.kernel.runtime import Runtime
from integration.storage.models import Heartbeat


def beat(runtime: Runtime, name: str) -> None:
    now = runtime.clock.now()
    try:
        with runtime.db.write() as session:
            row = session.get(Heartbeat, name)
            if row is None:
                session.add(Heartbeat(name=name, last_seen=now))
            else:
                row.last_seen = now
    except IntegrityError:
        pass  # another process wrote the first beat at the same moment: it is alive too


def last_seen(runtime: Runtime, name: str) -> datetime | None:
    with runtime.db.read() as session:
        row = session.get(Heartbeat, name)
        return None if row is None else row.last_seen


def is_fresh(runtime: Runtime, name: str, within: timedelta) -> bool:
    seen = last_seen(runtime, name)
    return seen is not None and runtime.clock.now() - seen <= within
