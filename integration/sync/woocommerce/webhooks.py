"""WooCommerce webhook health: create missing webhooks, re-enable disabled ones, record the gap
(an alert, and reconciliation moved back to the gap's start), and re-probe the plugins.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from connectors.woocommerce.connector import WooCommerceConnector
from connectors.woocommerce.settings import merged
from connectors.woocommerce.webhooks import ensure_webhooks
from integration.jobs import alerts, outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import InboxDelivery, Store
from integration.sync.woocommerce.reconcile import RECONCILE_JOB, watermark
from integration.sync.woocommerce.store import (
    queue_for_every_store,
    record_health,
    resume_after_keys_work,
    run_for_store,
)

log = logging.getLogger(__name__)
WEBHOOK_HEALTH_JOB = "woocommerce.webhook_health"
WEBHOOK_GAP = "webhook_gap"  # alert kind


def delivery_url(runtime: Runtime, store_id: int) -> str:
    return f"{runtime.settings.app.public_url}/webhooks/woocommerce/{store_id}"


def check_webhooks(runtime: Runtime, store: Store, connector: WooCommerceConnector) -> None:
    secret = runtime.secrets.decrypt(store.webhook_secret_encrypted or "")
    report = ensure_webhooks(connector.client, delivery_url(runtime, store.id), secret,
                             runtime.settings.woocommerce.app_name)
    connector.capabilities(fresh=True)  # plugins come and go: keep the cached probe current
    if report.reenabled:
        record_gap(runtime, store, [hook.topic for hook in report.reenabled])
    if report.created:
        log.info("store %d: webhooks created for %s", store.id, ", ".join(report.created))
    resume_after_keys_work(runtime, store.id)  # the store accepted the keys again
    paused = sorted(hook.topic for hook in report.paused)
    # Paused by someone in WooCommerce: left so, but the store is not healthy while it is.
    record_health(runtime, store.id, (
        f"DropTrack's {' and '.join(paused)} webhook is paused in WooCommerce (WooCommerce > "
        "Settings > Advanced > Webhooks): orders reach DropTrack only through the slower "
        "reconciliation until it is set to Active.") if paused else None)


def record_gap(runtime: Runtime, store: Store, topics: list[str]) -> None:
    """WooCommerce disabled our webhooks: orders changed since the last delivery we received
    may be missing. Alert the owner and make reconciliation start from there, now."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        last_delivery = session.scalar(select(func.max(InboxDelivery.received_at)).where(
            InboxDelivery.store_id == store.id))
        gap_start = min(filter(None, (last_delivery, watermark(store), now)))
        alerts.raise_alert(
            session, WEBHOOK_GAP, f"store:{store.id}:{now.isoformat()}",
            f"WooCommerce had disabled DropTrack's {' and '.join(topics)} webhook after failed "
            f"deliveries; it is re-enabled, and orders changed since "
            f"{gap_start:%Y-%m-%d %H:%M} UTC are being read again.", now, store_id=store.id)
        row = session.get_one(Store, store.id)
        row.settings = merged(row.settings, reconciled_until=gap_start.isoformat(),
                              last_gap={"from": gap_start.isoformat(), "to": now.isoformat()})
        outbox.enqueue(session, RECONCILE_JOB, f"{RECONCILE_JOB}:{store.id}:gap:{now.isoformat()}",
                       {"store_id": store.id}, now, store_id=store.id,
                       serial_key=f"{RECONCILE_JOB}:{store.id}")
    log.warning("store %d: webhooks %s re-enabled; reconciling from %s", store.id, topics,
                gap_start.isoformat())


@job(WEBHOOK_HEALTH_JOB)
def webhook_health_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    run_for_store(runtime, claimed, check_webhooks)


def queue_webhook_health(runtime: Runtime) -> None:
    queue_for_every_store(runtime, WEBHOOK_HEALTH_JOB,
                          runtime.settings.woocommerce.webhook_health_interval_minutes)
