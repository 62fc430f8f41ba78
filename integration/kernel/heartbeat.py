"""Liveness marks for background loops, stored so any process (e.g. /readyz) can read them.

Liveness is about real time, whatever the runtime's clock says: under the demo's simulated
clock (hours pass in seconds, or days at a jump) a loop that beat a moment ago is alive.
So beats are stamped, and judged, by the wall clock, never `runtime.clock`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from integration.kernel.runtime import Runtime
from integration.storage.models import Heartbeat


def wall_clock() -> datetime:
    return datetime.now(UTC)


def beat(runtime: Runtime, name: str) -> None:
    now = wall_clock()
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
    return seen is not None and abs(wall_clock() - seen) <= within
