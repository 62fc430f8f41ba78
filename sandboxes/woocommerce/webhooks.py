"""Webhook pings and deliveries, as `WC_Webhook` sends them.

Ping: POST `webhook_id=<id>` (form text, no X-WC-* headers); only an exact 200 counts.
Delivery: POST the JSON of the resource *as it is when delivered*, signed with
base64(HMAC-SHA256(body, secret)); 200..302 resets the failure count, anything else (or a
transport error) is a failure; a failure when the count already exceeds 5 disables the
webhook (so the 7th consecutive failure does). No retries.

Events queue up in the store; `deliver_pending()` sends them (tests call it for determinism),
or a background thread does in `background` mode (CLI/demo).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from typing import Literal

import requests

from sandboxes.woocommerce.payloads import order_json
from sandboxes.woocommerce.state import (
    DeliveryRecord,
    Webhook,
    WebhookEvent,
    WooCommerceStore,
)

MAX_DELIVERY_FAILURES = 5
DELIVERY_TIMEOUT_SECONDS = 60.0  # WC_Webhook::deliver(): the "timeout" argument
USER_AGENT = "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"
DeliveryMode = Literal["queued", "background"]


def webhook_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WebhookDispatcher:
    def __init__(self, store: WooCommerceStore, mode: DeliveryMode = "queued",
                 poll_seconds: float = 0.2) -> None:
        self.store = store
        self.mode = mode
        self._poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if mode == "background":
            self._thread = threading.Thread(target=self._run, name="wc-sandbox-webhooks",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            self.deliver_pending()

    # -- ping --------------------------------------------------------------------------------

    def ping(self, webhook: Webhook) -> DeliveryRecord:
        body = f"webhook_id={webhook.id}".encode()
        headers = {"User-Agent": USER_AGENT}
        status, error = self._post(webhook.delivery_url, body, headers)
        record = self._record(webhook, "ping", "", headers, body, status, error)
        if status == 200:
            with self.store.lock:
                webhook.pending_delivery = False
        return record

    # -- deliveries --------------------------------------------------------------------------

    def deliver_pending(self) -> list[DeliveryRecord]:
        """Send every queued event now, in order; returns what was attempted."""
        return [record for event in self.store.take_pending_events()
                if (record := self._deliver(event)) is not None]

    def _deliver(self, event: WebhookEvent) -> DeliveryRecord | None:
        with self.store.lock:
            webhook = self.store.webhooks.get(event.webhook_id)
            if webhook is None or webhook.status != "active":
                return None
            body = self._payload(event).encode()
            delivery_id = self._delivery_id(webhook)
            url, secret = webhook.delivery_url, webhook.secret
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": self.store.home_url,
            "X-WC-Webhook-Topic": webhook.topic,
            "X-WC-Webhook-Resource": webhook.resource,
            "X-WC-Webhook-Event": webhook.event,
            "X-WC-Webhook-Signature": webhook_signature(body, secret),
            "X-WC-Webhook-ID": str(webhook.id),
            "X-WC-Webhook-Delivery-ID": delivery_id,
        }
        status, error = self._post(url, body, headers)
        with self.store.lock:
            if status is not None and 200 <= status <= 302:
                webhook.failure_count = 0
            elif webhook.failure_count > MAX_DELIVERY_FAILURES:
                webhook.status = "disabled"
                webhook.date_modified = self.store.now()  # WC_Webhook::save() bumps it
            else:
                webhook.failure_count += 1
        return self._record(webhook, "delivery", webhook.topic, headers, body, status, error)

    def _payload(self, event: WebhookEvent) -> str:
        """Built at delivery time. For `.deleted` just the id; for an order deleted for good
        since the event, the REST error WooCommerce's own request for it returned."""
        order = self.store.orders.get(event.resource_id)
        if event.topic.endswith(".deleted"):
            return json.dumps({"id": event.resource_id})
        if order is None:
            return json.dumps({"code": "woocommerce_rest_shop_order_invalid_id",
                               "message": "Invalid ID.", "data": {"status": 404}})
        return json.dumps(order_json(self.store, order))

    def _delivery_id(self, webhook: Webhook) -> str:
        """`wp_hash(id . time())`: unique per webhook per second only, as in WooCommerce."""
        second = int(self.store.now().timestamp())
        return hmac.new(self.store.auth_salt.encode(), f"{webhook.id}{second}".encode(),
                        hashlib.md5).hexdigest()

    def _post(self, url: str, body: bytes,
              headers: dict[str, str]) -> tuple[int | None, str | None]:
        try:
            response = requests.post(url, data=body, headers=headers, allow_redirects=False,
                                     timeout=DELIVERY_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            return None, str(error)
        with response:
            return response.status_code, None

    def _record(self, webhook: Webhook, kind: Literal["ping", "delivery"], topic: str,
                headers: dict[str, str], body: bytes, status: int | None,
                error: str | None) -> DeliveryRecord:
        record = DeliveryRecord(webhook_id=webhook.id, kind=kind, topic=topic,
                                url=webhook.delivery_url, headers=headers, body=body,
                                status_code=status, error=error, at=self.store.now())
        with self.store.lock:
            self.store.deliveries.append(record)
        return record
