"""A short-lived cache of each store's webhook secrets, so intake skips a database read and a
decryption per delivery. A signature that fails against cached secrets is checked once more
against fresh ones: a rotation takes effect at once, never after the cache expires."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class StoreSigner:
    store_id: int
    secrets: tuple[bytes, ...]


Loader = Callable[[], StoreSigner | None]


class StoreSecretCache:
    def __init__(self, ttl_seconds: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._monotonic = monotonic
        self._entries: dict[Hashable, tuple[float, StoreSigner]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Loader, fresh: bool = False) -> StoreSigner | None:
        now = self._monotonic()
        if not fresh:
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return entry[1]
        signer = load()
        with self._lock:
            if signer is None:
                self._entries.pop(key, None)  # unknown stores are never cached
            else:
                self._entries[key] = (now + self.ttl, signer)
        return signer

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)


def verified_store(cache: StoreSecretCache, key: Hashable, load: Loader,
                   signature_ok: Callable[[tuple[bytes, ...]], bool]) -> StoreSigner | None:
    """The store whose secret signed the delivery, or None (unknown store or bad signature)."""
    signer = cache.get(key, load)
    if signer is None:
        return None
    if signature_ok(signer.secrets):
        return signer
    signer = cache.get(key, load, fresh=True)
    return signer if signer is not None and signature_ok(signer.secrets) else None
