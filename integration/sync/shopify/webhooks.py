"""Keeping a Shopify store's webhook subscriptions healthy: one job per store creates the
missing ones and deletes strays; an hourly sweep queues it for every store.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from connectors.shopify.settings import (
    WEBHOOK_PATH,
    StoreSettings,
)
from connectors.shopify.subscriptions import ensure_subscriptions
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Store
from integration.sync.connection import refusal_disconnects
from integration.sync.shopify.fulfillment_service import ensure_fulfillment_service
from integration.sync.shopify.store import (
    ENSURE_WEBHOOKS_JOB,
    active_store,
    admin_client,
    queue_webhook_check,
)

log = logging.getLogger(__name__)


@job(ENSURE_WEBHOOKS_JOB)
def ensure_webhooks(runtime: Runtime, claimed: ClaimedJob) -> None:
    store = active_store(runtime, int(claimed.payload["store_id"]))
    if store is None:
        return
    client = admin_client(runtime, store)
    report = None
    try:
        with refusal_disconnects(runtime, store):  # checked again when it reconnects
            report = ensure_subscriptions(client, runtime.settings.app.public_url + WEBHOOK_PATH)
            if StoreSettings.parse(store.settings, allow_override=False).fulfillment_service:
                ensure_fulfillment_service(runtime, store, client)
    finally:
        client.close()
    if report is None:
        return
    if report.repaired:
        with runtime.db.write() as session:
            record_audit(session, runtime.clock.now(), "scheduler", "store.webhooks_repaired",
                         store_id=store.id, subject=store.domain,
                         details={"created": report.created, "deleted": report.deleted})
    log.info("store %d: webhooks kept %s, created %s, deleted %s", store.id, report.kept,
             report.created, report.deleted)


def check_webhooks(runtime: Runtime) -> None:
    """Health sweep: queue a subscription check for every active Shopify store."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for store_id in session.scalars(select(Store.id).where(
                Store.platform == stores.SHOPIFY, Store.state == "active")):
            queue_webhook_check(session, store_id, now)
