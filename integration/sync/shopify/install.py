"""Shopify work for the outbox and the scheduler: job handlers and timed sweeps.

* connecting a store (install callback, custom-app client credentials) and keeping its webhook
  subscriptions healthy;
* renewing expiring tokens before they expire, and forgetting them after `app/uninstalled`;
* reconciliation: orders updated since a watermark (minus an overlap) through the same mapper
  and engine path as webhooks;
* the mandatory compliance topics (customers/data_request, customers/redact, shop/redact);
* fulfillment-service mode: registering DropTrack's fulfillment service with the store, and
  answering Shopify's fulfillment requests (accept and forward, or reject with a reason).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.shopify import fulfillment_service as service
from connectors.shopify.client import ShopifyAuthError, ShopifyClient, http_client, renew
from connectors.shopify.connector import ShopifyConnector, client_for
from connectors.shopify.settings import (
    FULFILLMENT_MODES,
    FULFILLMENT_SERVICE_PATH,
    FULFILLMENT_SERVICE_SCOPES,
    WEBHOOK_PATH,
    StoreSettings,
    missing_scopes,
)
from connectors.shopify.subscriptions import ensure_subscriptions
from connectors.shopify.tokens import CLIENT_CREDENTIALS, Credentials
from core.domain import Payment
from core.errors import PermanentError, RetryableError
from core.status import Reason, Status
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.engine import alerts, bindings
from integration.engine.orders import ORDER, import_order
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.limits.shared import shopify_environment
from integration.scheduling.scheduled import ScheduledJob
from integration.storage.models import (
    Alert,
    Binding,
    Order,
    OutboxJob,
    Shipment,
    Store,
)
from integration.sync.writeback import store_access

log = logging.getLogger(__name__)

ENSURE_WEBHOOKS_JOB = "shopify.webhooks.ensure"
FULFILLMENT_REQUESTS_JOB = "shopify.fulfillment_requests"
FULFILLMENT_SERVICE_ALERT = "shopify_fulfillment_service"
RECONCILE_JOB = "shopify.reconcile"
RECONCILE_OVERLAP = timedelta(minutes=10)
FIRST_RECONCILE_WINDOW = timedelta(days=1)
WATERMARK = "reconciled_until"
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
DATA_REQUEST_ALERT = "customer_data_request"


def _client(runtime: Runtime, store: Store) -> ShopifyClient:
    """The store's Admin API client, on the cost budget this process shares."""
    return client_for(store_access(runtime, store), shopify_environment(runtime.settings))


# ---------------------------------------------------------------------------- connecting
def connect_store(runtime: Runtime, shop: str, credentials: Credentials, *, actor: str,
                  webhook_secret: str, settings: dict[str, Any] | None = None) -> int:
    """Create or re-activate the store row with encrypted credentials, then queue the webhook
    subscriptions. Returns the store id."""
    domain = stores.normalize_shop_domain(shop)
    now = runtime.clock.now()
    with runtime.db.write() as session:
        store = stores.find_shopify_store(session, domain)
        action = "store.reinstalled" if store is not None else "store.installed"
        if store is None:
            store = Store(platform=stores.SHOPIFY, domain=domain, name=domain, settings={},
                          created_at=now)
            session.add(store)
        store.state = "active"
        store.credentials_encrypted = runtime.secrets.encrypt_json(credentials.as_dict())
        new_secret = runtime.secrets.encrypt(webhook_secret)
        if store.webhook_secret_encrypted and \
                runtime.secrets.decrypt(store.webhook_secret_encrypted) != webhook_secret:
            store.previous_webhook_secret_encrypted = store.webhook_secret_encrypted
        store.webhook_secret_encrypted = new_secret
        store.settings = {**(store.settings or {}), **(settings or {})}
        store.updated_at = now
        session.flush()
        record_audit(session, now, actor, action, store_id=store.id, subject=domain,
                     details={"kind": credentials.kind, "scope": credentials.scope})
        queue_webhook_check(session, store.id, now)
        return store.id


def connect_custom_app(runtime: Runtime, shop: str, client_id: str, client_secret: str) -> int:
    """A merchant's own custom app: exchange its client credentials for a token (renewed the
    same way whenever it expires), check the scopes, connect the store."""
    domain = stores.normalize_shop_domain(shop)
    if not client_id.strip() or not client_secret.strip():
        raise stores.StoreError("the custom app's client id and secret must not be empty")
    base = runtime.settings.shopify.admin_base_url.rstrip("/") \
        if runtime.settings.loopback_http_allowed else ""
    pending = Credentials(access_token="", kind=CLIENT_CREDENTIALS, client_id=client_id.strip(),
                          client_secret=client_secret.strip())
    try:
        with http_client(base) as http:
            credentials = renew(http, domain, pending, runtime.clock.now())
    except (ShopifyAuthError, RetryableError) as exc:
        raise stores.StoreError(f"Shopify refused the custom app's credentials: {exc}") from None
    missing = missing_scopes(credentials.scope)
    if missing:
        raise stores.StoreError("the custom app lacks these access scopes: "
                                + ", ".join(missing))
    return connect_store(runtime, domain, credentials, actor="cli",
                         webhook_secret=credentials.client_secret,
                         settings={"admin_base_url": base} if base else {})


def queue_webhook_check(session: Session, store_id: int, now: datetime) -> None:
    outbox.enqueue(session, ENSURE_WEBHOOKS_JOB,
                   f"shopify-webhooks:{store_id}:{now.strftime('%Y%m%d%H%M')}",
                   {"store_id": store_id}, now, store_id=store_id,
                   serial_key=f"shopify-webhooks:{store_id}")


def _active_store(runtime: Runtime, store_id: int) -> Store | None:
    with runtime.db.read() as session:
        store = stores.find_store(session, stores.SHOPIFY, store_id)
        if store is None or store.state != "active":
            return None
        session.expunge(store)
        return store


@job(ENSURE_WEBHOOKS_JOB)
def ensure_webhooks(runtime: Runtime, claimed: ClaimedJob) -> None:
    store = _active_store(runtime, int(claimed.payload["store_id"]))
    if store is None:
        return
    client = _client(runtime, store)
    try:
        report = ensure_subscriptions(client, runtime.settings.app.public_url + WEBHOOK_PATH)
        if StoreSettings.parse(store.settings, allow_override=False).fulfillment_service:
            _ensure_fulfillment_service(runtime, store, client)
    finally:
        client.close()
    if report.repaired:
        with runtime.db.write() as session:
            record_audit(session, runtime.clock.now(), "scheduler", "store.webhooks_repaired",
                         store_id=store.id, subject=store.domain,
                         details={"created": report.created, "deleted": report.deleted})
    log.info("store %d: webhooks kept %s, created %s, deleted %s", store.id, report.kept,
             report.created, report.deleted)


def check_webhooks(runtime: Runtime) -> None:
    """Health sweep: queue a subscription check for every active Shopify store."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for store_id in session.scalars(select(Store.id).where(
                Store.platform == stores.SHOPIFY, Store.state == "active")):
            queue_webhook_check(session, store_id, now)


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


def _ensure_fulfillment_service(runtime: Runtime, store: Store, client: ShopifyClient) -> None:
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
    store = _active_store(runtime, int(claimed.payload["store_id"]))
    if store is None or not StoreSettings.parse(store.settings,
                                                allow_override=False).fulfillment_service:
        return
    client = _client(runtime, store)
    refused: list[str] = []
    try:
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
    finally:
        client.close()
    if refused:
        log.warning("store %d: Shopify refused answers to fulfillment requests: %s", store.id,
                    "; ".join(refused))


def poll_fulfillment_requests(runtime: Runtime) -> None:
    """Backstop for lost or throttled notifications: look for requests of every store in
    fulfillment-service mode (Shopify pings at most once a minute and may not retry)."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for store in session.scalars(select(Store).where(
                Store.platform == stores.SHOPIFY, Store.state == "active")):
            if StoreSettings.parse(store.settings or {}, allow_override=False).fulfillment_service:
                queue_fulfillment_requests(session, store.id, now)


# ---------------------------------------------------------------------------- tokens
def renew_expiring_tokens(runtime: Runtime) -> None:
    """Renew every token that expires within the refresh margin (before a job hits a 401)."""
    now = runtime.clock.now()
    with runtime.db.read() as session:
        rows = list(session.scalars(select(Store).where(
            Store.platform == stores.SHOPIFY, Store.state == "active")))
        session.expunge_all()
    for store in rows:
        access = store_access(runtime, store)
        credentials = Credentials.from_dict(access.credentials)
        if not credentials.needs_refresh(now):
            continue
        settings = StoreSettings.parse(access.settings, allow_override=access.allow_loopback_http)
        try:
            with http_client(settings.admin_base_url) as http:
                access.save_credentials(renew(http, store.domain, credentials, now).as_dict())
        except ShopifyAuthError as exc:
            log.warning("store %d: %s", store.id, exc)
            with runtime.db.write() as session:
                alerts.raise_alert(session, "shopify_token", f"{store.id}:{credentials.expires_at}",
                                   f"{store.domain}: DropTrack can no longer renew its access "
                                   "token; open the app in Shopify to reinstall it.", now,
                                   store_id=store.id)
        except Exception:  # one store's failure must not stop the others; retried next sweep
            log.exception("store %d: token renewal failed", store.id)


def forget_uninstalled_tokens(runtime: Runtime) -> None:
    """After app/uninstalled (the store is marked uninstalled): stop work and drop the tokens.
    The webhook secret stays, so the compliance webhooks Shopify sends later still verify."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for store in session.scalars(select(Store).where(
                Store.platform == stores.SHOPIFY, Store.state == "uninstalled",
                Store.credentials_encrypted.is_not(None))):
            store.credentials_encrypted = None
            store.updated_at = now
            record_audit(session, now, "scheduler", "store.tokens_revoked", store_id=store.id,
                         subject=store.domain)


# ---------------------------------------------------------------------------- reconciliation
@job(RECONCILE_JOB)
def reconcile(runtime: Runtime, claimed: ClaimedJob) -> None:
    store = _active_store(runtime, int(claimed.payload["store_id"]))
    if store is None:
        return
    started = runtime.clock.now()
    watermark = (store.settings or {}).get(WATERMARK)
    since = (datetime.fromisoformat(watermark) if isinstance(watermark, str)
             else started - FIRST_RECONCILE_WINDOW) - RECONCILE_OVERLAP
    connector = ShopifyConnector(_client(runtime, store),
                                 StoreSettings.parse(store.settings, allow_override=False))
    imported = 0
    problems: list[str] = []
    try:
        cursor: str | None = None
        while True:
            page = connector.orders_modified_since(since, cursor)
            problems.extend(page.problems)
            with runtime.db.write() as session:
                for order in page.orders:
                    import_order(session, store.id, order, runtime.clock.now())
                    imported += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    finally:
        connector.close()
    with runtime.db.write() as session:
        row = session.get_one(Store, store.id)
        row.settings = {**(row.settings or {}), WATERMARK: started.isoformat()}
    log.info("store %d: reconciled %d orders since %s (%d unreadable: %s)", store.id,
             imported, since.isoformat(), len(problems), "; ".join(problems[:5]))


def queue_reconciliation(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for store_id in session.scalars(select(Store.id).where(
                Store.platform == stores.SHOPIFY, Store.state == "active")):
            outbox.enqueue(session, RECONCILE_JOB,
                           f"shopify-reconcile:{store_id}:{now.strftime('%Y%m%d%H%M')}",
                           {"store_id": store_id}, now, store_id=store_id,
                           serial_key=f"shopify-reconcile:{store_id}")


# ---------------------------------------------------------------------------- compliance
def handle_compliance(session: Session, store: Store, topic: str, body: bytes,
                      now: datetime) -> str:
    """customers/data_request for `store`; audited.
    Called by the inbox job (integration/jobs/processing.py) for a stored delivery."""
    payload = _compliance_payload(body)
    if topic == "customers/data_request":
        return _data_request(session, store, payload, now)
    # customers/redact and shop/redact run as batched jobs: integration/engine/redaction.py
    raise PermanentError(f"not a compliance topic handled here: {topic}")


def _customer_orders(session: Session, store: Store, payload: dict[str, Any],
                     order_ids_key: str) -> list[Order]:
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    email = str((customer or {}).get("email") or "").strip().lower()
    external_ids = [str(i) for i in payload.get(order_ids_key) or []]
    internal = set(session.scalars(select(Binding.internal_id).where(
        Binding.owner_type == bindings.STORE, Binding.owner_id == store.id,
        Binding.kind == ORDER, Binding.external_id.in_(external_ids)))) if external_ids else set()
    query = select(Order).where(Order.store_id == store.id)
    orders = [order for order in session.scalars(query)
              if order.id in internal or (email and order.email.strip().lower() == email)]
    return sorted(orders, key=lambda order: order.id)


def _export(session: Session, order: Order) -> dict[str, Any]:
    shipments = session.scalars(select(Shipment).where(Shipment.order_id == order.id))
    return {
        "order": order.number, "email": order.email, "name": order.customer_name,
        "shipping_address": {
            "name": order.ship_name, "company": order.ship_company,
            "address1": order.ship_address1, "address2": order.ship_address2,
            "city": order.ship_city, "province": order.ship_province, "zip": order.ship_zip,
            "country": order.ship_country, "phone": order.ship_phone},
        "lines": [{"sku": line.sku, "name": line.name, "quantity": line.quantity}
                  for line in order.lines],
        "shipments": [{"carrier": s.carrier, "tracking_number": s.tracking_number,
                       "status": s.status} for s in shipments],
    }


def _data_request(session: Session, store: Store, payload: dict[str, Any],
                  now: datetime) -> str:
    orders = _customer_orders(session, store, payload, "orders_requested")
    request = payload.get("data_request") if isinstance(payload.get("data_request"), dict) \
        else {}
    request_id = str((request or {}).get("id") or now.isoformat())
    export = {"shop": store.domain, "requested_at": now.isoformat(),
              "orders": [_export(session, order) for order in orders]}
    record_audit(session, now, "shopify", "compliance.customer_data_request",
                 store_id=store.id, subject=f"data_request:{request_id}",
                 details={"export": export})
    alerts.raise_alert(session, DATA_REQUEST_ALERT, f"{store.id}:{request_id}", (
        f"A customer asked Shopify for the data DropTrack holds about them (request "
        f"{request_id}): {len(orders)} order(s). The export is in the audit log entry "
        f"compliance.customer_data_request; send it to the customer within 30 days."),
        now, store_id=store.id)
    return "processed"


def _compliance_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise PermanentError("compliance payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise PermanentError("compliance payload is not an object")
    return payload


# Timed sweeps this module contributes to the scheduler (see integration/scheduling/scheduled.py).
SCHEDULED: list[ScheduledJob] = [
    ScheduledJob("shopify.tokens.renew", renew_expiring_tokens, minutes=5),
    ScheduledJob("shopify.tokens.forget_uninstalled", forget_uninstalled_tokens, minutes=1),
    ScheduledJob("shopify.webhooks.health", check_webhooks, minutes=60),
    ScheduledJob("shopify.reconcile", queue_reconciliation, minutes=30),
    ScheduledJob("shopify.fulfillment_requests", poll_fulfillment_requests, minutes=10),
]
