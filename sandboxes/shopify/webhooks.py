"""Signed webhook deliveries with Shopify's headers, timeouts, retries and removal rule.

Deliveries are queued when the state emits an event and sent by `deliver_due()` (tests call it;
the CLI can run `start_background()`), so retries follow the injected clock. Switches inject
Shopify's real-world misbehaviour: duplicate deliveries, out-of-order delivery, delay.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from sandboxes.shopify.signing import webhook_hmac
from sandboxes.shopify.state import Fulfillment, Order, SandboxState, gid

RETRY_DELAYS = tuple(timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 64, 113))
"""8 retries spread over 4 hours after the first attempt (Shopify: 8 tries over 4 hours)."""
CONNECT_TIMEOUT_SECONDS = 1.0
TOTAL_TIMEOUT_SECONDS = 5.0
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
FULFILLMENT_ORDER_NOTIFICATION = "fulfillment_order_notification"
"""Not a webhook topic: Shopify's ping to `<callbackUrl>/fulfillment_order_notification` of a
fulfillment service (body `{"kind": "FULFILLMENT_REQUEST"}`), HMAC-signed like webhooks."""


@dataclass
class Attempt:
    at: datetime
    status: int | None
    error: str | None = None


@dataclass
class Delivery:
    webhook_id: str
    event_id: str
    topic: str
    shop: str
    url: str
    secret: str
    body: bytes
    api_version: str
    triggered_at: datetime
    due_at: datetime
    subscription_id: int | None = None
    name: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    state: str = "pending"  # pending | delivered | failed

    @property
    def headers(self) -> dict[str, str]:
        if self.topic == FULFILLMENT_ORDER_NOTIFICATION:
            # A fulfillment service request: signed and addressed like a webhook, no topic.
            return {"Content-Type": "application/json",
                    "X-Shopify-Hmac-Sha256": webhook_hmac(self.body, self.secret),
                    "X-Shopify-Shop-Domain": self.shop,
                    "X-Shopify-API-Version": self.api_version}
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Hmac-Sha256": webhook_hmac(self.body, self.secret),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-Event-Id": self.event_id,
            "X-Shopify-Triggered-At": self.triggered_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        if self.name:
            headers["X-Shopify-Name"] = self.name
        return headers


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def fulfillment_payload(state: SandboxState, fulfillment: Fulfillment) -> dict[str, Any]:
    first = fulfillment.tracking[0] if fulfillment.tracking else None
    latest = fulfillment.latest_event
    return {
        "id": fulfillment.id, "admin_graphql_api_id": gid("Fulfillment", fulfillment.id),
        "order_id": fulfillment.order_id, "name": fulfillment.name,
        "status": fulfillment.status.lower(), "created_at": _iso(fulfillment.created_at),
        "updated_at": _iso(fulfillment.updated_at),
        "shipment_status": latest.status.lower() if latest else None,
        "tracking_company": first.company if first else None,
        "tracking_number": first.number if first else None,
        "tracking_numbers": [t.number for t in fulfillment.tracking if t.number],
        "tracking_url": first.url if first else None,
        "tracking_urls": [t.url for t in fulfillment.tracking if t.url],
        "line_items": [{"id": li.line_item_id, "quantity": li.quantity}
                       for li in fulfillment.line_items],
    }


def _money_set(value: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": _money(value), "currency_code": currency}
    return {"shop_money": money, "presentment_money": money}


def _line_payload(state: SandboxState, order: Order, li: Any) -> dict[str, Any]:
    fulfilled = sum(fli.quantity for f in order.fulfillment_ids
                    for fli in state.fulfillments[f].line_items if fli.line_item_id == li.id)
    zero = _money_set(Decimal("0"), order.currency)
    return {
        "id": li.id, "admin_graphql_api_id": gid("LineItem", li.id), "attributed_staffs": [],
        "current_quantity": li.quantity, "fulfillable_quantity": li.quantity - fulfilled,
        "fulfillment_service": "manual",
        "fulfillment_status": ("fulfilled" if fulfilled >= li.quantity
                               else "partial" if fulfilled else None),
        "gift_card": False, "grams": 0, "name": li.title, "price": _money(li.price),
        "price_set": _money_set(li.price, order.currency),
        "product_exists": li.product_id is not None, "product_id": li.product_id,
        "properties": [], "quantity": li.quantity, "requires_shipping": li.requires_shipping,
        "sales_line_item_group_id": None, "sku": li.sku, "taxable": True, "title": li.title,
        "total_discount": "0.00", "total_discount_set": zero, "variant_id": li.variant_id,
        "variant_inventory_management": None, "variant_title": li.variant_title,
        "vendor": li.vendor, "tax_lines": [], "duties": [], "discount_allocations": []}


def _customer_payload(order: Order) -> dict[str, Any] | None:
    customer = order.customer
    if customer is None:
        return None
    return {"id": customer["id"], "created_at": _iso(order.created_at),
            "updated_at": _iso(order.created_at), "first_name": customer.get("first_name"),
            "last_name": customer.get("last_name"), "state": "disabled", "note": None,
            "verified_email": True, "multipass_identifier": None, "tax_exempt": False,
            "email": customer.get("email"), "phone": None, "currency": order.currency,
            "tax_exemptions": [], "admin_graphql_api_id": gid("Customer", customer["id"]),
            "default_address": None}


def order_payload(state: SandboxState, order: Order) -> dict[str, Any]:
    """The REST Order representation Shopify sends for orders/* topics: every top-level key of
    contracts/shopify/webhooks/docs_samples_2026-07/orders__create.json (and every key of its
    line items), with the values a storefront order without discounts, taxes or shipping
    charges has (tests/sandbox/test_shopify_webhooks.py compares the key sets)."""
    display = state.display_fulfillment_status(order)
    address = order.shipping_address
    shipping = None if address is None else {
        **address, "latitude": None, "longitude": None,
        "name": " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p)}
    total, currency = order.total_price, order.currency
    zero = _money_set(Decimal("0"), currency)
    return {
        "id": order.id, "admin_graphql_api_id": gid("Order", order.id), "app_id": None,
        "browser_ip": None, "buyer_accepts_marketing": False, "cancel_reason":
        order.cancel_reason.lower() if order.cancel_reason else None,
        "cancelled_at": _iso(order.cancelled_at), "cart_token": None, "checkout_token": None,
        "client_details": None, "closed_at": _iso(order.closed_at),
        "confirmation_number": order.status_token[:9].upper(), "confirmed": True,
        "contact_email": order.email, "created_at": _iso(order.created_at),
        "currency": currency, "current_shipping_price_set": zero,
        "current_subtotal_price": _money(total),
        "current_subtotal_price_set": _money_set(total, currency),
        "current_total_additional_fees_set": None, "current_total_discounts": "0.00",
        "current_total_discounts_set": zero, "current_total_duties_set": None,
        "current_total_price": _money(total), "current_total_price_set": _money_set(total,
                                                                                  currency),
        "current_total_tax": "0.00", "current_total_tax_set": zero, "customer_locale": "en",
        "device_id": None, "discount_codes": [], "duties_included": False, "email": order.email,
        "estimated_taxes": False, "financial_status": order.financial_status.lower(),
        "fulfillment_status": {"FULFILLED": "fulfilled",
                               "PARTIALLY_FULFILLED": "partial"}.get(display),
        "landing_site": None, "landing_site_ref": None, "location_id": None,
        "merchant_business_entity_id": None, "merchant_of_record_app_id": None,
        "name": order.name, "note": order.note, "note_attributes": [],
        "number": order.number - 1000, "order_number": order.number,
        "order_status_url": f"{state.public_url}/shops/{order.shop}/orders/{order.status_token}",
        "original_total_additional_fees_set": None, "original_total_duties_set": None,
        "payment_gateway_names": ["bogus"], "phone": None, "po_number": None,
        "presentment_currency": currency, "processed_at": _iso(order.created_at),
        "reference": None, "referring_site": None, "source_identifier": None,
        "source_name": "web", "source_url": None, "subtotal_price": _money(total),
        "subtotal_price_set": _money_set(total, currency), "tags": ", ".join(order.tags),
        "tax_exempt": False, "tax_lines": [], "taxes_included": False, "test": order.test,
        "token": order.status_token, "total_cash_rounding_payment_adjustment_set": zero,
        "total_cash_rounding_refund_adjustment_set": zero, "total_discounts": "0.00",
        "total_discounts_set": zero, "total_line_items_price": _money(total),
        "total_line_items_price_set": _money_set(total, currency),
        "total_outstanding": "0.00" if order.financial_status == "PAID" else _money(total),
        "total_price": _money(total), "total_price_set": _money_set(total, currency),
        "total_shipping_price_set": zero, "total_tax": "0.00", "total_tax_set": zero,
        "total_tip_received": "0.00", "total_weight": 0, "updated_at": _iso(order.updated_at),
        "user_id": None, "billing_address": shipping, "customer": _customer_payload(order),
        "discount_applications": [],
        "fulfillments": [fulfillment_payload(state, state.fulfillments[f])
                         for f in order.fulfillment_ids],
        "line_items": [_line_payload(state, order, li) for li in order.line_items],
        "payment_terms": None, "refunds": [], "shipping_address": shipping,
        "shipping_lines": [], "returns": [], "line_item_groups": [],
    }


def shop_payload(state: SandboxState, shop_domain: str) -> dict[str, Any]:
    shop = state.shops[shop_domain]
    return {"id": shop.id, "name": shop.name, "email": shop.email, "domain": shop.domain,
            "myshopify_domain": shop.domain, "currency": shop.currency,
            "plan_name": shop.plan}


def compliance_payload(topic: str, shop_id: int, shop: str) -> dict[str, Any]:
    """The body Shopify sends for a compliance topic (no customer orders named)."""
    body: dict[str, Any] = {"shop_id": shop_id, "shop_domain": shop}
    customer = {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"}
    if topic == "customers/data_request":
        body.update(orders_requested=[], customer=customer, data_request={"id": 9999})
    elif topic == "customers/redact":
        body.update(customer=customer, orders_to_redact=[])
    return body


class WebhookDispatcher:
    """Queues and sends deliveries for every subscription matching an emitted event."""

    def __init__(self, state: SandboxState, api_version: str) -> None:
        self.state = state
        self.api_version = api_version
        self.duplicates = False
        self.out_of_order = False
        self.delay = timedelta(0)
        self.transport: httpx.BaseTransport | None = None
        self._lock = threading.RLock()
        self._background: threading.Thread | None = None
        self._stop = threading.Event()
        self.deliveries: list[Delivery] = []
        state.subscribe(self.on_event)

    def reset(self) -> None:
        with self._lock:
            self.deliveries = []
            self.duplicates = self.out_of_order = False
            self.delay = timedelta(0)
        self.state.subscribe(self.on_event)

    # ------------------------------------------------------------------ enqueueing
    def on_event(self, shop: str, event: str, context: dict[str, Any]) -> None:
        if event == FULFILLMENT_ORDER_NOTIFICATION:
            self._notify_fulfillment_service(shop, context)
            return
        topic_enum = event.upper().replace("/", "_")
        with self.state.lock:
            subscriptions = [s for s in self.state.subscriptions.values()
                             if s.shop == shop and s.topic == topic_enum]
            if event == "app/uninstalled":
                subscriptions = [s for s in subscriptions if s.client_id == context["client_id"]]
            if not subscriptions:
                return
            payload = self._payload(shop, event, context)
        event_id = str(uuid.uuid4())
        for sub in subscriptions:
            body = payload if not sub.include_fields else {
                k: v for k, v in payload.items() if k in sub.include_fields}
            self.enqueue(shop, event, sub.uri, self.state.apps[sub.client_id].client_secret,
                         json.dumps(body).encode(), event_id=event_id, subscription_id=sub.id,
                         api_version=sub.api_version, name=sub.name)

    def _payload(self, shop: str, event: str, context: dict[str, Any]) -> dict[str, Any]:
        if "order_id" in context:
            return order_payload(self.state, self.state.orders[context["order_id"]])
        if "fulfillment_id" in context:
            payload = fulfillment_payload(self.state,
                                          self.state.fulfillments[context["fulfillment_id"]])
            if "event_id" in context:
                payload = {"id": context["event_id"], "fulfillment_id": context["fulfillment_id"],
                           "status": payload["shipment_status"], "shop_id":
                           self.state.shops[shop].id}
            return payload
        if "fulfillment_order_id" in context:
            fo = self.state.fulfillment_orders[context["fulfillment_order_id"]]
            return {"fulfillment_order": {"id": gid("FulfillmentOrder", fo.id),
                                          "status": fo.status.lower(),
                                          "request_status": fo.request_status.lower()}}
        return shop_payload(self.state, shop)

    def _notify_fulfillment_service(self, shop: str, context: dict[str, Any]) -> None:
        """Ping the service's callback (when it has one) that a request awaits it."""
        with self.state.lock:
            service = self.state.fulfillment_services.get(context["service_id"])
            if service is None or not service.callback_url:
                return
            url = service.callback_url.rstrip("/") + "/" + FULFILLMENT_ORDER_NOTIFICATION
            secret = self.state.apps[service.client_id].client_secret
        body = json.dumps({"kind": context.get("kind", "FULFILLMENT_REQUEST")}).encode()
        self.enqueue(shop, FULFILLMENT_ORDER_NOTIFICATION, url, secret, body)

    def enqueue(self, shop: str, topic: str, url: str, secret: str, body: bytes, *,
                event_id: str | None = None, subscription_id: int | None = None,
                api_version: str | None = None, name: str | None = None) -> Delivery:
        now = self.state.now()
        delivery = Delivery(webhook_id=str(uuid.uuid4()), event_id=event_id or str(uuid.uuid4()),
                            topic=topic, shop=shop, url=url, secret=secret, body=body,
                            api_version=api_version or self.api_version, triggered_at=now,
                            due_at=now + self.delay, subscription_id=subscription_id, name=name)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def trigger_compliance(self, shop: str, client_id: str, topic: str,
                           payload: dict[str, Any] | None = None) -> Delivery:
        """customers/data_request, customers/redact or shop/redact to the app's compliance URL."""
        if topic not in COMPLIANCE_TOPICS:
            raise ValueError(f"compliance topic must be one of {', '.join(COMPLIANCE_TOPICS)}")
        app = self.state.apps[client_id]
        if not app.compliance_url:
            raise ValueError(f"app {app.name} has no compliance_url configured")
        shop_record = self.state.shops[shop]
        body = payload or compliance_payload(topic, shop_record.id, shop)
        return self.enqueue(shop, topic, app.compliance_url, app.client_secret,
                            json.dumps(body).encode())

    # ------------------------------------------------------------------ sending
    def pending(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.state == "pending"]

    def deliver_due(self) -> list[Delivery]:
        """Send every delivery whose time has come (once; retries are rescheduled)."""
        now = self.state.now()
        with self._lock:
            due = [d for d in self.deliveries if d.state == "pending" and d.due_at <= now]
        if self.out_of_order:
            due.reverse()
        with httpx.Client(transport=self.transport, follow_redirects=False,
                          timeout=httpx.Timeout(TOTAL_TIMEOUT_SECONDS,
                                                connect=CONNECT_TIMEOUT_SECONDS)) as client:
            for delivery in due:
                self._attempt(client, delivery, now)
                if self.duplicates and delivery.state == "delivered":
                    self._send(client, delivery)
        return due

    def _send(self, client: httpx.Client, delivery: Delivery) -> Attempt:
        try:
            response = client.post(delivery.url, content=delivery.body, headers=delivery.headers)
            return Attempt(self.state.now(), response.status_code)
        except httpx.HTTPError as error:
            return Attempt(self.state.now(), None, type(error).__name__)

    def _attempt(self, client: httpx.Client, delivery: Delivery, now: datetime) -> None:
        attempt = self._send(client, delivery)
        delivery.attempts.append(attempt)
        ok = attempt.status is not None and 200 <= attempt.status < 300
        subscription = (self.state.subscriptions.get(delivery.subscription_id)
                        if delivery.subscription_id is not None else None)
        if ok:
            delivery.state = "delivered"
            if subscription is not None:
                subscription.consecutive_failures = 0
            return
        if subscription is not None:
            subscription.consecutive_failures += 1
        retries_done = len(delivery.attempts) - 1
        if retries_done < len(RETRY_DELAYS):
            delivery.due_at = now + RETRY_DELAYS[retries_done]
            return
        delivery.state = "failed"
        if subscription is not None:
            with self.state.lock:
                self.state.subscriptions.pop(subscription.id, None)

    def start_background(self, interval_seconds: float = 1.0) -> None:
        """For the CLI: deliver due webhooks every `interval_seconds` of wall time."""
        if self._background is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                self.deliver_due()

        self._background = threading.Thread(target=loop, name="shopify-webhooks", daemon=True)
        self._background.start()

    def stop_background(self) -> None:
        self._stop.set()
        if self._background is not None:
            self._background.join(5)
            self._background = None
