"""WooCommerce work for the outbox and the scheduler: job handlers and timed sweeps.

Timed sweeps only queue one job per active WooCommerce store (one bad store never sinks the
others); the jobs do the work:

- `woocommerce.reconcile`: orders changed since the store's watermark, through `import_order`
  (webhooks are a hint, polling is the truth);
- `woocommerce.webhook_health`: create missing webhooks, re-enable disabled ones, record the
  gap (an alert, and the reconciliation watermark moved back to its start), re-probe plugins;
- `woocommerce.flush_statuses`: order statuses DropTrack owes the store, 100 per batch call.

Per-store state (watermark, cached capabilities, health) lives in `stores.settings`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connectors.parsing import timestamp
from connectors.woocommerce import units
from connectors.woocommerce.capabilities import Capabilities
from connectors.woocommerce.connector import WooCommerceConnector, build
from connectors.woocommerce.settings import SETTINGS_KEY, StoreSettings, merged
from connectors.woocommerce.webhooks import ensure_webhooks
from core.errors import PermanentError
from core.status import Reason, Status, woocommerce_order_status
from integration.accounts.stores import WOOCOMMERCE
from integration.engine import alerts, bindings
from integration.engine.orders import ORDER, import_order
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.scheduling.scheduled import ScheduledJob
from integration.storage.models import Binding, InboxDelivery, Order, Shipment, Store
from integration.sync.writeback import store_access, store_connector

log = logging.getLogger(__name__)

RECONCILE_JOB = "woocommerce.reconcile"
WEBHOOK_HEALTH_JOB = "woocommerce.webhook_health"
FLUSH_STATUSES_JOB = "woocommerce.flush_statuses"
WEBHOOK_GAP = "webhook_gap"  # alert kind
MAX_PAGES_PER_RUN = 50  # 5,000 orders; the next run continues from the watermark


# -- per-store state ---------------------------------------------------------------------------

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


def _run(runtime: Runtime, claimed: ClaimedJob,
         work: Callable[[Runtime, Store, WooCommerceConnector], None]) -> None:
    store_id = int(claimed.payload["store_id"])
    store = load_store(runtime, store_id)
    if store is None:
        return
    try:
        connector = store_connector(runtime, store)
        assert isinstance(connector, WooCommerceConnector)
        work(runtime, store, connector)
    except PermanentError as failure:
        record_health(runtime, store_id, str(failure))
        raise


# -- reconciliation ----------------------------------------------------------------------------

def watermark(store: Store) -> datetime:
    return timestamp(section(store).get("reconciled_until")) or store.created_at


def reconcile(runtime: Runtime, store: Store, connector: WooCommerceConnector) -> int:
    """Import every order changed since the watermark; returns how many were read."""
    since = watermark(store)
    cursor: str | None = None
    read = 0
    for _ in range(MAX_PAGES_PER_RUN):
        page = connector.orders_modified_since(since, cursor)
        newest = since
        for order in page.orders:
            now = runtime.clock.now()
            try:
                with runtime.db.write() as session:
                    import_order(session, store.id, order, now)
            except IntegrityError:
                log.info("order %s of store %d: imported concurrently", order.number, store.id)
            newest = max(newest, order.updated_at)
        for problem in page.problems:
            log.warning("store %d: order skipped by reconciliation: %s", store.id, problem)
        read += len(page.orders)
        if newest > watermark(store):
            update_store_settings(runtime, store.id, reconciled_until=newest.isoformat())
            store.settings = merged(store.settings, reconciled_until=newest.isoformat())
        cursor = page.next_cursor
        if cursor is None:
            break
    return read


@job(RECONCILE_JOB)
def reconcile_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    def work(rt: Runtime, store: Store, connector: WooCommerceConnector) -> None:
        count = reconcile(rt, store, connector)
        log.info("store %d: reconciliation read %d changed orders", store.id, count)

    _run(runtime, claimed, work)


# -- webhooks ----------------------------------------------------------------------------------

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
    record_health(runtime, store.id, None)


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
    _run(runtime, claimed, check_webhooks)


# -- order statuses ----------------------------------------------------------------------------

# Order rows written just before a flush may commit just after it read: re-read this much.
FLUSH_OVERLAP = timedelta(minutes=5)
MOVABLE_TARGETS = frozenset(t for targets in units.FORWARD_MOVES.values() for t in targets)


def due_statuses(runtime: Runtime, store: Store, settings: StoreSettings,
                 ast: bool) -> dict[str, str]:
    """order id in the store -> the status DropTrack wants it to show, for orders shown a
    parcel whose status changed since the last flush (at most `status_lookback_hours` ago).

    Only targets DropTrack may ever set are kept, so a flush reads (and the store answers)
    only the orders that may move; one query, ids included (no query per order)."""
    now = runtime.clock.now()
    since = now - timedelta(hours=runtime.settings.woocommerce.status_lookback_hours)
    flushed = timestamp(section(store).get("statuses_flushed_until"))
    if flushed is not None:
        since = max(since, flushed - FLUSH_OVERLAP)
    wanted: dict[str, str] = {}
    with runtime.db.read() as session:
        rows = session.execute(
            select(Order.status, Order.reason, Binding.external_id)
            .join(Binding, (Binding.owner_type == bindings.STORE)
                  & (Binding.owner_id == Order.store_id) & (Binding.kind == ORDER)
                  & (Binding.internal_id == Order.id))
            .where(Order.store_id == store.id, Order.updated_at >= since,
                   Order.id.in_(select(Shipment.order_id).where(
                       Shipment.written_status.is_not(None))))
            .order_by(Order.id))
        for order_status, reason, external in rows:
            status = Status(order_status)
            if status in (Status.PENDING, Status.PROCESSING):
                target = units.PARTIAL_SHIPPED if ast else None  # some parcels, not all
            else:
                target = woocommerce_order_status(
                    status, Reason(reason) if reason else None,
                    complete_on=settings.complete_on)
            if target in MOVABLE_TARGETS and external:
                wanted[str(external)] = str(target)
    return wanted


def flush_statuses(runtime: Runtime, store: Store, connector: WooCommerceConnector) -> int:
    """Send the statuses DropTrack owes this store; returns how many orders changed.

    The current statuses are read first (100 per call) so a status the merchant set by hand
    (on hold, cancelled, completed already) is never overwritten."""
    started = runtime.clock.now()
    wanted = due_statuses(runtime, store, connector.settings, connector.capabilities().ast)
    done: list[str] = []
    problems: list[str] = []
    if wanted:
        current = connector.current_statuses(sorted(wanted, key=int))
        moves = {order_id: target for order_id, target in wanted.items()
                 if units.may_move(current.get(order_id, ""), target)}
        if moves:
            done, problems = connector.update_statuses(moves)
            for problem in problems:
                log.warning("store %d: status not updated: %s", store.id, problem)
            record_health(runtime, store.id, "; ".join(problems) or None)
    if not problems:
        # An order the store refused stays in the next flush's window (until the lookback
        # limit): its status is retried instead of waiting for the order to change again.
        update_store_settings(runtime, store.id, statuses_flushed_until=started.isoformat())
    return len(done)


@job(FLUSH_STATUSES_JOB)
def flush_statuses_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    def work(rt: Runtime, store: Store, connector: WooCommerceConnector) -> None:
        if connector.settings.status_updates == "batched":
            changed = flush_statuses(rt, store, connector)
            if changed:
                log.info("store %d: %d order statuses updated", store.id, changed)

    _run(runtime, claimed, work)


# -- timed sweeps ------------------------------------------------------------------------------

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


def queue_reconciliation(runtime: Runtime) -> None:
    queue_for_every_store(runtime, RECONCILE_JOB,
                          runtime.settings.woocommerce.reconcile_interval_minutes)


def queue_webhook_health(runtime: Runtime) -> None:
    queue_for_every_store(runtime, WEBHOOK_HEALTH_JOB,
                          runtime.settings.woocommerce.webhook_health_interval_minutes)


def queue_status_flush(runtime: Runtime) -> None:
    queue_for_every_store(runtime, FLUSH_STATUSES_JOB,
                          runtime.settings.woocommerce.status_flush_interval_minutes)


# Timed sweeps this module contributes to the scheduler (see
# integration/scheduling/scheduled.py). The intervals here are how often the scheduler looks;
# each store's jobs follow [woocommerce].
SCHEDULED: list[ScheduledJob] = [
    ScheduledJob("woocommerce_reconcile", queue_reconciliation, 1),
    ScheduledJob("woocommerce_webhook_health", queue_webhook_health, 1),
    ScheduledJob("woocommerce_status_flush", queue_status_flush, 1),
]
