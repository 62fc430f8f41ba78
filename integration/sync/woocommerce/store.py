"""One WooCommerce store as the sync jobs see it: its row, the settings DropTrack keeps in it
(watermarks, cached capabilities, health), its connector, and one job per store per sweep.

Per-store state lives in `stores.settings` (section `woocommerce`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.woocommerce.capabilities import Capabilities
from connectors.woocommerce.client import StoreRefused
from connectors.woocommerce.connector import WooCommerceConnector, build
from connectors.woocommerce.settings import SETTINGS_KEY, merged
from core.errors import PermanentError
from integration.accounts.stores import WOOCOMMERCE
from integration.jobs import alerts, outbox
from integration.jobs.outbox import ClaimedJob
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, OutboxJob, Store
from integration.sync.writeback import store_access, store_connector

log = logging.getLogger(__name__)
KEYS_REFUSED = "store_keys_refused"  # alert kind
KEYS_REFUSED_TEXT = "refused DropTrack's API keys"  # in the error of a job the keys stopped


def load_store(runtime: Runtime, store_id: int) -> Store | None:
    with runtime.db.read() as session:
        store = session.get(Store, store_id)
        if store is None or store.platform != WOOCOMMERCE or store.state != "active":
            return None
        session.expunge(store)
        return store


def update_store_settings(runtime: Runtime, store_id: int, **changes: Any) -> None:
    with runtime.db.write() as session:
        store = session.get_one(Store, store_id)
        store.settings = merged(store.settings, **changes)
        store.updated_at = runtime.clock.now()


def record_health(runtime: Runtime, store_id: int, problem: str | None) -> None:
    """What the store's health page shows: the last problem in plain words, or none."""
    update_store_settings(runtime, store_id, health={
        "ok": problem is None, "problem": problem or "", "at": runtime.clock.now().isoformat()})


def section(store: Store) -> dict[str, Any]:
    value = store.settings.get(SETTINGS_KEY)
    return dict(value) if isinstance(value, dict) else {}


def connector_for(runtime: Runtime, store: Store) -> WooCommerceConnector:
    """The connector, saving what a capability probe finds in the store's settings."""
    store_id = store.id

    def save(found: Capabilities) -> None:
        update_store_settings(runtime, store_id, capabilities=found.to_settings())

    return build(store_access(runtime, store), on_probe=save)


def run_for_store(runtime: Runtime, claimed: ClaimedJob,
         work: Callable[[Runtime, Store, WooCommerceConnector], None]) -> None:
    """Run one sweep's work for a store. Keys the store refuses are one owner alert (and the
    store's health), not a failed job per sweep: the next sweep tries again, and once the
    keys work (fixed in WooCommerce or reconnected) the jobs they stopped are resumed."""
    store_id = int(claimed.payload["store_id"])
    store = load_store(runtime, store_id)
    if store is None:
        return
    try:
        connector = store_connector(runtime, store)
        assert isinstance(connector, WooCommerceConnector)
        work(runtime, store, connector)
    except StoreRefused as refused:
        record_health(runtime, store_id, str(refused))
        if refused.status != 401:
            raise
        with runtime.db.write() as session:
            alerts.raise_alert(session, KEYS_REFUSED, _keys_key(store), str(refused),
                               runtime.clock.now(), store_id=store_id)
        log.warning("store %d: keys refused: %s", store_id, refused)
        return
    except PermanentError as failure:
        record_health(runtime, store_id, str(failure))
        raise


def _keys_key(store: Store) -> str:
    """One alert per stored key pair: new keys that fail again are a new alert."""
    digest = hashlib.sha256((store.credentials_encrypted or "").encode()).hexdigest()[:16]
    return f"store:{store.id}:{digest}"


def resume_store_jobs(session: Session, store_id: int, now: datetime) -> int:
    """The store's keys work again: resolve the keys alert and put the store's jobs that died
    meanwhile (write-backs refused with the old keys) back in the queue."""
    for alert in session.scalars(select(Alert).where(
            Alert.store_id == store_id, Alert.kind == KEYS_REFUSED,
            Alert.resolved_at.is_(None))):
        alert.resolved_at = now
    dead = list(session.scalars(select(OutboxJob.id).where(
        OutboxJob.store_id == store_id, OutboxJob.state == outbox.DEAD,
        OutboxJob.last_error.contains(KEYS_REFUSED_TEXT))))
    return sum(outbox.replay(session, job_id, now) for job_id in dead)


def resume_after_keys_work(runtime: Runtime, store_id: int) -> int:
    """Called when the store accepted a write with its stored keys (the health sweep)."""
    with runtime.db.write() as session:
        resumed = resume_store_jobs(session, store_id, runtime.clock.now())
    if resumed:
        log.info("store %d: keys accepted again; %d stopped jobs resumed", store_id, resumed)
    return resumed


def queue_for_every_store(runtime: Runtime, kind: str, minutes: float) -> int:
    """One `kind` job per active WooCommerce store, at most one per interval."""
    now = runtime.clock.now()
    bucket = int(now.timestamp() // (minutes * 60))
    queued = 0
    with runtime.db.write() as session:
        store_ids = session.scalars(select(Store.id).where(
            Store.platform == WOOCOMMERCE, Store.state == "active"))
        for store_id in list(store_ids):
            queued += outbox.enqueue(session, kind, f"{kind}:{store_id}:{bucket}",
                                     {"store_id": store_id}, now, store_id=store_id,
                                     serial_key=f"{kind}:{store_id}")
    return queued
