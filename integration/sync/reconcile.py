"""One reconciler for every store platform: the backstop for webhooks that never arrived.

The template, the same for Shopify and WooCommerce:

1. read the store's watermark (the newest change already imported) and ask the connector for
   the orders changed since then, minus `OVERLAP` (the one place it is applied: a change
   committed in the store just before the last run read may carry an older timestamp);
2. import each order in a transaction of its own, through the same engine path as a webhook,
   so one bad order neither fails the page nor stops the store's backstop;
3. raise an owner alert for each order the connector could not read (never skipped silently)
   and for each order the engine could not import;
4. move the watermark to the newest change seen after every page, so a run cut short (a crash,
   the page limit) continues where it stopped.

Re-reading the overlap is harmless: importing the same order twice changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from connectors.store_base import OrderPage
from core.domain import StoreOrder
from integration.engine.orders import import_order
from integration.jobs import alerts
from integration.kernel.runtime import Runtime

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)
UNREADABLE_ORDER = "unreadable_order"  # alert kind


class ChangedOrders(Protocol):
    """What a store connector offers the reconciler."""

    def orders_modified_since(self, since: datetime, cursor: str | None = None) -> OrderPage: ...


@dataclass(frozen=True)
class Watermark:
    """Where a platform keeps a store's watermark: read it, and save a newer one."""

    read: Callable[[], datetime]
    save: Callable[[datetime], None]


@dataclass(frozen=True)
class ReconcileReport:
    since: datetime
    read: int
    unreadable: int
    failed: int
    finished: bool  # False when the page limit stopped the run (the next one continues)


def reconcile_store(runtime: Runtime, store_id: int, connector: ChangedOrders,
                    watermark: Watermark, *, max_pages: int) -> ReconcileReport:
    """Import every order of the store changed since its watermark (see the module's steps)."""
    mark = watermark.read()
    since = mark - OVERLAP
    cursor: str | None = None
    read = unreadable = failed = 0
    finished = False
    for _ in range(max_pages):
        page = connector.orders_modified_since(since, cursor)
        newest = mark
        for order in page.orders:
            if not _import_one(runtime, store_id, order):
                failed += 1
            newest = max(newest, order.updated_at)
        for problem in page.problems:
            _alert_unreadable(runtime, store_id, problem)
        read += len(page.orders)
        unreadable += len(page.problems)
        if newest > mark:
            watermark.save(newest)
            mark = newest
        cursor = page.next_cursor
        if cursor is None:
            finished = True
            break
    log.info("store %d: reconciliation read %d changed orders since %s (%d unreadable, "
             "%d failed)", store_id, read, since.isoformat(), unreadable, failed)
    return ReconcileReport(since=since, read=read, unreadable=unreadable, failed=failed,
                           finished=finished)


def _import_one(runtime: Runtime, store_id: int, order: StoreOrder) -> bool:
    """One order in one transaction; False (and an alert) when the engine refused it."""
    try:
        with runtime.db.write() as session:
            import_order(session, store_id, order, runtime.clock.now())
    except IntegrityError:
        log.info("order %s of store %d: imported concurrently", order.number, store_id)
    except Exception as failure:
        log.exception("store %d: order %s could not be imported", store_id, order.number)
        _alert_unreadable(runtime, store_id, f"order {order.number}: {failure}")
        return False
    return True


def _alert_unreadable(runtime: Runtime, store_id: int, problem: str) -> None:
    digest = hashlib.sha256(problem.encode()).hexdigest()[:16]
    with runtime.db.write() as session:
        alerts.raise_alert(
            session, UNREADABLE_ORDER, f"store:{store_id}:{digest}",
            f"DropTrack could not read an order while checking the store for missed changes: "
            f"{problem}. Correct the order in the store; DropTrack reads it again when it "
            f"changes.", runtime.clock.now(), store_id=store_id)
    log.warning("store %d: order not imported by reconciliation: %s", store_id, problem)
