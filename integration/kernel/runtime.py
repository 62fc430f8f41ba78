"""The objects every part of DropTrack shares: settings, database, clock, secret box."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from core.clock import Clock, SystemClock
from integration.jobs.leases import LeaseKeeper
from integration.kernel.config import Settings
from integration.security.crypto import SecretBox, generate_key
from integration.storage.db import Database
from integration.sync.connector_cache import ConnectorCache

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    secrets: SecretBox
    # Store connectors (and their HTTP connections) this process reuses across jobs.
    connectors: ConnectorCache = field(default_factory=ConnectorCache)
    # The leases of the jobs this process is running, renewed while they run.
    leases: LeaseKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.leases = LeaseKeeper(self.db, self.clock,
                                  timedelta(seconds=self.settings.dispatcher.lease_seconds))

    def close(self) -> None:
        self.leases.close()
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
