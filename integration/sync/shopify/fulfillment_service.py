"""Fulfillment-service mode: DropTrack registered as the store's fulfillment service, answering
Shopify's fulfillment requests (accept and forward, or reject with a reason the merchant sees).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.shopify import fulfillment_service as service
from connectors.shopify.client import ShopifyClient
from connectors.shopify.settings import (
    FULFILLMENT_MODES,
    FULFILLMENT_SERVICE_PATH,
    FULFILLMENT_SERVICE_SCOPES,
    StoreSettings,
    missing_scopes,
)
from connectors.shopify.tokens import Credentials
from core.domain import Payment
from core.status import Reason, Status
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.engine.orders import import_order
from integration.jobs import alerts, outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    Order,
    OutboxJob,
    Store,
)
from integration.sync.connection import refusal_disconnects
from integration.sync.shopify.store import active_store, admin_client, queue_webhook_check
from integration.sync.writeback import store_access

log = logging.getLogger(__name__)
FULFILLMENT_REQUESTS_JOB = "shopify.fulfillment_requests"
FULFILLMENT_SERVICE_ALERT = "shopify_fulfillment_service"


# ---------------------------------------------------------------- fulfillment service
def fulfillment_service_callback(runtime: Runtime, store_id: int) -> str:
    """The callback URL given to Shopify (it POSTs to `<url>/fulfillment_order_notification`)."""
    return runtime.settings.app.public_url + FULFILLMENT_SERVICE_PATH.format(store_id=store_id)


def set_fulfillment_mode(runtime: Runtime, store_id: int, mode: str, *, actor: str) -> None:
    """Choose how the store hands orders to DropTrack (settings.MERCHANT_MANAGED or
    settings.FULFILLMENT_SERVICE); fulfillment-service mode registers the service at the next
    webhook check, queued now."""
    if mode not in FULFILLMENT_MODES:
        raise stores.StoreError(f"fulfillment mode must be one of {', '.join(FULFILLMENT_MODES)}")
    now = runtime.clock.now()
    with runtime.db.write() as session:
        store = stores.find_store(session, stores.SHOPIFY, store_id)
        if store is None:
            raise stores.StoreError(f"no Shopify store with id {store_id}")
        store.settings = {**(store.settings or {}), "fulfillment_mode": mode}
        store.updated_at = now
        record_audit(session, now, actor, "store.fulfillment_mode", store_id=store_id,
                     subject=store.domain, details={"mode": mode})
        queue_webhook_check(session, store_id, now)


def ensure_fulfillment_service(runtime: Runtime, store: Store, client: ShopifyClient) -> None:
    access = store_access(runtime, store)
    granted = Credentials.from_dict(access.credentials).scope
    missing = missing_scopes(granted, FULFILLMENT_SERVICE_SCOPES) if granted else []
    if missing:
        with runtime.db.write() as session:
            alerts.raise_alert(session, FULFILLMENT_SERVICE_ALERT, f"{store.id}:scopes", (
                f"{store.domain}: fulfillment-service mode needs the access scopes "
                f"{', '.join(missing)}; add them to [shopify] scopes and reinstall the app."),
                runtime.clock.now(), store_id=store.id)
        log.warning("store %d: cannot register the fulfillment service, missing %s", store.id,
                    missing)
        return
    registration = service.ensure_service(client, fulfillment_service_callback(runtime, store.id))
    current = StoreSettings.parse(store.settings, allow_override=False)
    if (current.fulfillment_service_id, current.fulfillment_location_id) != (
            registration.service_id, registration.location_id):
        with runtime.db.write() as session:
            row = session.get_one(Store, store.id)
            row.settings = {**(row.settings or {}),
                            "fulfillment_service_id": registration.service_id,
                            "fulfillment_location_id": registration.location_id}
            record_audit(session, runtime.clock.now(), "scheduler",
                         "store.fulfillment_service_registered", store_id=store.id,
                         subject=store.domain, details={
                             "service_id": registration.service_id,
                             "location_id": registration.location_id,
                             "callback_url": registration.callback_url,
                             "created": registration.created})
    # Requests made before the service was known (or while DropTrack was down).
    with runtime.db.write() as session:
        queue_fulfillment_requests(session, store.id, runtime.clock.now())


def queue_fulfillment_requests(session: Session, store_id: int, now: datetime) -> bool:
    """Queue a look at the store's requested fulfillment orders, unless one is already waiting
    to start (it will see every request made until then). True when queued."""
    waiting = session.scalar(select(OutboxJob.id).where(
        OutboxJob.kind == FULFILLMENT_REQUESTS_JOB, OutboxJob.store_id == store_id,
        OutboxJob.state == outbox.PENDING).limit(1))
    if waiting is not None:
        return False
    return outbox.enqueue(session, FULFILLMENT_REQUESTS_JOB,
                          f"shopify-fo-requests:{store_id}:{uuid.uuid4().hex}",
                          {"store_id": store_id}, now, store_id=store_id,
                          serial_key=f"shopify-fo-requests:{store_id}")


@dataclass(frozen=True)
class Answer:
    accept: bool
    reason: str  # FulfillmentOrderRejectionReason when rejecting
    message: str


def _answer(session: Session, order: Order, payment: Payment) -> Answer:
    """Accept what DropTrack forwards (or already did); reject what it cannot: no supplier
    mapped, payment not captured, order cancelled."""
    status = Status(order.status)
    if status in (Status.CANCELLED, Status.REFUNDED):
        return Answer(False, service.REJECT_OTHER,
                      f"Order {order.number} is {status.value}; DropTrack will not ship it.")
    if status is Status.PENDING and order.reason == Reason.UNMAPPED_SKU:
        alert = session.scalars(select(Alert).where(
            Alert.order_id == order.id, Alert.kind == Reason.UNMAPPED_SKU.value,
            Alert.resolved_at.is_(None)).order_by(Alert.id.desc())).first()
        detail = alert.message if alert is not None else \
            f"Order {order.number}: no supplier mapped for one of its products."
        return Answer(False, service.REJECT_INELIGIBLE_PRODUCT,
                      f"DropTrack cannot fulfil this: {detail} Map the SKU to a supplier in "
                      "DropTrack, then request fulfillment again.")
    if status is Status.PENDING and order.reason == Reason.PAYMENT_ISSUE:
        reason = service.REJECT_PAYMENT_DECLINED if payment is Payment.FAILED \
            else service.REJECT_OTHER
        return Answer(False, reason, (
            f"Order {order.number} is not paid (payment {payment.value}); DropTrack forwards "
            "paid orders only. Request fulfillment again once it is paid."))
    return Answer(True, "", f"DropTrack forwards order {order.number} to its supplier.")


@job(FULFILLMENT_REQUESTS_JOB)
def answer_fulfillment_requests(runtime: Runtime, claimed: ClaimedJob) -> None:
    """List the fulfillment orders Shopify asks DropTrack to fulfil; import each order through
    the engine (the webhooks' path: forwarded once, whatever came first), then accept or reject
    the request. Safe to repeat: an answered request is no longer listed."""
    store = active_store(runtime, int(claimed.payload["store_id"]))
    if store is None or not StoreSettings.parse(store.settings,
                                                allow_override=False).fulfillment_service:
        return
    client = admin_client(runtime, store)
    refused: list[str] = []
    try:
        with refusal_disconnects(runtime, store):  # queued again on reconnect
            refused = _answer_requests(runtime, store, client)
    finally:
        client.close()
    if refused:
        log.warning("store %d: Shopify refused answers to fulfillment requests: %s", store.id,
                    "; ".join(refused))


def _answer_requests(runtime: Runtime, store: Store, client: ShopifyClient) -> list[str]:
    """Answer every requested fulfillment order; the answers Shopify refused."""
    refused: list[str] = []
    for request in service.requested_fulfillment_orders(client):
        if request.order is None:
            answer = Answer(False, service.REJECT_OTHER, (
                f"DropTrack could not read order {request.order_name}: "
                + "; ".join(request.problems)))
            order_number = request.order_name
        else:
            with runtime.db.write() as session:
                result = import_order(session, store.id, request.order, runtime.clock.now())
                order = session.get_one(Order, result.order_id)
                answer = _answer(session, order, request.order.payment)
                order_number = order.number
        if answer.accept:
            errors = service.accept(client, request.fulfillment_order_id, answer.message)
        else:
            errors = service.reject(client, request.fulfillment_order_id, answer.reason,
                                    answer.message)
        if errors:  # e.g. the merchant withdrew the request meanwhile
            refused.append(f"{request.fulfillment_order_id}: {'; '.join(errors)}")
            continue
        with runtime.db.write() as session:
            record_audit(session, runtime.clock.now(), "shopify",
                         "fulfillment_request." + ("accepted" if answer.accept
                                                   else "rejected"),
                         store_id=store.id, subject=request.fulfillment_order_id,
                         details={"order": order_number, "reason": answer.reason,
                                  "message": answer.message})
        log.info("store %d: fulfillment request %s for %s %s", store.id,
                 request.fulfillment_order_id, order_number,
                 "accepted" if answer.accept else f"rejected ({answer.reason})")
    return refused


def poll_fulfillment_requests(runtime: Runtime) -> None:
    """Backstop for lost or throttled notifications: look for requests of every store in
    fulfillment-service mode (Shopify pings at most once a minute and may not retry)."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for store in session.scalars(select(Store).where(
                Store.platform == stores.SHOPIFY, Store.state == "active")):
            if StoreSettings.parse(store.settings or {}, allow_override=False).fulfillment_service:
                queue_fulfillment_requests(session, store.id, now)
