"""Outbox handlers that talk to suppliers: forward an order, withdraw it, poll its parcels.

Exactly once: every create carries the supplier order's idempotency key, so a retry after a
timeout, a crash between the call and our commit, or a second worker gets the same supplier
order back instead of a new one. Network calls happen outside any database transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from connectors.suppliers import base as supplier_base
from connectors.suppliers.base import (
    CreateResult,
    Rejection,
    SupplierAuthError,
    SupplierLine,
    SupplierOrderRequest,
    SupplierOrderView,
)
from core import wording
from core.domain import Address
from core.errors import RetryableError
from core.status import Reason, Status
from integration.accounts.supplier_kinds import RENEW_TOKENS_JOB, kind_of, renewal_key
from integration.accounts.suppliers import supplier_connection
from integration.engine import bindings, preflight
from integration.engine.orders import CANCEL_JOB, CONFIRM_ADDRESS_JOB, FORWARD_JOB
from integration.engine.tracking import ParcelUpdate, apply_parcel_update, parcel_lines
from integration.jobs import alerts, outbox
from integration.jobs.outbox import ClaimedJob, PermanentError
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.limits.circuits import tag
from integration.storage import plain
from integration.storage.models import Order, Store, Supplier, SupplierOrder, table_of

log = logging.getLogger(__name__)

SUPPLIER_ORDER = "supplier_order"
POLL_JOB = "supplier.poll"
AWAITING_PAYMENT = "awaiting_payment"  # SupplierOrder.status: placed, the owner pays
TOKEN_RETRY_SECONDS = 300.0  # a forward waiting for a renewed (or reconnected) token
# The holds a later successful forward (or payment) clears.
_FORWARDING_HOLDS = (Reason.OUT_OF_STOCK, Reason.PRICE_ABOVE_LIMIT, Reason.NO_SHIPPING_METHOD,
                     Reason.AWAITING_SUPPLIER_PAYMENT, Reason.SUPPLIER_CANCELLED,
                     Reason.UNMAPPED_SKU, Reason.SUPPLIER_REFUSED)


@dataclass(frozen=True)
class _Forwarding:
    supplier: Supplier
    request: SupplierOrderRequest
    key: str
    supplier_order_id: int
    done: bool


# Built once (its cache key is kept): what a forward needs, in one query.
_LOAD = (select(SupplierOrder, Order, Store.domain, Supplier)
         .join(Order, Order.id == SupplierOrder.order_id)
         .join(Store, Store.id == Order.store_id)
         .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
         .where(SupplierOrder.idempotency_key == bindparam("key")))


def _load(runtime: Runtime, claimed: ClaimedJob) -> _Forwarding:
    with runtime.db.read() as session:
        row = session.execute(_LOAD, {"key": claimed.idempotency_key}).one_or_none()
        if row is None:
            raise PermanentError(f"no supplier order for job key {claimed.idempotency_key}")
        supplier_order, order, store_domain, supplier = row
        session.expunge(supplier)
        lines = [_line(line) for line in claimed.payload.get("lines", [])]
        request = SupplierOrderRequest(
            store=store_domain, order_number=order.number, email=order.email, lines=lines,
            reference=supplier_reference(order.store_id, order.number),
            recipient=Address(
                name=order.ship_name, company=order.ship_company,
                address1=order.ship_address1, address2=order.ship_address2,
                city=order.ship_city, province=order.ship_province, postcode=order.ship_zip,
                country=order.ship_country, phone=order.ship_phone),
        )
        done = supplier_order.status != "queued" or order.status in (
            Status.CANCELLED, Status.REFUNDED)
        return _Forwarding(supplier, request, supplier_order.idempotency_key,
                           supplier_order.id, done)


def supplier_reference(store_id: int, order_number: str) -> str:
    """The order's reference at a supplier (CJ `orderNumber`, AliExpress `out_order_id`):
    the store's order number, prefixed by the store so two stores' "#1001" never meet in one
    supplier account. Stable: every retry sends the same one."""
    return f"{store_id}-{order_number.lstrip('#').strip()}"


def _line(data: dict[str, object]) -> SupplierLine:
    limit = data.get("max_unit_price")
    return SupplierLine(str(data["supplier_sku"]), int(str(data["quantity"])),
                        supplier_product_id=str(data.get("supplier_product_id") or ""),
                        supplier_variant_id=str(data.get("supplier_variant_id") or ""),
                        max_unit_price=Decimal(str(limit)) if limit else None)


@job(FORWARD_JOB)
def forward_order(runtime: Runtime, claimed: ClaimedJob) -> None:
    forwarding = _load(runtime, claimed)
    if forwarding.done:
        return  # forwarded by an earlier run, or the order was withdrawn meanwhile
    if kind_of(forwarding.supplier.kind).batch:
        # Spreadsheet suppliers get orders in batches (integration/sync/suppliers/csv_exchange.py).
        with runtime.db.write() as session:
            session.get_one(SupplierOrder, forwarding.supplier_order_id).status = \
                "awaiting_batch"
        return
    with _token_guard(runtime, forwarding.supplier, forwarding.supplier_order_id), \
            supplier_connection(runtime, forwarding.supplier) as connector:
        request = forwarding.request
        quote = connector.quote(request)
        verdict = preflight.check(quote, request) if quote is not None else None
        if verdict is None or not verdict.blocked:
            if verdict is not None and verdict.shipping is not None:
                request = replace(request, shipping_method=verdict.shipping.name)
            result = connector.create_order(request, forwarding.key)
    with runtime.db.write() as session:
        if verdict is not None and verdict.rejection is not None:
            result = CreateResult(rejection=verdict.rejection)
        elif verdict is not None and verdict.hold is not None:
            _held(session, forwarding, verdict.hold, runtime)
            return
        _record(session, forwarding, result, runtime)


@contextmanager
def _token_guard(runtime: Runtime, supplier: Supplier, supplier_order_id: int) -> Iterator[None]:
    """A token the supplier refused (expired, revoked) loses nothing: the supplier order says
    it waits, a renewal is queued (it alerts the owner when only reconnecting helps), and the
    job is retried later instead of dying; it goes on once the account works again."""
    try:
        yield
    except SupplierAuthError as exc:
        log.warning("supplier %d refused the token: %s", supplier.id, exc)
        now = runtime.clock.now()
        with runtime.db.write() as session:
            row = session.get_one(SupplierOrder, supplier_order_id)
            row.last_error = wording.supplier_disconnected(supplier.name)
            outbox.enqueue(session, RENEW_TOKENS_JOB, renewal_key(supplier) + ":refused",
                           {"supplier_id": supplier.id, "reason": "refused"}, now,
                           serial_key=f"{RENEW_TOKENS_JOB}:{supplier.id}")
        # Tagged with the supplier: its circuit opens, so its jobs wait instead of dying.
        raise tag(RetryableError(f"{supplier.name}: {exc}",
                                 retry_after_seconds=TOKEN_RETRY_SECONDS),
                  f"supplier:{supplier.id}") from exc


def _held(session: Session, forwarding: _Forwarding, hold: preflight.Hold,
          runtime: Runtime) -> None:
    """Not sent (price, shipping, unknown product): waits as "rejected" so that the owner's
    "Forward again" sends it once fixed."""
    now = runtime.clock.now()
    supplier_order = session.get_one(SupplierOrder, forwarding.supplier_order_id)
    order = session.get_one(Order, supplier_order.order_id)
    supplier_order.status, supplier_order.reason = "rejected", hold.reason.value
    supplier_order.last_error = hold.detail
    order.status, order.reason, order.updated_at = Status.PENDING, hold.reason, now
    alerts.raise_alert(session, alerts.SUPPLIER_REJECTED, f"order:{order.id}", hold.message,
                       now, store_id=order.store_id, order_id=order.id)


_SUPPLIER_ORDERS, _ORDERS = table_of(SupplierOrder), table_of(Order)
_LOCK = (select(_SUPPLIER_ORDERS.c.status, _SUPPLIER_ORDERS.c.supplier_id, _ORDERS.c.id,
                _ORDERS.c.number, _ORDERS.c.store_id, _ORDERS.c.status.label("order_status"),
                _ORDERS.c.reason)
         .join(_ORDERS, _ORDERS.c.id == _SUPPLIER_ORDERS.c.order_id)
         .where(_SUPPLIER_ORDERS.c.id == bindparam("id"))
         .with_for_update(of=_SUPPLIER_ORDERS))
# The columns set are the parameters' (bound names that are no column of the table).
_FORWARDED = update(_SUPPLIER_ORDERS).where(
    _SUPPLIER_ORDERS.c.id == bindparam("supplier_order_id"))
_ORDER_STATUS = update(_ORDERS).where(_ORDERS.c.id == bindparam("order_id"))


def _record(session: Session, forwarding: _Forwarding, result: CreateResult,
            runtime: Runtime) -> None:
    now = runtime.clock.now()
    # Locked: a second worker that ran the same create (an expired lease) waits here, then
    # finds the binding this one wrote instead of inserting it twice, and a refusal it got
    # ("already placed") does not undo this one's success. Columns, not objects: a success
    # is written as plain UPDATEs.
    row = plain.run(session, _LOCK, {"id": forwarding.supplier_order_id}).one()
    if result.rejection is not None and row.status in ("forwarded", AWAITING_PAYMENT):
        # A second worker (or a run after a restart) was refused because the first one's
        # create went through ("already placed"): the order stands as the first one left it.
        log.info("order %s: %s ignored, already forwarded", row.number, result.rejection.kind)
        return
    if result.rejection is not None:
        supplier_order, order = session.execute(
            select(SupplierOrder, Order).join(Order, Order.id == SupplierOrder.order_id)
            .where(SupplierOrder.id == forwarding.supplier_order_id)).one()
        _rejected(session, supplier_order, order, result.rejection, runtime)
        return
    assert result.external_id is not None
    bindings.bind_once(session, bindings.SUPPLIER, row.supplier_id, SUPPLIER_ORDER,
                       result.external_id, forwarding.supplier_order_id, now)
    alerts.resolve_alerts(session, row.id, (alerts.OUT_OF_STOCK, alerts.SUPPLIER_REJECTED), now)
    values: dict[str, object] = {"status": "forwarded", "reason": None, "last_error": None,
                                 "forwarded_at": now}
    if result.awaiting_payment is not None:
        values.update(status=AWAITING_PAYMENT, reason=Reason.AWAITING_SUPPLIER_PAYMENT.value)
        _set_order(session, row.id, Status.PENDING, Reason.AWAITING_SUPPLIER_PAYMENT, now)
        alerts.raise_alert(session, Reason.AWAITING_SUPPLIER_PAYMENT.value, f"order:{row.id}",
                           wording.pay_at_supplier(row.number, forwarding.supplier.name,
                                                   result.awaiting_payment),
                           now, store_id=row.store_id, order_id=row.id)
    elif row.order_status == Status.PENDING and row.reason in _FORWARDING_HOLDS:
        _set_order(session, row.id, Status.PROCESSING, None, now)
    plain.run(session, _FORWARDED, {**values, "supplier_order_id": forwarding.supplier_order_id})
    log.info("order %s forwarded to %s as %s%s", row.number, forwarding.supplier.name,
             result.external_id, " (replayed)" if result.replayed else "")


def _set_order(session: Session, order_id: int, status: Status, reason: Reason | None,
               now: datetime) -> None:
    plain.run(session, _ORDER_STATUS, {"order_id": order_id, "status": status, "reason": reason,
                                       "updated_at": now})


def _rejected(session: Session, supplier_order: SupplierOrder, order: Order,
              rejection: Rejection, runtime: Runtime) -> None:
    now = runtime.clock.now()
    supplier_order.status = "rejected"
    supplier_order.reason = rejection.kind
    supplier_order.last_error = "; ".join([rejection.message, *rejection.details])
    details = "; ".join(rejection.details) or rejection.message
    if rejection.kind == "out_of_stock":
        reason = Reason.OUT_OF_STOCK
        message = (f"Order {order.number}: the supplier is out of stock ({details}). Offer the "
                   "customer a variant or a refund, or switch to the backup supplier.")
    elif rejection.kind == Reason.NO_SHIPPING_METHOD.value:
        reason = Reason.NO_SHIPPING_METHOD
        message = wording.no_shipping_method(order.number, order.ship_country)
    elif rejection.kind not in ("invalid_address", "incomplete_address"):
        # Neither stock nor address (the supplier's account, its rules, already placed).
        reason = Reason.SUPPLIER_REFUSED
        supplier = session.get_one(Supplier, supplier_order.supplier_id).name
        message = wording.supplier_refused(order.number, supplier, rejection.kind, details)
    else:
        reason = Reason.ADDRESS_NEEDS_CONFIRMATION
        message = (f"Order {order.number}: the supplier cannot ship to this address ({details})."
                   " The customer was asked to confirm it.")
        outbox.enqueue(session, CONFIRM_ADDRESS_JOB, f"confirm-address:{order.id}",
                       {"order_id": order.id, "problems": list(rejection.details)}, now,
                       store_id=order.store_id)
    order.status, order.reason, order.updated_at = Status.PENDING, reason, now
    alerts.raise_alert(session, reason.value, f"order:{order.id}", message, now,
                       store_id=order.store_id, order_id=order.id)


def _target(runtime: Runtime, supplier_order_id: int) -> tuple[Supplier, str | None, str]:
    """The supplier of a supplier order, the supplier's id for it (None before it was
    accepted) and its status."""
    with runtime.db.read() as session:
        supplier_order = session.get_one(SupplierOrder, supplier_order_id)
        supplier = session.get_one(Supplier, supplier_order.supplier_id)
        session.expunge(supplier)
        external_id = bindings.external_id_of(session, bindings.SUPPLIER, supplier.id,
                                              SUPPLIER_ORDER, supplier_order.id)
        return supplier, external_id, supplier_order.status


@job(CANCEL_JOB)
def withdraw_order(runtime: Runtime, claimed: ClaimedJob) -> None:
    supplier_order_id = int(claimed.payload["supplier_order_id"])
    supplier, external_id, status = _target(runtime, supplier_order_id)
    if external_id is None or status in ("cancelled", "rejected"):
        with runtime.db.write() as session:
            session.get_one(SupplierOrder, supplier_order_id).status = "cancelled"
        return
    with supplier_connection(runtime, supplier) as connector:
        cancelled = connector.cancel_order(external_id)
    with runtime.db.write() as session:
        row = session.get_one(SupplierOrder, supplier_order_id)
        if cancelled:
            row.status = "cancelled"
        else:
            order = session.get_one(Order, row.order_id)
            alerts.raise_alert(
                session, alerts.SUPPLIER_REJECTED, f"cancel:{row.id}",
                f"Order {order.number} was cancelled in the store, but the supplier had "
                "already shipped it. Arrange a return or a refusal with the supplier.",
                runtime.clock.now(), store_id=order.store_id, order_id=order.id)


@job(POLL_JOB)
def poll_supplier_order(runtime: Runtime, claimed: ClaimedJob) -> None:
    supplier_order_id = int(claimed.payload["supplier_order_id"])
    supplier, external_id, _status = _target(runtime, supplier_order_id)
    if external_id is None:
        return
    with _token_guard(runtime, supplier, supplier_order_id), \
            supplier_connection(runtime, supplier) as connector:
        view = connector.get_order(external_id)
    with runtime.db.write() as session:
        _follow_status(session, supplier_order_id, supplier.name, view, runtime)
        order_lines = session.get_one(SupplierOrder, supplier_order_id).lines
        for parcel in view.parcels:
            apply_parcel_update(session, ParcelUpdate(
                supplier_order_id, parcel.ref, parcel.tracking_number, parcel.carrier,
                parcel.tracking_url, parcel.events, parcel.estimated_delivery_at,
                all_lines_shipped=view.all_lines_shipped,
                lines=parcel_lines(order_lines, [(i.supplier_ref, i.quantity)
                                                 for i in parcel.items])
                if len(view.parcels) > 1 else None),
                runtime.clock.now())


def _follow_status(session: Session, supplier_order_id: int, supplier_name: str,
                   view: SupplierOrderView, runtime: Runtime) -> None:
    """The supplier's status moves the supplier order on: paid (at the supplier) -> the hold
    lifts; cancelled by the supplier (not by us) -> pending with the owner's choice."""
    now = runtime.clock.now()
    row = session.get_one(SupplierOrder, supplier_order_id)
    order = session.get_one(Order, row.order_id)
    if view.status in (supplier_base.PROCESSING, supplier_base.SHIPPED) and \
            row.status == AWAITING_PAYMENT:
        row.status, row.reason = "forwarded", None
        alerts.resolve_alerts(session, order.id, (Reason.AWAITING_SUPPLIER_PAYMENT.value,), now)
        if order.status == Status.PENDING and \
                order.reason == Reason.AWAITING_SUPPLIER_PAYMENT:
            order.status, order.reason, order.updated_at = Status.PROCESSING, None, now
    elif view.status == supplier_base.CANCELLED and row.status in ("forwarded",
                                                                    AWAITING_PAYMENT):
        if order.status in (Status.CANCELLED, Status.REFUNDED):
            row.status = "cancelled"  # our own withdrawal, confirmed
            return
        row.status, row.reason = "rejected", Reason.SUPPLIER_CANCELLED.value
        row.last_error = view.note or "cancelled by the supplier"
        order.status, order.reason, order.updated_at = (Status.PENDING,
                                                        Reason.SUPPLIER_CANCELLED, now)
        alerts.raise_alert(session, alerts.SUPPLIER_REJECTED, f"order:{order.id}",
                           wording.supplier_cancelled(order.number, supplier_name, view.note),
                           now, store_id=order.store_id, order_id=order.id)
