"""SQLite WAL checkpoints taken after a write, outside the writer lock.

By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages, and
with `synchronous=NORMAL` that checkpoint syncs the WAL and the database file to disk. The
committing process still holds DropTrack's writer lock then (see `writer_lock`), so every
other writer waits for the disk. Here automatic checkpoints are off and each process
checkpoints after every `every_writes` of its own write transactions, in a background
thread, outside the lock: a PASSIVE checkpoint runs beside the writers instead of in front of
them.

A PASSIVE checkpoint cannot copy frames appended while it runs, so under a steady stream of
writes the WAL could stop restarting and grow. When it holds more than `max_frames` frames,
the next checkpoint is taken under the writer lock: nobody can append then, so it copies
everything and the next write starts the WAL from the beginning again.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from integration.base.process_thread import ProcessThread
from integration.storage.writer_lock import WriterLock

log = logging.getLogger("droptrack.storage")


class WalCheckpointer:
    def __init__(self, engine: Engine, writer_lock: WriterLock, every_writes: int = 100,
                 max_frames: int = 8000) -> None:
        self.engine = engine
        self.writer_lock = writer_lock
        self.every_writes = every_writes
        self.max_frames = max_frames
        self._writes = 0
        self._lock = threading.Lock()
        self._thread = ProcessThread("wal-checkpoints", self._run)
        self._due = threading.Event()
        self._idle = threading.Event()
        self._idle.set()

    def wrote(self) -> None:
        """Count one committed write transaction; when a checkpoint is due, wake this
        process's checkpoint thread. The writer goes on at once: a checkpoint syncs to disk,
        and that wait belongs to nobody's request."""
        with self._lock:
            self._writes += 1
            if self._writes < self.every_writes:
                return
            self._writes = 0
            if not self._thread.running():
                self._due = threading.Event()  # fresh events: a forked child inherits used ones
                self._idle = threading.Event()
                self._thread.start()
            self._idle.clear()
            self._due.set()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no checkpoint is due or running (tests, orderly shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        due, idle = self._due, self._idle
        while True:
            due.wait()
            due.clear()
            try:
                self.checkpoint_bounded()
            except Exception:  # never let the thread die: the next due write retries
                log.exception("WAL checkpoint failed")
            if not due.is_set():
                idle.set()

    def checkpoint_bounded(self) -> None:
        frames, _copied = self.checkpoint()
        if frames > self.max_frames:
            with self.writer_lock.held():
                self.checkpoint()

    def checkpoint(self) -> tuple[int, int]:
        """A PASSIVE checkpoint: (frames in the WAL, frames copied into the database)."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                row = cursor.fetchone()
                frames, copied = (int(row[1]), int(row[2])) if row else (0, 0)
            finally:
                cursor.close()
        finally:
            connection.close()
        return frames, copied
