"""One store connector per store per process, reused by every job that talks to that store.

Building a connector per job opened a new HTTP connection (and, over https, a new TLS
handshake and SSL context) for every write-back, so keep-alive never helped: measured in
bench/sync_throughput.py, a third of a write-back's CPU went into building the Shopify client.
A connector is cached under everything it was built from (the store row's id, platform,
domain, encrypted credentials and settings), so a renewed token or changed settings build a
new one on next use. A replaced connector may still be in use by another thread, so it is
closed only after `RETIRE_AFTER_SECONDS` (far longer than any request may take), or when the
cache is closed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
RETIRE_AFTER_SECONDS = 900.0


class ConnectorCache:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._live: dict[Hashable, Any] = {}  # store id -> (key, connector)
        self._retired: list[tuple[float, Any]] = []  # (retired at, connector)
        self._lock = threading.Lock()

    def get(self, store_id: int, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            found = self._live.get(store_id)
            if found is not None and found[0] == key:
                connector: T = found[1]
                return connector
        built = build()  # outside the lock: building may do I/O (a capability probe)
        now = self._monotonic()
        with self._lock:
            found = self._live.get(store_id)
            if found is not None and found[0] == key:
                self._retired.append((now, built))  # another thread was quicker
                connector = found[1]
            else:
                if found is not None:
                    self._retired.append((now, found[1]))
                self._live[store_id] = (key, built)
                connector = built
            due = [c for at, c in self._retired if now - at > RETIRE_AFTER_SECONDS]
            self._retired = [(at, c) for at, c in self._retired
                             if now - at <= RETIRE_AFTER_SECONDS]
        _close_all(due)
        return connector

    def close(self) -> None:
        with self._lock:
            connectors = [c for _key, c in self._live.values()] + [c for _at, c in self._retired]
            self._live, self._retired = {}, []
        _close_all(connectors)


def _close_all(connectors: list[Any]) -> None:
    for connector in connectors:
        close = getattr(connector, "close", None)
        if callable(close):
            close()


def store_key(store_id: int, platform: str, domain: str, credentials: str | None,
              settings: dict[str, Any]) -> tuple[int, str, str, str, str]:
    """What a store's connector is built from; a different key means a different connector."""
    return (store_id, platform, domain, credentials or "",
            json.dumps(settings, sort_keys=True, default=str))
