"""Shopify reconciliation: orders updated since the store's watermark, through the shared
reconciler (`integration.sync.reconcile`): webhooks are a hint, polling is the truth.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from connectors.shopify.connector import ShopifyConnector
from connectors.shopify.settings import StoreSettings
from integration.accounts import stores
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Store
from integration.sync.connection import refusal_disconnects
from integration.sync.reconcile import Watermark, reconcile_store
from integration.sync.shopify.store import active_store, admin_client

RECONCILE_JOB = "shopify.reconcile"
FIRST_RECONCILE_WINDOW = timedelta(days=1)  # how far back the first run of a new store looks
MAX_PAGES_PER_RUN = 100  # the next run continues from the watermark
WATERMARK = "reconciled_until"  # top-level key of the store's settings


def _watermark(runtime: Runtime, store: Store) -> Watermark:
    def read() -> datetime:
        stored = (store.settings or {}).get(WATERMARK)
        if isinstance(stored, str):
            return datetime.fromisoformat(stored)
        return runtime.clock.now() - FIRST_RECONCILE_WINDOW

    def save(moment: datetime) -> None:
        with runtime.db.write() as session:
            row = session.get_one(Store, store.id)
            row.settings = {**(row.settings or {}), WATERMARK: moment.isoformat()}
        store.settings = {**(store.settings or {}), WATERMARK: moment.isoformat()}

    return Watermark(read=read, save=save)


@job(RECONCILE_JOB)
def reconcile(runtime: Runtime, claimed: ClaimedJob) -> None:
    store = active_store(runtime, int(claimed.payload["store_id"]))
    if store is None:
        return
    connector = ShopifyConnector(admin_client(runtime, store),
                                 StoreSettings.parse(store.settings, allow_override=False))
    try:
        with refusal_disconnects(runtime, store):  # then it waits; queued again on reconnect
            reconcile_store(runtime, store.id, connector, _watermark(runtime, store),
                            max_pages=MAX_PAGES_PER_RUN)
    finally:
        connector.close()


def queue_reconciliation(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for store_id in session.scalars(select(Store.id).where(
                Store.platform == stores.SHOPIFY, Store.state == "active")):
            outbox.enqueue(session, RECONCILE_JOB,
                           f"shopify-reconcile:{store_id}:{now.strftime('%Y%m%d%H%M')}",
                           {"store_id": store_id}, now, store_id=store_id,
                           serial_key=f"shopify-reconcile:{store_id}")
