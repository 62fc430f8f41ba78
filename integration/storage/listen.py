"""PostgreSQL LISTEN on a connection of its own: a process waits for another's NOTIFY (sent
when that one commits) instead of polling. A hint only: whoever waits still wakes up at its
interval, so a lost notification, or a listener that could not connect, only delays.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import make_url

from integration.storage.db import Database

log = logging.getLogger(__name__)


class Listener:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def wait(self, timeout: float) -> bool:
        """Block until a notification arrives (True) or `timeout` seconds pass (False); every
        notification that arrived meanwhile is consumed with it (one wake-up for many)."""
        if self._connection is None:
            return False
        try:
            woke = any(True for _ in self._connection.notifies(timeout=timeout, stop_after=1))
            if woke:  # take what else is already there without waiting
                for _ in self._connection.notifies(timeout=0):
                    pass
            return woke
        except Exception as exc:
            log.warning("LISTEN connection lost, back to interval polling: %s", exc)
            self.close()
            return False

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


def listener(db: Database, channel: str) -> Listener | None:
    """A listener on `channel`, or None on SQLite or when the connection fails."""
    if db.is_sqlite:
        return None
    try:
        import psycopg

        url = make_url(db.url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        connection = psycopg.connect(url, autocommit=True)
        connection.execute(f"LISTEN {channel}")  # channel: a constant identifier of ours
    except Exception as exc:
        log.warning("cannot LISTEN on %s, polling at the interval instead: %s", channel, exc)
        return None
    return Listener(connection)
