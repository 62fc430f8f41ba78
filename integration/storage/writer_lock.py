"""One writer at a time on a SQLite database, queued in the kernel instead of by polling.

SQLite admits one write transaction at a time. A process whose `BEGIN IMMEDIATE` finds the
database locked does not wait on the lock: its busy handler sleeps 1, 2, 5, 10 ... 100 ms
and tries again. Under a steady stream of short writes from several processes (gunicorn
workers taking webhooks) that polling leaves the CPU idle while deliveries queue. Taking an
exclusive `flock` on a file beside the database before `BEGIN IMMEDIATE` makes a waiting
writer sleep in the kernel until the lock is released, then go at once. The kernel drops the
lock when a process dies, so a crashed writer never leaves it held.

Writers that do not take this lock (the sqlite3 shell, Alembic) stay correct: SQLite's own
lock still decides, they only wait the old way.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class WriterLock:
    """Exclusive across the processes sharing `path` and across threads of this process;
    re-entrant within a thread (an inner write transaction of the same thread passes)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._local = threading.local()
        self._fd: int | None = None
        self._fd_pid = 0

    def _file(self) -> int | None:
        if self.path is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():
            # A forked child must not share the parent's open file description: flock
            # belongs to it, so parent and child would hold the "same" lock at once.
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._fd_pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self._thread_lock:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            self._local.depth = 1
            try:
                yield
            finally:
                self._local.depth = 0
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
