"""The objects every part of DropTrack shares: settings, database, clock, secret box.

Rooms above this one keep per-process objects of their own on it (`Runtime.resource`), such as
the lease keeper of `integration.jobs.leases`, so the runtime imports none of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from core.clock import Clock, SystemClock
from integration.base.config import Settings
from integration.kernel.connector_cache import ConnectorCache
from integration.security.crypto import SecretBox, generate_key
from integration.storage.db import Database

log = logging.getLogger(__name__)


class Closable(Protocol):
    def close(self) -> None: ...


R = TypeVar("R", bound=Closable)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    secrets: SecretBox
    # Store connectors (and their HTTP connections) this process reuses across jobs.
    connectors: ConnectorCache = field(default_factory=ConnectorCache)
    # Per-process objects of the rooms above (see `resource`), closed with the runtime.
    _resources: dict[str, Any] = field(default_factory=dict, repr=False)
    _resources_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def resource(self, name: str, create: Callable[[Runtime], R]) -> R:
        """The object kept under `name`, made by `create(self)` on first use (once, however
        many threads ask)."""
        with self._resources_lock:
            if name not in self._resources:
                self._resources[name] = create(self)
            found: R = self._resources[name]
            return found

    def close(self) -> None:
        with self._resources_lock:
            resources, self._resources = list(self._resources.values()), {}
        for resource in resources:
            resource.close()
        self.connectors.close()
        self.db.dispose()


def build_runtime(settings: Settings, clock: Clock | None = None) -> Runtime:
    keys = settings.security.encryption_keys
    if not keys:
        # Only reachable in demo mode (config validation refuses it otherwise).
        log.warning("demo mode without security.encryption_keys: using a throwaway key")
        keys = [generate_key()]
    return Runtime(settings=settings, db=Database(settings.database),
                   clock=clock or SystemClock(), secrets=SecretBox(keys))
