"""Erasing personal data on request: one customer's (customers/redact) or a whole shop's
(shop/redact), as a job of its own.

Redaction runs in batches of `BATCH_SIZE` rows, each its own short write transaction, so a
large shop never holds the embedded database's write lock long enough to delay webhook
intake; every batch is idempotent, so a crash or retry simply carries on. The job's outbox
row names no store (its payload does): deleting the store must not cascade into the very job
that is deleting it, nor into the inbox delivery that asked for it.

Customers are matched in SQL on parsed fields (the order's bound external id, its e-mail
compared case-insensitively), never on substrings of raw bodies. Stored webhook bodies are
matched the same way: each is parsed (any JSON encoding) and its order `id` and e-mail
fields compared exactly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.errors import PermanentError
from integration.accounts.audit import record_audit
from integration.engine import bindings
from integration.engine.forwarding import SUPPLIER_ORDER
from integration.engine.orders import ORDER
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Binding,
    InboxDelivery,
    Order,
    Shipment,
    Store,
    SupplierOrder,
    TrackingEvent,
)

log = logging.getLogger(__name__)

REDACT_JOB = "compliance.redact"
BATCH_SIZE = 200
CUSTOMER, SHOP = "customer", "shop"


@dataclass(frozen=True)
class CustomerRequest:
    """Who to erase: the platform's customer reference, e-mail and order ids (as strings)."""

    customer_ref: str
    email: str
    external_order_ids: tuple[str, ...]


def queue(session: Session, store: Store, what: str, inbox_id: int, now: datetime) -> None:
    """Queue the redaction `what` (CUSTOMER or SHOP) asked for by inbox delivery `inbox_id`."""
    outbox.enqueue(session, REDACT_JOB, f"{REDACT_JOB}:{inbox_id}",
                   {"store_id": store.id, "what": what, "inbox_id": inbox_id,
                    "platform": store.platform}, now,
                   store_id=None, serial_key=f"{REDACT_JOB}:{store.id}")


@dataclass(frozen=True)
class PlatformRequests:
    """How a platform's customer redaction requests read, and which topics carry them (those
    deliveries are the requests themselves, kept for the record)."""

    read: Callable[[bytes], CustomerRequest]
    request_topics: frozenset[str]


_PLATFORMS: dict[str, PlatformRequests] = {}


def register_platform(platform: str, requests: PlatformRequests) -> None:
    _PLATFORMS[platform] = requests


@job(REDACT_JOB)
def redact(runtime: Runtime, claimed: ClaimedJob) -> None:
    payload = claimed.payload
    store_id, what = int(payload["store_id"]), str(payload["what"])
    actor = str(payload.get("platform") or "compliance")
    if what == SHOP:
        redact_shop(runtime, store_id, actor)
    elif what == CUSTOMER:
        with runtime.db.read() as session:
            body = session.scalar(select(InboxDelivery.body).where(
                InboxDelivery.id == int(payload["inbox_id"])))
        platform = _PLATFORMS.get(str(payload.get("platform")))
        if body is None or platform is None:
            raise PermanentError("the redaction request is no longer stored")
        redact_customer(runtime, store_id, platform.read(body), platform.request_topics, actor)
    else:
        raise PermanentError(f"unknown redaction {what!r}")


# ---------------------------------------------------------------------------- one customer
def redact_customer(runtime: Runtime, store_id: int, request: CustomerRequest,
                    request_topics: frozenset[str] = frozenset(),
                    actor: str = "compliance") -> int:
    """Blank the customer's personal data on their orders and in stored webhook bodies."""
    with runtime.db.read() as session:
        if session.get(Store, store_id) is None:
            return 0
        order_ids = _customer_order_ids(session, store_id, request)
        external_ids = set(request.external_order_ids) | set(session.scalars(
            select(Binding.external_id).where(
                Binding.owner_type == bindings.STORE, Binding.owner_id == store_id,
                Binding.kind == ORDER, Binding.internal_id.in_(order_ids)))) if order_ids \
            else set(request.external_order_ids)
    numbers: list[str] = []
    for batch in _batches(order_ids):
        with runtime.db.write() as session:
            numbers += _blank_orders(session, batch, runtime.clock.now())
    emptied = _empty_deliveries(runtime, store_id, external_ids, request.email, request_topics)
    with runtime.db.write() as session:
        record_audit(session, runtime.clock.now(), actor, "compliance.customer_redacted",
                     store_id=store_id, subject=f"customer:{request.customer_ref}",
                     details={"orders": numbers, "deliveries_emptied": emptied})
    return len(order_ids)


def _customer_order_ids(session: Session, store_id: int, request: CustomerRequest) -> list[int]:
    conditions: list[ColumnElement[bool]] = []
    if request.external_order_ids:
        conditions.append(Order.id.in_(select(Binding.internal_id).where(
            Binding.owner_type == bindings.STORE, Binding.owner_id == store_id,
            Binding.kind == ORDER, Binding.external_id.in_(request.external_order_ids))))
    if request.email:
        conditions.append(func.lower(func.trim(Order.email)) == request.email)
    if not conditions:
        return []
    return list(session.scalars(select(Order.id).where(
        Order.store_id == store_id, or_(*conditions)).order_by(Order.id)))


def _blank_orders(session: Session, order_ids: list[int], now: datetime) -> list[str]:
    numbers = list(session.scalars(select(Order.number).where(Order.id.in_(order_ids))))
    session.execute(update(Order).where(Order.id.in_(order_ids)).values(
        email="", customer_name="", ship_name="", ship_company="", ship_address1="",
        ship_address2="", ship_city="", ship_province="", ship_zip="", ship_phone="",
        updated_at=now))  # country, lines, amounts and shipment statuses stay
    session.execute(update(TrackingEvent).where(TrackingEvent.shipment_id.in_(
        select(Shipment.id).where(Shipment.order_id.in_(order_ids)))).values(location=""))
    return numbers


EMAIL_FIELDS = ("email", "contact_email", "billing_email")


def body_mentions(body: bytes, external_ids: set[str], email: str) -> bool:
    """Whether a stored webhook body is about one of these orders or this e-mail, judged on
    its parsed fields (a body that is not JSON mentions nothing)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(data, dict):
        return False
    if str(data.get("id", "")) in external_ids:
        return True
    if not email:
        return False
    found = [data.get(field) for field in EMAIL_FIELDS]
    for nested in ("customer", "billing"):
        inner = data.get(nested)
        if isinstance(inner, dict):
            found.append(inner.get("email"))
    return any(isinstance(value, str) and value.strip().lower() == email for value in found)


def _empty_deliveries(runtime: Runtime, store_id: int, external_ids: set[str],
                      email: str, request_topics: frozenset[str]) -> int:
    emptied, after = 0, 0
    while True:
        with runtime.db.read() as session:
            rows = session.execute(select(InboxDelivery.id, InboxDelivery.body).where(
                InboxDelivery.store_id == store_id, InboxDelivery.id > after,
                InboxDelivery.topic.not_in(request_topics))
                .order_by(InboxDelivery.id).limit(BATCH_SIZE)).all()
        if not rows:
            return emptied
        after = rows[-1].id
        matching = [row.id for row in rows if body_mentions(row.body, external_ids, email)]
        if matching:
            with runtime.db.write() as session:
                session.execute(update(InboxDelivery).where(InboxDelivery.id.in_(matching))
                                .values(body=b"{}", headers={}))
            emptied += len(matching)


# ---------------------------------------------------------------------------- a whole shop
def redact_shop(runtime: Runtime, store_id: int, actor: str = "compliance") -> int:
    """Delete the store and everything DropTrack holds about it, batch by batch."""
    with runtime.db.read() as session:
        store = session.get(Store, store_id)
        if store is None:
            return 0
        domain = store.domain
    deleted = 0
    while True:
        with runtime.db.write() as session:
            count = _delete_order_batch(session, store_id)
        if count == 0:
            break
        deleted += count
    while True:
        with runtime.db.write() as session:
            ids = list(session.scalars(select(InboxDelivery.id).where(
                InboxDelivery.store_id == store_id).limit(BATCH_SIZE)))
            session.execute(delete(InboxDelivery).where(InboxDelivery.id.in_(ids)))
        if not ids:
            break
    with runtime.db.write() as session:
        session.execute(delete(Binding).where(Binding.owner_type == bindings.STORE,
                                              Binding.owner_id == store_id))
        session.execute(delete(Store).where(Store.id == store_id))  # outbox, mappings cascade
        record_audit(session, runtime.clock.now(), actor, "compliance.shop_redacted",
                     store_id=None, subject=domain, details={"orders_deleted": deleted})
    log.info("store %d (%s) redacted: %d orders deleted", store_id, domain, deleted)
    return deleted


def _delete_order_batch(session: Session, store_id: int) -> int:
    order_ids = list(session.scalars(select(Order.id).where(Order.store_id == store_id)
                                     .order_by(Order.id).limit(BATCH_SIZE)))
    if not order_ids:
        return 0
    supplier_orders = select(SupplierOrder.id).where(SupplierOrder.order_id.in_(order_ids))
    session.execute(delete(Binding).where(Binding.owner_type == bindings.SUPPLIER,
                                          Binding.kind == SUPPLIER_ORDER,
                                          Binding.internal_id.in_(supplier_orders)))
    session.execute(delete(Binding).where(Binding.owner_type == bindings.STORE,
                                          Binding.owner_id == store_id,
                                          Binding.internal_id.in_(order_ids)))
    # Lines, supplier orders, shipments, tracking events, alerts and notifications cascade.
    session.execute(delete(Order).where(Order.id.in_(order_ids)))
    return len(order_ids)


def _batches(ids: Iterable[int]) -> Iterable[list[int]]:
    batch: list[int] = []
    for item in ids:
        batch.append(item)
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch
