"""One WooCommerce site in memory: API keys, products, orders, notes, webhooks, tracking items.

Every mutation takes the store lock; every timestamp comes from the injected clock. Order
changes that WooCommerce would announce (`order.created`, `order.updated`, `order.deleted`)
are queued as webhook events; `webhooks.WebhookDispatcher` delivers them.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from core.clock import Clock

OrderStatus = str
Permission = Literal["read", "write", "read_write"]
TrackingMode = Literal["none", "shipment_tracking", "ast"]

ORDER_STATUS_LABELS: dict[str, str] = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
}
AST_PARTIAL_SHIPPED = "partial-shipped"
PAID_STATUSES = ("processing", "completed")
PERMISSIONS: tuple[Permission, ...] = ("read", "write", "read_write")
TRACKING_META_KEY = "_wc_shipment_tracking_items"
OAUTH_WINDOW = timedelta(minutes=15)
ADMIN_USER_ID = 1


class SandboxError(LookupError):
    """A seed helper was asked about something the store does not hold."""


@dataclass
class ApiKey:
    key_id: int
    user_id: int
    description: str
    permissions: Permission
    consumer_key: str
    consumer_secret: str
    # WooCommerce keeps one nonce per timestamp (a later request in the same second replaces it).
    nonces: dict[int, str] = field(default_factory=dict)
    last_access: datetime | None = None

    def can(self, method: str) -> bool | None:
        """True/False for read or write methods; None for a method WooCommerce does not know."""
        if method in ("GET", "HEAD"):
            return self.permissions in ("read", "read_write")
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            return self.permissions in ("write", "read_write")
        if method == "OPTIONS":
            return True
        return None


@dataclass
class Fault:
    """A host- or WAF-level answer that pre-empts WordPress (429 throttling, 503, a 403 block)."""

    status: int
    path_prefix: str = "/wp-json/"
    retry_after: str | None = None
    body: str = ""
    times: int = 1
    method: str | None = None  # only this method (e.g. "POST"); None: any


@dataclass
class Product:
    id: int
    name: str
    sku: str
    price: float
    deleted: bool = False


@dataclass
class MetaItem:
    id: int
    key: str
    value: Any


@dataclass
class LineItem:
    id: int
    name: str
    product_id: int
    variation_id: int
    quantity: int
    price: float
    meta_data: list[MetaItem] = field(default_factory=list)


@dataclass
class OrderNote:
    id: int
    note: str
    customer_note: bool
    author: str
    date_created: datetime


@dataclass
class Order:
    id: int
    order_key: str
    status: OrderStatus
    currency: str
    date_created: datetime
    date_modified: datetime
    billing: dict[str, str]
    shipping: dict[str, str]
    line_items: list[LineItem]
    customer_note: str = ""
    date_paid: datetime | None = None
    date_completed: datetime | None = None
    payment_method: str = "bacs"
    payment_method_title: str = "Direct bank transfer"
    transaction_id: str = ""
    shipping_total: float = 0.0
    customer_id: int = 0
    meta_data: list[MetaItem] = field(default_factory=list)
    notes: list[OrderNote] = field(default_factory=list)
    trashed: bool = False

    def meta(self, key: str) -> MetaItem | None:
        return next((item for item in self.meta_data if item.key == key), None)


@dataclass
class Webhook:
    id: int
    name: str
    status: Literal["active", "paused", "disabled"]
    topic: str
    delivery_url: str
    secret: str
    date_created: datetime
    date_modified: datetime
    failure_count: int = 0
    pending_delivery: bool = True

    @property
    def resource(self) -> str:
        return self.topic.split(".", 1)[0]

    @property
    def event(self) -> str:
        return self.topic.split(".", 1)[1]


@dataclass(frozen=True)
class WebhookEvent:
    webhook_id: int
    topic: str
    resource_id: int


@dataclass
class DeliveryRecord:
    """One HTTP attempt by the sandbox: a ping or a delivery (kept for tests to inspect)."""

    webhook_id: int
    kind: Literal["ping", "delivery"]
    topic: str
    url: str
    headers: dict[str, str]
    body: bytes
    status_code: int | None
    error: str | None
    at: datetime


def _random_hex(length: int) -> str:
    return secrets.token_hex(length // 2)


DEFAULT_BILLING = {
    "first_name": "Jane", "last_name": "Doe", "company": "", "address_1": "1 Main Street",
    "address_2": "", "city": "Springfield", "state": "IL", "postcode": "62701", "country": "US",
    "email": "jane.doe@example.com", "phone": "555-0100",
}
ADDRESS_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city",
                  "state", "postcode", "country")


class WooCommerceStore:
    """The whole sandbox site. Tests reach it as `app.extensions["sandbox"]`."""

    def __init__(self, clock: Clock, site_url: str, *, utc_offset: timedelta = timedelta(0),
                 tracking_mode: TrackingMode = "none") -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.site_url = site_url.rstrip("/")
        self.utc_offset = utc_offset
        self.initial_tracking_mode: TrackingMode = tracking_mode
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self._next_post_id = 100
            self._next_key_id = 1
            self._next_item_id = 1
            self._next_meta_id = 1000
            self._next_comment_id = 1
            self.keys: dict[str, ApiKey] = {}
            self.products: dict[int, Product] = {}
            self.orders: dict[int, Order] = {}
            self.webhooks: dict[int, Webhook] = {}
            self.pending_events: list[WebhookEvent] = []
            self.deliveries: list[DeliveryRecord] = []
            self.api_calls: Counter[str] = Counter()
            self.tracking_mode: TrackingMode = self.initial_tracking_mode
            self.duplicate_order_updated = False
            # AST installs its "Partially Shipped" status switched off, and its API date
            # format empty (false): `date_shipped` sent over REST is then lost (today shown).
            self.ast_partial_shipped = False
            self.ast_api_date_format = ""
            self.index_queries: list[dict[str, str]] = []  # every GET /wp-json/'s query
            self._request_salt = 0
            # WooCommerce core's Order Fulfillments (a feature flag, off by default)
            self.fulfillments_enabled = False
            self.fulfillments: dict[int, list[dict[str, Any]]] = {}
            self._next_fulfillment_id = 0
            self.faults: list[Fault] = []
            self.auth_salt = secrets.token_hex(16)

    def set_site_url(self, url: str) -> None:
        """The site's home URL: OAuth signatures, links and X-WC-Webhook-Source derive from it."""
        with self.lock:
            self.site_url = url.rstrip("/")

    @property
    def home_url(self) -> str:
        """`home_url('/')`: the site URL with a trailing slash."""
        return self.site_url + "/"

    def now(self) -> datetime:
        return self.clock.now()

    def local(self, moment: datetime) -> datetime:
        return moment + self.utc_offset

    @contextmanager
    def locked(self) -> Iterator[WooCommerceStore]:
        with self.lock:
            yield self

    def _post_id(self) -> int:
        self._next_post_id += 1
        return self._next_post_id

    def _meta_id(self) -> int:
        self._next_meta_id += 1
        return self._next_meta_id

    # -- faults ------------------------------------------------------------------------------

    def inject_fault(self, status: int, *, path_prefix: str = "/wp-json/",
                     retry_after: str | None = None, body: str = "", times: int = 1,
                     method: str | None = None) -> Fault:
        """Answer the next `times` requests under `path_prefix` with `status` instead."""
        fault = Fault(status=status, path_prefix=path_prefix, retry_after=retry_after,
                      body=body, times=times, method=method)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method not in (None, method):
                    continue
                if path.startswith(fault.path_prefix) and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
            return None

    # -- API keys ----------------------------------------------------------------------------

    def create_key(self, permissions: Permission = "read_write", *, description: str = "sandbox",
                   user_id: int = ADMIN_USER_ID) -> ApiKey:
        if permissions not in PERMISSIONS:
            raise ValueError(f"permissions must be one of {PERMISSIONS}")
        with self.lock:
            key = ApiKey(key_id=self._next_key_id, user_id=user_id, description=description,
                         permissions=permissions, consumer_key="ck_" + _random_hex(40),
                         consumer_secret="cs_" + _random_hex(40))
            self._next_key_id += 1
            self.keys[key.consumer_key] = key
            return key

    def delete_key(self, key_id: int) -> bool:
        with self.lock:
            for consumer_key, key in list(self.keys.items()):
                if key.key_id == key_id:
                    del self.keys[consumer_key]
                    return True
            return False

    def find_key(self, consumer_key: str) -> ApiKey | None:
        with self.lock:
            return self.keys.get(consumer_key)

    def record_api_call(self, key: ApiKey) -> None:
        with self.lock:
            self.api_calls[key.consumer_key] += 1
            key.last_access = self.now()

    # -- products ----------------------------------------------------------------------------

    def add_product(self, name: str, *, sku: str = "", price: float = 10.0) -> Product:
        with self.lock:
            product = Product(id=self._post_id(), name=name, sku=sku, price=price)
            self.products[product.id] = product
            return product

    def delete_product(self, product_id: int) -> None:
        """Line items keep the product id, but their `sku` reads as null from now on."""
        with self.lock:
            self._product(product_id).deleted = True

    def _product(self, product_id: int) -> Product:
        product = self.products.get(product_id)
        if product is None:
            raise SandboxError(f"no product {product_id}")
        return product

    def live_sku(self, item: LineItem) -> str | None:
        product = self.products.get(item.product_id)
        return None if product is None or product.deleted else product.sku

    # -- orders ------------------------------------------------------------------------------

    def place_order(self, items: list[tuple[int, int]] | None = None, *,
                    status: OrderStatus = "processing", currency: str = "USD",
                    billing: dict[str, str] | None = None, shipping: dict[str, str] | None = None,
                    customer_note: str = "", shipping_total: float = 0.0,
                    meta_data: list[tuple[str, Any]] | None = None) -> Order:
        """Create an order as checkout would; `items` is [(product_id, quantity)].

        Without items a product is created on the fly. Fires `order.created`.
        """
        self.validate_status(status)
        with self.lock:
            if not items:
                product = self.add_product("Sandbox T-shirt", sku=f"TS-{self._next_post_id}",
                                           price=19.5)
                items = [(product.id, 1)]
            now = self.now()
            billing_address = {**DEFAULT_BILLING, **(billing or {})}
            shipping_address = {name: billing_address.get(name, "") for name in ADDRESS_FIELDS}
            shipping_address.update(shipping or {})
            order = Order(id=self._post_id(), order_key="wc_order_" + secrets.token_hex(7)[:13],
                          status=status, currency=currency, date_created=now, date_modified=now,
                          billing=billing_address, shipping=shipping_address, line_items=[],
                          customer_note=customer_note, shipping_total=shipping_total)
            for product_id, quantity in items:
                product = self._product(product_id)
                order.line_items.append(LineItem(
                    id=self._next_item_id, name=product.name, product_id=product.id,
                    variation_id=0, quantity=quantity, price=product.price))
                self._next_item_id += 1
            for key, value in meta_data or []:
                order.meta_data.append(MetaItem(id=self._meta_id(), key=key, value=value))
            if status in PAID_STATUSES:
                order.date_paid = now
            if status == "completed":
                order.date_completed = now
            self.orders[order.id] = order
            self.enqueue_order_event(order.id, "order.created")
            return order

    def next_fulfillment_id(self) -> int:
        with self.lock:
            self._next_fulfillment_id += 1
            return self._next_fulfillment_id

    def next_request_salt(self) -> int:
        with self.lock:
            self._request_salt += 1
            return self._request_salt

    def set_ast_partial_shipped(self, on: bool) -> None:
        """AST's settings switch for its "Partially Shipped" order status."""
        with self.lock:
            self.ast_partial_shipped = on

    def order(self, order_id: int, *, include_trashed: bool = False) -> Order:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None or (order.trashed and not include_trashed):
                raise SandboxError(f"no order {order_id}")
            return order

    def find_order(self, order_id: int) -> Order | None:
        with self.lock:
            order = self.orders.get(order_id)
            return None if order is None or order.trashed else order

    def known_statuses(self) -> tuple[str, ...]:
        extra = ((AST_PARTIAL_SHIPPED,) if self.tracking_mode == "ast" and self.ast_partial_shipped
                 else ())
        return (*ORDER_STATUS_LABELS, *extra)

    def status_label(self, status: str) -> str:
        if status == AST_PARTIAL_SHIPPED:
            return "Partially Shipped"
        return ORDER_STATUS_LABELS.get(status, status)

    def validate_status(self, status: str) -> None:
        if status not in self.known_statuses():
            raise ValueError(f"unknown order status {status!r}")

    def set_order_status(self, order_id: int, status: OrderStatus, note: str = "") -> Order:
        """Change status as the admin would: a system note, date_paid/date_completed,
        a new date_modified and an `order.updated` webhook."""
        self.validate_status(status)
        with self.lock:
            order = self.order(order_id)
            self._apply_status(order, status, note)
            self.touch(order)
            return order

    def _apply_status(self, order: Order, status: OrderStatus, note: str = "") -> None:
        if status == order.status:
            return
        now = self.now()
        text = (f"{note} " if note else "") + (
            f"Order status changed from {self.status_label(order.status)} to "
            f"{self.status_label(status)}.")
        order.status = status
        if status in PAID_STATUSES and order.date_paid is None:
            order.date_paid = now
        if status == "completed":
            order.date_completed = now
        self._append_note(order, text, customer_note=False, author="system")

    def touch(self, order: Order) -> None:
        """Save the order: bump date_modified and announce `order.updated`."""
        order.date_modified = self.now()
        self.enqueue_order_event(order.id, "order.updated")

    def update_order(self, order_id: int, changes: dict[str, Any]) -> Order:
        """Apply a REST-style partial update (already validated by the caller)."""
        with self.lock:
            order = self.order(order_id)
            if changes.get("set_paid") and order.date_paid is None:
                order.date_paid = self.now()
                if order.status in ("pending", "on-hold", "failed", "checkout-draft"):
                    self._apply_status(order, "processing")
            if "status" in changes:
                self._apply_status(order, str(changes["status"]))
            for name in ("customer_note", "transaction_id", "payment_method",
                         "payment_method_title", "currency"):
                if name in changes:
                    setattr(order, name, str(changes[name]))
            for address in ("billing", "shipping"):
                if isinstance(changes.get(address), dict):
                    getattr(order, address).update(
                        {k: str(v) for k, v in changes[address].items()})
            for entry in changes.get("meta_data") or []:
                self._upsert_meta(order, entry)
            self.touch(order)
            return order

    def _upsert_meta(self, order: Order, entry: dict[str, Any]) -> None:
        meta_id = entry.get("id")
        target = next((m for m in order.meta_data if meta_id and m.id == meta_id), None)
        if target is None and "key" in entry:
            target = order.meta(str(entry["key"]))
        if target is not None:
            if entry.get("value") is None and "value" in entry:
                order.meta_data.remove(target)
            else:
                target.value = entry.get("value")
        elif "key" in entry:
            order.meta_data.append(
                MetaItem(id=self._meta_id(), key=str(entry["key"]), value=entry.get("value")))

    def set_order_meta(self, order_id: int, key: str, value: Any) -> None:
        with self.lock:
            order = self.order(order_id)
            self._upsert_meta(order, {"key": key, "value": value})
            self.touch(order)

    def trash_order(self, order_id: int) -> Order:
        with self.lock:
            order = self.order(order_id)
            order.trashed = True
            order.date_modified = self.now()
            self.enqueue_order_event(order.id, "order.deleted")
            return order

    def delete_order(self, order_id: int) -> Order:
        with self.lock:
            order = self.order(order_id, include_trashed=True)
            del self.orders[order_id]
            self.enqueue_order_event(order.id, "order.deleted")
            return order

    # -- notes -------------------------------------------------------------------------------

    def add_order_note(self, order_id: int, note: str, *, customer_note: bool = False,
                       author: str = "system") -> OrderNote:
        """A private or customer note (customer notes show under "Order updates")."""
        with self.lock:
            return self._append_note(self.order(order_id), note, customer_note=customer_note,
                                     author=author)

    def _append_note(self, order: Order, note: str, *, customer_note: bool,
                     author: str) -> OrderNote:
        entry = OrderNote(id=self._next_comment_id, note=note, customer_note=customer_note,
                          author=author, date_created=self.now())
        self._next_comment_id += 1
        order.notes.append(entry)
        return entry

    # -- webhooks ----------------------------------------------------------------------------

    def add_webhook(self, *, name: str, topic: str, delivery_url: str, secret: str,
                    status: Literal["active", "paused", "disabled"] = "active") -> Webhook:
        with self.lock:
            now = self.now()
            webhook = Webhook(id=self._post_id(), name=name, status=status, topic=topic,
                              delivery_url=delivery_url, secret=secret, date_created=now,
                              date_modified=now)
            self.webhooks[webhook.id] = webhook
            return webhook

    def enqueue_order_event(self, order_id: int, topic: str) -> None:
        with self.lock:
            copies = 2 if topic == "order.updated" and self.duplicate_order_updated else 1
            for webhook in self.webhooks.values():
                if webhook.status == "active" and webhook.topic == topic:
                    for _ in range(copies):
                        self.pending_events.append(WebhookEvent(webhook.id, topic, order_id))

    def take_pending_events(self) -> list[WebhookEvent]:
        with self.lock:
            events, self.pending_events = self.pending_events, []
            return events

    def deliveries_to(self, webhook_id: int, kind: str = "delivery") -> list[DeliveryRecord]:
        with self.lock:
            return [d for d in self.deliveries if d.webhook_id == webhook_id and d.kind == kind]

    # -- shipment tracking -------------------------------------------------------------------

    def set_tracking_mode(self, mode: TrackingMode) -> None:
        if mode not in ("none", "shipment_tracking", "ast"):
            raise ValueError(f"unknown tracking mode {mode!r}")
        with self.lock:
            self.tracking_mode = mode

    def tracking_items(self, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            meta = self.order(order_id).meta(TRACKING_META_KEY)
            value = meta.value if meta is not None else []
            return [dict(item) for item in value] if isinstance(value, list) else []

    def save_tracking_items(self, order_id: int, items: list[dict[str, Any]]) -> None:
        """Store items in `_wc_shipment_tracking_items` and save the order (fires order.updated)."""
        self.set_order_meta(order_id, TRACKING_META_KEY, [dict(item) for item in items])

    def add_tracking_item(self, order_id: int, *, tracking_number: str,
                          tracking_provider: str = "", custom_tracking_provider: str = "",
                          custom_tracking_link: str = "",
                          date_shipped: datetime | None = None) -> dict[str, Any]:
        """Seed a tracking item the way the extension stores it."""
        shipped = date_shipped or self.now()
        item = {
            "tracking_provider": tracking_provider,
            "custom_tracking_provider": custom_tracking_provider,
            "custom_tracking_link": custom_tracking_link,
            "tracking_number": tracking_number,
            "date_shipped": str(int(shipped.timestamp())),
            "tracking_id": _random_hex(32),
        }
        with self.lock:
            items = self.tracking_items(order_id)
            items.append(item)
            self.save_tracking_items(order_id, items)
        return item
