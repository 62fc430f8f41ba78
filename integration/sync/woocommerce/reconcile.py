"""WooCommerce reconciliation: orders changed since the store's watermark, through the shared
reconciler (`integration.sync.reconcile`): webhooks are a hint, polling is the truth.
"""

from __future__ import annotations

from datetime import datetime

from connectors.parsing import timestamp
from connectors.woocommerce.connector import WooCommerceConnector
from connectors.woocommerce.settings import merged
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Store
from integration.sync.reconcile import Watermark, reconcile_store
from integration.sync.woocommerce.store import (
    queue_for_every_store,
    run_for_store,
    section,
    update_store_settings,
)

RECONCILE_JOB = "woocommerce.reconcile"
MAX_PAGES_PER_RUN = 50  # 5,000 orders; the next run continues from the watermark


def watermark(store: Store) -> datetime:
    """The newest change already imported (the store's creation before the first run)."""
    return timestamp(section(store).get("reconciled_until")) or store.created_at


def reconcile(runtime: Runtime, store: Store, connector: WooCommerceConnector) -> int:
    """Import every order changed since the watermark; returns how many were read."""

    def save(moment: datetime) -> None:
        update_store_settings(runtime, store.id, reconciled_until=moment.isoformat())
        store.settings = merged(store.settings, reconciled_until=moment.isoformat())

    report = reconcile_store(runtime, store.id, connector,
                             Watermark(read=lambda: watermark(store), save=save),
                             max_pages=MAX_PAGES_PER_RUN)
    return report.read


@job(RECONCILE_JOB)
def reconcile_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    def work(rt: Runtime, store: Store, connector: WooCommerceConnector) -> None:
        reconcile(rt, store, connector)

    run_for_store(runtime, claimed, work)


def queue_reconciliation(runtime: Runtime) -> None:
    queue_for_every_store(runtime, RECONCILE_JOB,
                          runtime.settings.woocommerce.reconcile_interval_minutes)
