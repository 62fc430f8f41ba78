"""Exactly one active scheduler: a PostgreSQL advisory lock (or a file lock on SQLite).

A second scheduler waits as a hot standby and takes over as soon as the first one's lock
goes away (its process died or its database connection dropped).
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from integration.kernel.runtime import Runtime

log = logging.getLogger(__name__)
STANDBY_MESSAGE = "another scheduler is active: this one waits as a hot standby"

# Any constant unique to DropTrack: "DropTrak" as a 64-bit integer.
ADVISORY_LOCK_KEY = 0x44726F7054726B


class LeadershipLost(Exception):
    """The lock went away while we held it (database connection lost)."""


@contextmanager
def leadership(runtime: Runtime, stop: threading.Event, poll_seconds: float) -> Iterator[bool]:
    """Block until this process is the leader (yield True) or `stop` is set (yield False)."""
    if runtime.db.is_sqlite:
        with _file_lock(runtime, stop, poll_seconds) as held:
            yield held
        return
    connection = runtime.db.engine.connect()
    waiting = False
    try:
        while not stop.is_set():
            acquired = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar()
            connection.commit()
            if acquired:
                log.info("this scheduler is now the active one")
                try:
                    yield True
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                                       {"key": ADVISORY_LOCK_KEY})
                    connection.commit()
                return
            if not waiting:
                waiting = True
                log.info(STANDBY_MESSAGE)
            stop.wait(poll_seconds)
        yield False
    finally:
        connection.close()


def still_leader(runtime: Runtime) -> bool:
    """Cheap liveness check of the database behind the lock (PostgreSQL)."""
    try:
        runtime.db.ping()
    except Exception:
        return False
    return True


@contextmanager
def _file_lock(runtime: Runtime, stop: threading.Event, poll_seconds: float) -> Iterator[bool]:
    database = make_url(runtime.db.url).database or "droptrack.db"
    path = Path(f"{database}.scheduler.lock")
    waiting = False
    with path.open("a") as handle:
        while not stop.is_set():
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waiting:
                    waiting = True
                    log.info(STANDBY_MESSAGE)
                stop.wait(poll_seconds)
                continue
            log.info("this scheduler is now the active one")
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
            return
        yield False
