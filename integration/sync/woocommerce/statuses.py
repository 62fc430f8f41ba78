"""WooCommerce order statuses DropTrack owes a store, sent 100 per batch call; a status the
merchant set by hand is never overwritten.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from connectors.parsing import timestamp
from connectors.woocommerce import units
from connectors.woocommerce.connector import WooCommerceConnector
from connectors.woocommerce.settings import StoreSettings
from core.status import Reason, Status
from integration.engine import bindings
from integration.engine.orders import ORDER
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Binding, Order, Shipment, Store
from integration.sync.woocommerce.store import (
    queue_for_every_store,
    record_health,
    run_for_store,
    section,
    update_store_settings,
)

log = logging.getLogger(__name__)
FLUSH_STATUSES_JOB = "woocommerce.flush_statuses"


# Order rows written just before a flush may commit just after it read: re-read this much.
FLUSH_OVERLAP = timedelta(minutes=5)


def due_statuses(runtime: Runtime, store: Store, settings: StoreSettings,
                 partial_shipped: bool) -> dict[str, str]:
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
            target = units.flush_target(
                Status(order_status), Reason(reason) if reason else None,
                complete_on=settings.complete_on, partial_shipped=partial_shipped)
            if target in units.MOVABLE_TARGETS and external:
                wanted[str(external)] = str(target)
    return wanted


def flush_statuses(runtime: Runtime, store: Store, connector: WooCommerceConnector) -> int:
    """Send the statuses DropTrack owes this store; returns how many orders changed.

    The current statuses are read first (100 per call) so a status the merchant set by hand
    (on hold, cancelled, completed already) is never overwritten, and so an order the store
    mishandled (a status it no longer knows) is put back as it was."""
    started = runtime.clock.now()
    wanted = due_statuses(runtime, store, connector.settings,
                          connector.capabilities().partial_shipped)
    done: list[str] = []
    problems: list[str] = []
    if wanted:
        current = connector.current_statuses(sorted(wanted, key=int))
        moves = {order_id: target for order_id, target in wanted.items()
                 if units.may_move(current.get(order_id, ""), target)}
        if moves:
            done, problems = connector.update_statuses(moves, previous=current)
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

    run_for_store(runtime, claimed, work)


def queue_status_flush(runtime: Runtime) -> None:
    queue_for_every_store(runtime, FLUSH_STATUSES_JOB,
                          runtime.settings.woocommerce.status_flush_interval_minutes)
