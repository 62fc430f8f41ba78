"""A store whose credentials were refused for good: disconnected, its write-backs waiting, and
resumed when the owner connects it again. Platform-neutral (the caller names the wording).

While a store is `disconnected` the write-back job finishes without writing (the shipment's
`written_*` stay behind its status), so nothing is dead-lettered. Reconnecting queues one
write-back for every shipment whose write-back ran while the store was disconnected; the job
compares what the store shows with the shipment, so each change still lands exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.engine.tracking import WRITEBACK_JOB
from integration.jobs import alerts, outbox
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, OutboxJob, Store

log = logging.getLogger(__name__)

DISCONNECTED_AT = "disconnected_at"  # in store.settings, ISO 8601
STORE_ACCESS_ALERT = "shopify_token"  # the alert kind the Stores page shows as the problem


def mark_disconnected(runtime: Runtime, store_id: int, message: str) -> bool:
    """An active store becomes disconnected with the owner's alert `message`. True when it
    was active (a second refusal changes nothing)."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        store = session.get(Store, store_id)
        if store is None or store.state != stores.ACTIVE:
            return False
        store.state = stores.DISCONNECTED
        store.settings = {**(store.settings or {}), DISCONNECTED_AT: now.isoformat()}
        store.updated_at = now
        alerts.raise_alert(session, STORE_ACCESS_ALERT, f"{store.id}:{now.isoformat()}",
                           message, now, store_id=store.id)
        record_audit(session, now, "system", "store.disconnected", store_id=store.id,
                     subject=store.domain)
    log.warning("store %d disconnected: its credentials were refused", store_id)
    return True


def resume_after_reconnect(session: Session, store: Store, now: datetime) -> int:
    """Called when a disconnected store is connected again (in the connecting transaction):
    resolve its access alerts and queue the write-backs that waited. Returns how many."""
    since_raw = (store.settings or {}).get(DISCONNECTED_AT)
    store.settings = {k: v for k, v in (store.settings or {}).items() if k != DISCONNECTED_AT}
    for alert in session.scalars(select(Alert).where(
            Alert.store_id == store.id, Alert.kind == STORE_ACCESS_ALERT,
            Alert.resolved_at.is_(None))):
        alert.resolved_at = now
    if not isinstance(since_raw, str):
        return 0
    since = datetime.fromisoformat(since_raw)
    waited = session.scalars(select(OutboxJob).where(
        OutboxJob.kind == WRITEBACK_JOB, OutboxJob.store_id == store.id,
        OutboxJob.state.in_((outbox.DONE, outbox.DEAD)), OutboxJob.finished_at >= since))
    shipment_ids = sorted({int(job.payload["shipment_id"]) for job in waited})
    queued = 0
    for shipment_id in shipment_ids:
        queued += outbox.enqueue(
            session, WRITEBACK_JOB, f"writeback:{shipment_id}:resumed:{now.isoformat()}",
            {"shipment_id": shipment_id, "change": "reconnected"}, now, store_id=store.id,
            serial_key=f"shipment:{shipment_id}")
    return queued
