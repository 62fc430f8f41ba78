"""Outbox handler that turns a stored webhook delivery into work for the engine."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.parsing import Problems
from connectors.shopify import mapper as shopify_mapper
from connectors.suppliers.rest import mapper as rest_mapper
from connectors.woocommerce import mapper as woocommerce_mapper
from core.domain import StoreOrder
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.engine import bindings
from integration.engine.forwarding import POLL_JOB, SUPPLIER_ORDER
from integration.engine.orders import ORDER, import_order
from integration.engine.tracking import PARCEL, ParcelUpdate, apply_parcel_update
from integration.jobs import inbox, outbox
from integration.jobs.outbox import ClaimedJob, PermanentError, RetryableError
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage import plain
from integration.storage.models import Binding, InboxDelivery, Store, table_of
from integration.sync.shopify import compliance, uninstall_check
from integration.sync.shopify import redaction_requests as shopify_redaction
from integration.sync.tracking import pushes as tracking_pushes
from integration.sync.woocommerce import deleted

log = logging.getLogger(__name__)

OrderParser = Callable[[dict[str, Any]], tuple[StoreOrder | None, Problems]]

ORDER_TOPICS: dict[str, tuple[frozenset[str], OrderParser]] = {
    stores.SHOPIFY: (
        frozenset({"orders/create", "orders/paid", "orders/updated", "orders/cancelled"}),
        shopify_mapper.parse_order,
    ),
    stores.WOOCOMMERCE: (
        frozenset({"order.created", "order.updated", "order.restored"}),
        woocommerce_mapper.parse_order,
    ),
}
UNINSTALL_TOPICS = frozenset({"app/uninstalled"})
WAITING = "waiting"  # an outcome, not a state: the delivery stays `received`


# Built once (their cache keys are kept): run for every delivery.
_DELIVERY = (select(InboxDelivery, Store).outerjoin(Store, Store.id == InboxDelivery.store_id)
             .where(InboxDelivery.id == bindparam("id")))


@job(inbox.PROCESS_JOB)
def process_delivery(runtime: Runtime, claimed: ClaimedJob) -> None:
    inbox_id = claimed.payload.get("inbox_id")
    if not isinstance(inbox_id, int):
        raise PermanentError("payload has no inbox_id")
    now = runtime.clock.now()
    try:
        with runtime.db.write() as session:
            # The delivery and its store in one query: `_handle` finds the store in the
            # session (held by `loaded`: the session's identity map keeps no object alive).
            loaded = session.execute(_DELIVERY, {"id": inbox_id}).first()
            delivery = loaded[0] if loaded is not None else None
            if delivery is None:
                raise PermanentError(f"inbox delivery {inbox_id} no longer exists")
            if delivery.state != "received":
                return  # already handled by an earlier run of this job
            if delivery.source in tracking_pushes.SOURCES:
                outcome = tracking_pushes.handle_push(session, runtime.settings, delivery, now)
            else:
                outcome = _handle(session, delivery, now)
            if outcome != WAITING:
                inbox.mark(session, inbox_id, outcome, now)
    except IntegrityError as exc:
        # Two deliveries of one new order raced to create it: the next attempt finds it.
        raise RetryableError(f"concurrent update of the same order: {exc.orig}") from exc
    except PermanentError as exc:
        with runtime.db.write() as session:
            inbox.mark(session, inbox_id, "failed", now, str(exc))
        raise
    log.info("inbox delivery %d %s", inbox_id, outcome)


def _handle(session: Session, delivery: InboxDelivery, now: datetime) -> str:
    if delivery.supplier_id is not None:
        return _handle_supplier_push(session, delivery, now)
    store = session.get(Store, delivery.store_id) if delivery.store_id else None
    if store is None:
        return "ignored"
    if delivery.topic in UNINSTALL_TOPICS:
        if store.state == "active":  # Shopify confirms it first (the shop header is unsigned)
            uninstall_check.queue_confirmation(session, store, delivery.id, now)
        return "processed"
    if store.platform == stores.SHOPIFY and delivery.topic in shopify_redaction.REDACTION_TOPICS:
        return shopify_redaction.queue(session, store, delivery)  # batched, in a job of its own
    if store.platform == stores.SHOPIFY and delivery.topic in compliance.COMPLIANCE_TOPICS:
        return compliance.handle_compliance(session, store, delivery.topic, delivery.body, now)
    topics, parse = ORDER_TOPICS.get(store.platform, (frozenset(), None))
    if parse is None or delivery.topic not in topics:
        return "ignored"
    if store.state == stores.DISCONNECTED:
        return WAITING  # kept `received`: processed when the store is connected again
    if store.state != stores.ACTIVE:
        return "ignored"
    try:
        payload = json.loads(delivery.body)
    except ValueError as exc:
        raise PermanentError(f"inbox delivery {delivery.id} is not JSON") from exc
    if store.platform == stores.WOOCOMMERCE and deleted.is_deleted_order_body(payload):
        # An order deleted before this delivery ran: find which, and withdraw it.
        outbox.enqueue(session, deleted.WITHDRAW_DELETED_JOB,
                       f"{deleted.WITHDRAW_DELETED_JOB}:{store.id}:{delivery.id}",
                       {"store_id": store.id}, now, store_id=store.id,
                       serial_key=f"{deleted.WITHDRAW_DELETED_JOB}:{store.id}")
        return "processed"
    order, problems = parse(payload)
    if order is None:
        raise PermanentError("order payload rejected: " + "; ".join(problems))
    if store.platform == stores.SHOPIFY and (
            other := _shopify_order_owner(session, store.id, order.external_id)) is not None:
        # Shopify order ids are global and every shop of the app signs with one secret: this
        # is another shop's delivery re-sent under this shop's name. Never a second order.
        log.warning("shopify order %s of store %d refused for store %d", order.external_id,
                    other, store.id)
        record_audit(session, now, "shopify", "webhook.foreign_order_refused",
                     store_id=store.id, subject=f"order:{order.external_id}",
                     details={"bound_to_store": other, "inbox_id": delivery.id})
        return "ignored"
    result = import_order(session, store.id, order, now)
    log.info("order %s of store %d: %s", order.number, store.id, result.outcome.value)
    return "processed"


_BINDINGS, _STORES = table_of(Binding), table_of(Store)
_OTHER_SHOPIFY_OWNER = select(_BINDINGS.c.owner_id).where(
    _BINDINGS.c.owner_type == bindings.STORE, _BINDINGS.c.kind == ORDER,
    _BINDINGS.c.external_id == bindparam("external_id"),
    _BINDINGS.c.owner_id.in_(select(_STORES.c.id).where(
        _STORES.c.platform == stores.SHOPIFY, _STORES.c.id != bindparam("store_id"))),
).limit(1)


def _shopify_order_owner(session: Session, store_id: int, external_id: str) -> int | None:
    """The other Shopify store this order id is already bound to, if any."""
    owner: int | None = plain.run(session, _OTHER_SHOPIFY_OWNER, {
        "store_id": store_id, "external_id": external_id}).scalar()
    return owner


def _handle_supplier_push(session: Session, delivery: InboxDelivery, now: datetime) -> str:
    """A supplier's push is a hint: apply a tracking event at once, poll on order changes."""
    assert delivery.supplier_id is not None
    try:
        payload = json.loads(delivery.body)
    except ValueError as exc:
        raise PermanentError(f"inbox delivery {delivery.id} is not JSON") from exc
    # The reference protocol's `data.order_id`; CJ's `params.orderId` (a hint: polled below).
    data = payload.get("data") if isinstance(payload.get("data"), dict) else (
        payload.get("params") if isinstance(payload.get("params"), dict) else {})
    order_id = data.get("order_id") or data.get("orderId") or data.get("cjOrderId") or ""
    binding = bindings.find(session, bindings.SUPPLIER, delivery.supplier_id, SUPPLIER_ORDER,
                            str(order_id))
    if binding is None:
        return "ignored"  # not an order DropTrack placed (or placed by another install)
    raw_event = data.get("event")
    if delivery.topic == "tracking.updated" and isinstance(raw_event, dict):
        event = rest_mapper.parse_event(raw_event)
        number = str(raw_event.get("tracking_number") or "")
        if event is None or not number or not data.get("parcel_id"):
            return "ignored"
        parcel_ref = str(data["parcel_id"])
        # The push names no lines: a parcel seen for the first time may be one of several,
        # so the order counts as partly shipped until a poll reads its lines.
        new_parcel = bindings.find(session, bindings.SUPPLIER, delivery.supplier_id, PARCEL,
                                   parcel_ref) is None
        apply_parcel_update(session, ParcelUpdate(
            binding.internal_id, parcel_ref, number,
            carrier=str(raw_event.get("carrier") or "") or None, events=[event],
            all_lines_shipped=False if new_parcel else None), now)
        if new_parcel:
            outbox.enqueue(session, POLL_JOB, f"poll:{binding.internal_id}:{parcel_ref}",
                           {"supplier_order_id": binding.internal_id}, now,
                           serial_key=f"supplier_order:{binding.internal_id}")
        return "processed"
    outbox.enqueue(session, POLL_JOB, f"poll:{binding.internal_id}:{delivery.dedupe_key}",
                   {"supplier_order_id": binding.internal_id}, now)
    return "processed"
