"""A store whose credentials were refused for good: disconnected, its work waiting, and resumed
when the owner connects it again. Platform-neutral (the wording names the owner's action).

Every job that talks to a store runs its calls inside `refusal_disconnects`: a refusal that
cannot be fixed by retrying (`CredentialsRefused`: a client secret rotated, a refresh refused,
the token revoked) marks the store disconnected once, with one owner alert, and the job ends
without a failed attempt (nothing dead-lettered, no alert per job).

While a store is `disconnected`:
* its webhooks are still verified and stored; order deliveries stay `received` (not acted
  on: the safe reading, since the store's own answers cannot be checked) until it reconnects;
* the write-back job finishes without writing (the shipment's `written_*` stay behind its
  status); reconciliation and the other store jobs are not queued, and a queued one ends at
  once.
Reconnecting (`resume_after_reconnect`, in the connecting transaction) resolves the alert and
queues, once, every write-back that ran while it was disconnected and every waiting delivery;
the caller queues the platform's reconciliation. The write-back compares what the store shows
with the shipment and a delivery is processed only while `received`, so each change still
lands exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from types import TracebackType

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import wording
from core.errors import CredentialsRefused
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.engine.tracking import WRITEBACK_JOB
from integration.jobs import alerts, inbox, outbox
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, InboxDelivery, OutboxJob, Store

log = logging.getLogger(__name__)

DISCONNECTED_AT = "disconnected_at"  # in store.settings, ISO 8601
STORE_ACCESS_ALERT = "shopify_token"  # the alert kind the Stores page shows as the problem
RECEIVED = "received"  # an inbox delivery not acted on yet
CONNECTED_WITH = "connected_with"  # in store.settings: the way it was last connected (grant)


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


def disconnect(runtime: Runtime, store: Store, refusal: CredentialsRefused) -> bool:
    """`store`'s credentials were refused for good: disconnected, with the owner's one action
    (for Shopify, the one that fits how the store was connected)."""
    message = str(refusal)
    if store.platform == stores.SHOPIFY:
        grant = str(runtime.secrets.decrypt_json(store.credentials_encrypted or "")
                    .get("grant", "")) if store.credentials_encrypted else ""
        message = wording.reconnect_shopify_store(store.domain, str(refusal), grant)
    log.warning("store %d: %s", store.id, refusal)
    return mark_disconnected(runtime, store.id, message)


class refusal_disconnects:  # lower case: used as a `with` statement, like contextlib's
    """`with refusal_disconnects(runtime, store):` around a job's calls to `store`: a
    `CredentialsRefused` disconnects the store and ends the block quietly (the job is done, the
    work waits for the reconnect); anything else propagates (a RetryableError is retried as
    usual). A class, so type checkers know the block may end early."""

    def __init__(self, runtime: Runtime, store: Store) -> None:
        self.runtime = runtime
        self.store = store
        self.refused: CredentialsRefused | None = None

    def __enter__(self) -> refusal_disconnects:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> bool:
        if not isinstance(error, CredentialsRefused):
            return False
        self.refused = error
        disconnect(self.runtime, self.store, error)
        return True


def resume_after_reconnect(session: Session, store: Store, now: datetime) -> int:
    """Called when a disconnected store is connected again (in the connecting transaction):
    resolve its access alerts, queue the write-backs and the deliveries that waited. Returns
    how many jobs it queued."""
    since_raw = (store.settings or {}).get(DISCONNECTED_AT)
    store.settings = {k: v for k, v in (store.settings or {}).items() if k != DISCONNECTED_AT}
    for alert in session.scalars(select(Alert).where(
            Alert.store_id == store.id, Alert.kind == STORE_ACCESS_ALERT,
            Alert.resolved_at.is_(None))):
        alert.resolved_at = now
    queued = 0
    for delivery_id in session.scalars(select(InboxDelivery.id).where(
            InboxDelivery.store_id == store.id, InboxDelivery.state == RECEIVED)
            .order_by(InboxDelivery.id)):
        queued += outbox.enqueue(session, inbox.PROCESS_JOB,
                                 f"inbox:{delivery_id}:resumed:{now.isoformat()}",
                                 {"inbox_id": delivery_id}, now, store_id=store.id)
    if not isinstance(since_raw, str):
        return queued
    since = datetime.fromisoformat(since_raw)
    waited = session.scalars(select(OutboxJob).where(
        OutboxJob.kind == WRITEBACK_JOB, OutboxJob.store_id == store.id,
        OutboxJob.state.in_((outbox.DONE, outbox.DEAD)), OutboxJob.finished_at >= since))
    shipment_ids = sorted({int(job.payload["shipment_id"]) for job in waited})
    for shipment_id in shipment_ids:
        queued += outbox.enqueue(
            session, WRITEBACK_JOB, f"writeback:{shipment_id}:resumed:{now.isoformat()}",
            {"shipment_id": shipment_id, "change": "reconnected"}, now, store_id=store.id,
            serial_key=f"shipment:{shipment_id}")
    return queued
