"""A background daemon thread that exists once per process: started on first need, and
started again in a forked child (the parent's thread does not exist there) or after it died."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class ProcessThread:
    def __init__(self, name: str, target: Callable[[], None]) -> None:
        self.name = name
        self.target = target
        self._thread: threading.Thread | None = None
        self._pid = 0

    def running(self) -> bool:
        """True when this process's thread is alive."""
        return (self._thread is not None and self._pid == os.getpid()
                and self._thread.is_alive())

    def start(self) -> None:
        """Start this process's thread (callers check `running` first, under their lock)."""
        self._thread = threading.Thread(target=self.target, name=self.name, daemon=True)
        self._pid = os.getpid()
        self._thread.start()

    def join(self, timeout: float) -> None:
        thread = self._thread
        if self.running() and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
