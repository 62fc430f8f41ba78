"""WooCommerce order statuses DropTrack owes a store, sent 100 per batch call; a status the
merchant set by hand is never overwritten.

Before a batch DropTrack must know each order's status now. It remembers the status it last
saw (`orders.store_status`: from webhooks, reconciliation, its own batch answers and these
listings) and the store-wide point `statuses_known_until` up to which every change has been
seen. Webhooks alone cannot move that point: WooCommerce delivers them through Action
Scheduler, up to 10 minutes late (rapid updates collapse), or not at all, so a status the
merchant set by hand a minute ago may not have arrived yet. That race is closed by reading,
not by trusting the webhook: a flush lists every order modified since `statuses_known_until`
(with `_fields=id,status,date_modified_gmt`, trashed ones too) and trusts the remembered status
only for orders that list does not contain, i.e. orders nobody changed since a read that saw
them. The list costs one call per 100 changed orders (two at least: "any" and "trash"), so it
is used only when it is cheaper than reading the orders to move (100 per call); otherwise, or
before the store has a known point, every order to move is read as before. The orders
DropTrack itself saw changed since the known point (its own last writes above all: the next
listing returns them too) decide that before any call; the first page's total decides the
rest. The remaining
window is the one every read-then-write has: a change made between the read and the batch
(milliseconds) is overwritten; WooCommerce offers no conditional write.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from sqlalchemy import func, select

from connectors.parsing import timestamp
from connectors.woocommerce import units
from connectors.woocommerce.client import MAX_PER_PAGE
from connectors.woocommerce.connector import StatusSight, WooCommerceConnector
from connectors.woocommerce.settings import StoreSettings, merged
from core.status import Reason, Status
from integration.engine import bindings
from integration.engine.orders import ORDER, remember_store_status
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Binding, Order, Shipment, Store
from integration.sync.reconcile import OVERLAP as RECONCILE_OVERLAP
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
                 partial_shipped: bool, remembered: dict[str, str] | None = None,
                 ) -> dict[str, str]:
    """order id in the store -> the status DropTrack wants it to show, for orders shown a
    parcel whose status changed since the last flush (at most `status_lookback_hours` ago).

    Only targets DropTrack may ever set are kept, so a flush reads (and the store answers)
    only the orders that may move; one query, ids included (no query per order). The status
    each one was last seen with goes into `remembered` (when given and known)."""
    now = runtime.clock.now()
    since = now - timedelta(hours=runtime.settings.woocommerce.status_lookback_hours)
    flushed = timestamp(section(store).get("statuses_flushed_until"))
    if flushed is not None:
        since = max(since, flushed - FLUSH_OVERLAP)
    wanted: dict[str, str] = {}
    with runtime.db.read() as session:
        rows = session.execute(
            select(Order.status, Order.reason, Binding.external_id, Order.store_status)
            .join(Binding, (Binding.owner_type == bindings.STORE)
                  & (Binding.owner_id == Order.store_id) & (Binding.kind == ORDER)
                  & (Binding.internal_id == Order.id))
            .where(Order.store_id == store.id, Order.updated_at >= since,
                   Order.id.in_(select(Shipment.order_id).where(
                       Shipment.written_status.is_not(None))))
            .order_by(Order.id))
        for order_status, reason, external, seen in rows:
            target = units.flush_target(
                Status(order_status), Reason(reason) if reason else None,
                complete_on=settings.complete_on, partial_shipped=partial_shipped)
            if target in units.MOVABLE_TARGETS and external:
                wanted[str(external)] = str(target)
                if remembered is not None and seen:
                    remembered[str(external)] = seen
    return wanted


def known_until(store: Store) -> datetime | None:
    """Up to when DropTrack has seen every change of the store's orders: the last listing a
    flush made, or what reconciliation has imported (less its overlap); None: never."""
    points = [timestamp(section(store).get("statuses_known_until"))]
    reconciled = timestamp(section(store).get("reconciled_until"))
    if reconciled is not None:
        points.append(reconciled - RECONCILE_OVERLAP)
    return max(filter(None, points), default=None)


def seen_after(runtime: Runtime, store: Store, since: datetime) -> int:
    """How many of the store's orders DropTrack saw modified after `since` and not trashed (its
    own last batch answers above all): the "any" listing returns at least those, so when they
    alone fill the listing's budget the orders are read at once, not after a wasted page."""
    with runtime.db.read() as session:
        return session.scalar(select(func.count(Order.id)).where(
            Order.store_id == store.id, Order.store_status_at > since,
            Order.store_status != "trash")) or 0


def remember_sights(runtime: Runtime, store: Store, sights: dict[str, StatusSight],
                    known: datetime | None = None) -> None:
    """Remember what the store showed for these orders (those DropTrack has); with `known`,
    move the store's known point there in the same transaction."""
    with runtime.db.write() as session:
        ids = list(sights)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = session.execute(
                select(Order, Binding.external_id)
                .join(Binding, (Binding.owner_type == bindings.STORE)
                      & (Binding.owner_id == Order.store_id) & (Binding.kind == ORDER)
                      & (Binding.internal_id == Order.id))
                .where(Order.store_id == store.id, Binding.external_id.in_(chunk)))
            for order, external in rows:
                status, modified = sights[str(external)]
                if status and (order.store_status, order.store_status_at) != (status, modified):
                    remember_store_status(order, status, modified)
        if known is not None:
            row = session.get_one(Store, store.id)
            row.settings = merged(row.settings, statuses_known_until=known.isoformat())
            store.settings = row.settings


def current_statuses(runtime: Runtime, store: Store, connector: WooCommerceConnector,
                     wanted: dict[str, str], remembered: dict[str, str]) -> dict[str, str]:
    """The status each order to move shows now, with as few reads as is safe (see the
    module's docstring): the orders changed since the known point are listed, the others
    keep the status remembered; whatever is neither is read."""
    ids = sorted(wanted, key=int)
    reads = math.ceil(len(ids) / MAX_PER_PAGE)
    since = known_until(store)
    unknown = [order_id for order_id in ids if order_id not in remembered]
    budget = reads - math.ceil(len(unknown) / MAX_PER_PAGE) - 1  # the list must save a call
    if connector.settings.status_reads != "remembered" or since is None or budget < 2 \
            or math.ceil(seen_after(runtime, store, since) / MAX_PER_PAGE) + 1 > budget:
        return connector.current_statuses(ids)
    listed_at = runtime.clock.now()
    changed = connector.statuses_changed_since(since, max_pages=budget)
    if changed is None:
        return connector.current_statuses(ids)
    # Rows committed in the store just before the list was read may carry an earlier time.
    remember_sights(runtime, store, changed, known=max(since, listed_at - FLUSH_OVERLAP))
    current = {order_id: remembered[order_id] for order_id in ids if order_id in remembered}
    current.update({order_id: status for order_id, (status, _) in changed.items()
                    if order_id in wanted})
    rest = [order_id for order_id in ids if order_id not in current]
    if rest:
        current.update(connector.current_statuses(rest))
    return current


def flush_statuses(runtime: Runtime, store: Store, connector: WooCommerceConnector) -> int:
    """Send the statuses DropTrack owes this store; returns how many orders changed.

    The current statuses are read first (100 per call) so a status the merchant set by hand
    (on hold, cancelled, completed already) is never overwritten, and so an order the store
    mishandled (a status it no longer knows) is put back as it was."""
    started = runtime.clock.now()
    remembered: dict[str, str] = {}
    wanted = due_statuses(runtime, store, connector.settings,
                          connector.capabilities().partial_shipped, remembered)
    done: list[str] = []
    problems: list[str] = []
    if wanted:
        current = current_statuses(runtime, store, connector, wanted, remembered)
        moves = {order_id: target for order_id, target in wanted.items()
                 if units.may_move(current.get(order_id, ""), target)}
        if moves:
            seen: dict[str, StatusSight] = {}
            done, problems = connector.update_statuses(moves, previous=current, seen=seen)
            remember_sights(runtime, store, seen)
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
