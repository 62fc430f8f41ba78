"""Orders deleted in a WooCommerce store: withdrawn in DropTrack.

When an order is deleted (for good) before WooCommerce sends a delivery queued for it, the
delivery's body is the REST error `woocommerce_rest_shop_order_invalid_id` instead of the
order, and it says not which order it was. The intake acknowledges it (refusing it would count
towards WooCommerce disabling the webhook) and this job finds the orders that are gone: every
open DropTrack order of the store is looked up (100 per call); one the store no longer lists
is read on its own, and withdrawn when it answers 404 or shows `trash`.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from connectors.woocommerce.client import NotFound
from connectors.woocommerce.connector import WooCommerceConnector
from core.status import Status
from integration.engine import bindings
from integration.engine.orders import ORDER, withdraw_deleted
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Binding, Order, Store
from integration.sync.woocommerce.store import run_for_store

log = logging.getLogger(__name__)
WITHDRAW_DELETED_JOB = "woocommerce.withdraw_deleted"
DELETED_ORDER_CODE = "woocommerce_rest_shop_order_invalid_id"
_CLOSED = (Status.CANCELLED, Status.REFUNDED, Status.DELIVERED)


def is_deleted_order_body(payload: dict[str, Any]) -> bool:
    """The body WooCommerce delivers for an order deleted before its delivery ran."""
    return payload.get("code") == DELETED_ORDER_CODE and "id" not in payload


def open_orders(runtime: Runtime, store_id: int) -> dict[str, int]:
    """store order id -> DropTrack order id, for the store's orders not closed yet."""
    with runtime.db.read() as session:
        rows = session.execute(
            select(Binding.external_id, Order.id)
            .join(Order, Order.id == Binding.internal_id)
            .where(Binding.owner_type == bindings.STORE, Binding.owner_id == store_id,
                   Binding.kind == ORDER, Order.store_id == store_id,
                   Order.status.not_in([s.value for s in _CLOSED])))
        return {str(external): order_id for external, order_id in rows}


def gone(connector: WooCommerceConnector, order_ids: list[str]) -> list[str]:
    """The ids among `order_ids` the store deleted or trashed."""
    listed = connector.current_statuses(order_ids)
    missing = []
    for order_id in order_ids:
        if order_id in listed and listed[order_id] != "trash":
            continue
        try:
            data = connector.client.get(f"orders/{order_id}", params={"_fields": "id,status"},
                                        what=f"reading order {order_id}")
        except NotFound as absent:
            if absent.no_route:
                raise
            missing.append(order_id)
            continue
        if isinstance(data, dict) and data.get("status") == "trash":
            missing.append(order_id)
    return missing


def withdraw_gone_orders(runtime: Runtime, store: Store, connector: WooCommerceConnector) -> int:
    """Withdraw the store's deleted orders; returns how many."""
    known = open_orders(runtime, store.id)
    deleted = gone(connector, sorted(known, key=lambda value: int(value)
                                     if value.isdigit() else 0))
    now = runtime.clock.now()
    for external in deleted:
        with runtime.db.write() as session:
            withdraw_deleted(session, session.get_one(Order, known[external]), now)
        log.info("store %d: order %s was deleted in the store; withdrawn", store.id, external)
    return len(deleted)


@job(WITHDRAW_DELETED_JOB)
def withdraw_deleted_job(runtime: Runtime, claimed: ClaimedJob) -> None:
    def work(rt: Runtime, store: Store, connector: WooCommerceConnector) -> None:
        withdraw_gone_orders(rt, store, connector)

    run_for_store(runtime, claimed, work)
