"""The sandbox's in-memory Shopify: shops, apps, tokens, orders, fulfillments, subscriptions.

Pure logic (no Flask, no HTTP). Every mutation takes the state's lock; every time comes from the
injected clock. Ids look like Shopify's numeric ids and are exposed as `gid://shopify/Kind/N`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.clock import Clock

ACCESS_TOKEN_TTL = timedelta(minutes=60)
REFRESH_TOKEN_TTL = timedelta(days=90)
CLIENT_CREDENTIALS_TOKEN_TTL = timedelta(seconds=86399)
"""Client credentials grant tokens last about 24 h (`expires_in: 86399`; PLATFORM_FACTS:
ShopifySharp 6.30.0 release notes, nuxt-modules/shopify#217) and come without refresh token."""
AUTHORIZATION_CODE_TTL = timedelta(minutes=10)

PLAN_RESTORE_RATE: dict[str, int] = {"standard": 100, "advanced": 200, "plus": 1000}
PLAN_DISPLAY_NAME: dict[str, str] = {
    "standard": "Shopify", "advanced": "Advanced", "plus": "Shopify Plus",
}

FULFILLMENT_ORDER_SCOPES = (
    "merchant_managed_fulfillment_orders", "third_party_fulfillment_orders",
    "assigned_fulfillment_orders",
)


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str, kind: str) -> int | None:
    """The numeric id of a `gid://shopify/<kind>/<n>`, or None when it is not one."""
    prefix = f"gid://shopify/{kind}/"
    if not value.startswith(prefix):
        return None
    tail = value[len(prefix):].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def scope_set(scopes: str | Iterable[str]) -> frozenset[str]:
    items = scopes.split(",") if isinstance(scopes, str) else scopes
    return frozenset(s.strip() for s in items if s.strip())


def grants(scopes: frozenset[str], required: str) -> bool:
    """`write_x` implies `read_x`, as on Shopify."""
    if required in scopes:
        return True
    return required.startswith("read_") and "write_" + required[len("read_"):] in scopes


@dataclass
class App:
    client_id: str
    client_secret: str
    name: str
    scopes: frozenset[str]
    redirect_urls: list[str] = field(default_factory=list)
    custom: bool = False
    proxy_subpath_prefix: str = "apps"
    proxy_subpath: str | None = None
    proxy_url: str | None = None
    compliance_url: str | None = None
    old_client_secret: str | None = None


@dataclass
class Location:
    id: int
    name: str
    is_fulfillment_service: bool = False


@dataclass
class Shop:
    domain: str
    name: str
    plan: str
    email: str
    currency: str
    id: int
    primary_location_id: int
    installed_client_ids: set[str] = field(default_factory=set)
    order_counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))


@dataclass
class AccessToken:
    token: str
    shop: str
    client_id: str
    scopes: frozenset[str]
    expires_at: datetime | None
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None
    revoked: bool = False
    used: bool = False
    # Rotation: the refresh token this one replaced stays valid until this token (its access
    # token or its refresh token) is first used (Shopify since 2026-08-28).
    replaces: str | None = None


@dataclass
class AuthorizationCode:
    code: str
    shop: str
    client_id: str
    scopes: frozenset[str]
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@dataclass
class LineItem:
    id: int
    title: str
    quantity: int
    price: Decimal
    sku: str | None = None
    variant_title: str | None = None
    vendor: str | None = None
    requires_shipping: bool = True
    product_id: int | None = None
    variant_id: int | None = None


@dataclass
class FulfillmentOrderLineItem:
    id: int
    line_item_id: int
    total_quantity: int
    remaining_quantity: int


@dataclass
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    line_items: list[FulfillmentOrderLineItem]
    created_at: datetime
    updated_at: datetime
    status: str = "OPEN"
    request_status: str = "UNSUBMITTED"
    fulfillment_service_client_id: str | None = None
    fulfillment_ids: list[int] = field(default_factory=list)
    # What the fulfillment service answered to the request (accept/reject `reason`, `message`).
    response_reason: str | None = None
    response_message: str | None = None


@dataclass
class TrackingInfo:
    company: str | None
    number: str | None
    url: str | None


@dataclass
class FulfillmentEvent:
    id: int
    status: str
    happened_at: datetime
    created_at: datetime
    estimated_delivery_at: datetime | None = None
    message: str | None = None
    address1: str | None = None
    city: str | None = None
    province: str | None = None
    country: str | None = None
    zip: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class FulfillmentLineItem:
    id: int
    line_item_id: int
    quantity: int


@dataclass
class Fulfillment:
    id: int
    order_id: int
    name: str
    created_at: datetime
    updated_at: datetime
    tracking: list[TrackingInfo]
    line_items: list[FulfillmentLineItem]
    fulfillment_order_ids: list[int]
    status: str = "SUCCESS"
    events: list[FulfillmentEvent] = field(default_factory=list)

    @property
    def latest_event(self) -> FulfillmentEvent | None:
        return max(self.events, key=lambda e: e.happened_at) if self.events else None


@dataclass
class Order:
    id: int
    shop: str
    number: int
    email: str
    created_at: datetime
    updated_at: datetime
    financial_status: str
    line_items: list[LineItem]
    shipping_address: dict[str, Any] | None
    currency: str
    status_token: str
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    test: bool = False
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    fulfillment_order_ids: list[int] = field(default_factory=list)
    fulfillment_ids: list[int] = field(default_factory=list)
    customer: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def total_price(self) -> Decimal:
        return sum((li.price * li.quantity for li in self.line_items), Decimal("0"))


@dataclass
class WebhookSubscription:
    id: int
    shop: str
    client_id: str
    topic: str
    uri: str
    api_version: str
    created_at: datetime
    updated_at: datetime
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    filter: str | None = None
    name: str | None = None
    consecutive_failures: int = 0


@dataclass
class FulfillmentService:
    id: int
    shop: str
    client_id: str
    service_name: str
    handle: str
    callback_url: str | None
    location_id: int
    tracking_support: bool = False
    inventory_management: bool = False
    requires_shipping_method: bool = True


@dataclass
class UsageCounter:
    calls: int = 0
    points: int = 0
    throttled: int = 0


StateListener = Callable[[str, str, dict[str, Any]], None]
"""(shop domain, event name such as "orders/create", context) -> None."""


class SandboxState:
    """All sandbox data. Thread-safe: public methods take the re-entrant lock."""

    def __init__(self, clock: Clock, *, public_url: str) -> None:
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.lock = threading.RLock()
        self._listeners: list[StateListener] = []
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        with self.lock:
            self._ids = itertools.count(5_000_000_001)
            self.apps: dict[str, App] = {}
            self.shops: dict[str, Shop] = {}
            self.locations: dict[int, Location] = {}
            self.tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, AccessToken] = {}
            self.codes: dict[str, AuthorizationCode] = {}
            self.orders: dict[int, Order] = {}
            self.fulfillment_orders: dict[int, FulfillmentOrder] = {}
            self.fulfillments: dict[int, Fulfillment] = {}
            self.subscriptions: dict[int, WebhookSubscription] = {}
            self.fulfillment_services: dict[int, FulfillmentService] = {}
            # (title, variant title) -> product and variant ids: one product, one id.
            self.catalog: dict[tuple[str, str | None], tuple[int, int]] = {}
            self.usage: dict[tuple[str, str], UsageCounter] = defaultdict(UsageCounter)
            self.usage_by_token: dict[str, UsageCounter] = defaultdict(UsageCounter)

    def subscribe(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def emit(self, shop: str, event: str, context: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(shop, event, context)

    def next_id(self) -> int:
        return next(self._ids)

    def now(self) -> datetime:
        return self.clock.now()

    # ------------------------------------------------------------------ seeding
    def create_app(self, *, name: str = "DropTrack", scopes: str | Iterable[str] = (
            "read_orders,write_merchant_managed_fulfillment_orders,"
            "write_third_party_fulfillment_orders,write_assigned_fulfillment_orders,"
            "write_fulfillments"),
            redirect_urls: Iterable[str] = (), custom: bool = False,
            client_id: str | None = None, client_secret: str | None = None,
            proxy_subpath: str | None = None, proxy_url: str | None = None,
            compliance_url: str | None = None) -> App:
        with self.lock:
            app = App(client_id=client_id or secrets.token_hex(16),
                      client_secret=client_secret or "shpss_" + secrets.token_hex(16),
                      name=name, scopes=scope_set(scopes), redirect_urls=list(redirect_urls),
                      custom=custom, proxy_subpath=proxy_subpath, proxy_url=proxy_url,
                      compliance_url=compliance_url)
            self.apps[app.client_id] = app
            return app

    def create_shop(self, name: str, *, plan: str = "standard", currency: str = "USD",
                    email: str | None = None) -> Shop:
        if plan not in PLAN_RESTORE_RATE:
            raise ValueError(f"plan must be one of {', '.join(PLAN_RESTORE_RATE)}")
        domain = name if name.endswith(".myshopify.com") else f"{name}.myshopify.com"
        with self.lock:
            location = Location(id=self.next_id(), name="Shop location")
            self.locations[location.id] = location
            shop = Shop(domain=domain, name=domain.split(".")[0], plan=plan,
                        email=email or f"owner@{domain}", currency=currency, id=self.next_id(),
                        primary_location_id=location.id)
            self.shops[domain] = shop
            return shop

    def install(self, shop: str, app: App, *, scopes: str | Iterable[str] | None = None,
                expiring: bool = True) -> AccessToken:
        """Install the app on the shop and issue an offline token (expiring unless told not)."""
        with self.lock:
            self.shops[shop].installed_client_ids.add(app.client_id)
            granted = app.scopes if scopes is None else scope_set(scopes)
            return self.issue_token(shop, app.client_id, granted, expiring=expiring)

    def uninstall(self, shop: str, client_id: str) -> None:
        with self.lock:
            self.shops[shop].installed_client_ids.discard(client_id)
            for token in self.tokens.values():
                if token.shop == shop and token.client_id == client_id:
                    token.revoked = True
            for sub_id in [s.id for s in self.subscriptions.values()
                           if s.shop == shop and s.client_id == client_id]:
                sub = self.subscriptions[sub_id]
                if sub.topic != "APP_UNINSTALLED":
                    del self.subscriptions[sub_id]
        self.emit(shop, "app/uninstalled", {"client_id": client_id})

    def _catalog_ids(self, item: dict[str, Any]) -> dict[str, int | None]:
        """The product and variant ids of an ordered item (given, or the catalog's)."""
        if "product_id" in item or "variant_id" in item:
            return {"product_id": item.get("product_id"), "variant_id": item.get("variant_id")}
        key = (str(item["title"]), item.get("variant_title"))
        if key not in self.catalog:
            self.catalog[key] = (self.next_id(), self.next_id())
        product_id, variant_id = self.catalog[key]
        return {"product_id": product_id, "variant_id": variant_id}

    def place_order(self, shop: str, *, items: Iterable[dict[str, Any]] = (
            {"title": "Phone case", "quantity": 1, "price": "12.50", "sku": "CASE-1"},),
            paid: bool = True, email: str = "customer@example.com",
            shipping_address: dict[str, Any] | None = None, test: bool = False,
            note: str | None = None, tags: Iterable[str] = (),
            customer: dict[str, Any] | None = None) -> Order:
        """An order as a storefront checkout creates it, with one open fulfillment order."""
        with self.lock:
            shop_record = self.shops[shop]
            now = self.now()
            line_items = [LineItem(id=self.next_id(), title=str(i["title"]),
                                   quantity=int(i.get("quantity", 1)),
                                   price=Decimal(str(i.get("price", "10.00"))),
                                   sku=i.get("sku"), variant_title=i.get("variant_title"),
                                   vendor=i.get("vendor"),
                                   requires_shipping=bool(i.get("requires_shipping", True)),
                                   **self._catalog_ids(i))
                          for i in items]
            address = shipping_address if shipping_address is not None else {
                "first_name": "Ada", "last_name": "Lovelace", "address1": "12 Analytical Row",
                "address2": None, "city": "London", "province": None, "province_code": None,
                "zip": "N1 7GU", "country": "United Kingdom", "country_code": "GB",
                "phone": None, "company": None,
            }
            order = Order(id=self.next_id(), shop=shop, number=next(shop_record.order_counter),
                          email=email, created_at=now, updated_at=now,
                          financial_status="PAID" if paid else "PENDING",
                          line_items=line_items, shipping_address=address,
                          currency=shop_record.currency, status_token=secrets.token_hex(16),
                          note=note, tags=list(tags), test=test,
                          customer=customer if customer is not None else {
                              "id": self.next_id(), "first_name": address.get("first_name"),
                              "last_name": address.get("last_name"), "email": email})
            self.orders[order.id] = order
            fulfillment_order = FulfillmentOrder(
                id=self.next_id(), order_id=order.id, location_id=shop_record.primary_location_id,
                created_at=now, updated_at=now,
                line_items=[FulfillmentOrderLineItem(id=self.next_id(), line_item_id=li.id,
                                                     total_quantity=li.quantity,
                                                     remaining_quantity=li.quantity)
                            for li in line_items if li.requires_shipping])
            self.fulfillment_orders[fulfillment_order.id] = fulfillment_order
            order.fulfillment_order_ids.append(fulfillment_order.id)
        self.emit(shop, "orders/create", {"order_id": order.id})
        if paid:
            self.emit(shop, "orders/paid", {"order_id": order.id})
        return order

    def mark_paid(self, order_id: int) -> Order:
        with self.lock:
            order = self.orders[order_id]
            order.financial_status = "PAID"
            order.updated_at = self.now()
        self.emit(order.shop, "orders/paid", {"order_id": order.id})
        self.emit(order.shop, "orders/updated", {"order_id": order.id})
        return order

    def update_order(self, order_id: int, **changes: Any) -> Order:
        """Merchant edits (note, tags, email, shipping_address): bumps updatedAt."""
        with self.lock:
            order = self.orders[order_id]
            for key, value in changes.items():
                if not hasattr(order, key):
                    raise AttributeError(f"Order has no field {key!r}")
                setattr(order, key, value)
            order.updated_at = self.now()
        self.emit(order.shop, "orders/updated", {"order_id": order.id})
        return order

    def cancel_order(self, order_id: int, reason: str = "CUSTOMER") -> Order:
        with self.lock:
            order = self.orders[order_id]
            now = self.now()
            order.cancelled_at = now
            order.cancel_reason = reason
            order.closed_at = now
            order.updated_at = now
            if order.financial_status == "PAID":
                order.financial_status = "REFUNDED"
            elif order.financial_status == "PENDING":
                order.financial_status = "VOIDED"
            for fo_id in order.fulfillment_order_ids:
                fo = self.fulfillment_orders[fo_id]
                if fo.status in ("OPEN", "IN_PROGRESS", "SCHEDULED", "ON_HOLD"):
                    fo.status = "CLOSED"
                    fo.request_status = "CLOSED" if fo.request_status != "UNSUBMITTED" \
                        else fo.request_status
                    fo.updated_at = now
        self.emit(order.shop, "orders/cancelled", {"order_id": order.id})
        self.emit(order.shop, "orders/updated", {"order_id": order.id})
        return order

    def assign_to_fulfillment_service(self, fulfillment_order_id: int,
                                      service_id: int, *, request: bool = True) -> None:
        """Route a fulfillment order to a service's location; optionally request fulfillment,
        which notifies the service at `<callbackUrl>/fulfillment_order_notification`."""
        with self.lock:
            fo = self.fulfillment_orders[fulfillment_order_id]
            service = self.fulfillment_services[service_id]
            fo.location_id = service.location_id
            fo.fulfillment_service_client_id = service.client_id
            if request:
                fo.request_status = "SUBMITTED"
            fo.updated_at = self.now()
            shop = self.orders[fo.order_id].shop
        if request:
            self.emit(shop, "fulfillment_order_notification", {
                "fulfillment_order_id": fo.id, "service_id": service.id,
                "kind": "FULFILLMENT_REQUEST"})

    def add_fulfillment_event(self, fulfillment_id: int, status: str, *,
                              happened_at: datetime | None = None,
                              **details: Any) -> FulfillmentEvent:
        with self.lock:
            fulfillment = self.fulfillments[fulfillment_id]
            now = self.now()
            event = FulfillmentEvent(id=self.next_id(), status=status,
                                     happened_at=happened_at or now, created_at=now, **details)
            fulfillment.events.append(event)
            fulfillment.updated_at = now
            self.orders[fulfillment.order_id].updated_at = now
            return event

    # ------------------------------------------------------------------ tokens
    def issue_token(self, shop: str, client_id: str, scopes: frozenset[str], *,
                    expiring: bool, ttl: timedelta = ACCESS_TOKEN_TTL) -> AccessToken:
        with self.lock:
            now = self.now()
            token = AccessToken(
                token="shpat_" + secrets.token_hex(16), shop=shop, client_id=client_id,
                scopes=scopes, expires_at=now + ttl if expiring else None,
                refresh_token=("shprt_" + secrets.token_hex(16)) if expiring else None,
                refresh_expires_at=now + REFRESH_TOKEN_TTL if expiring else None)
            self.tokens[token.token] = token
            if token.refresh_token:
                self.refresh_tokens[token.refresh_token] = token
            return token

    def authenticate(self, shop: str, access_token: str) -> AccessToken | None:
        """The live token for this shop, or None (unknown, revoked, expired, other shop)."""
        with self.lock:
            token = self.tokens.get(access_token)
            if token is None or token.revoked or token.shop != shop:
                return None
            if token.expires_at is not None and self.now() >= token.expires_at:
                return None
            if token.client_id not in self.shops[shop].installed_client_ids:
                return None
            token.used = True
            self.retire_predecessor(token)
            return token

    def retire_predecessor(self, token: AccessToken) -> None:
        """The replacement was used: the refresh token it replaced stops working."""
        with self.lock:
            if token.replaces:
                old = self.refresh_tokens.pop(token.replaces, None)
                if old is not None:
                    old.revoked = True
                token.replaces = None

    def expire_token(self, access_token: str) -> None:
        with self.lock:
            self.tokens[access_token].expires_at = self.now()

    # ------------------------------------------------------------------ lookups
    def shop(self, domain: str) -> Shop | None:
        return self.shops.get(domain)

    def orders_of(self, shop: str) -> list[Order]:
        with self.lock:
            return [o for o in self.orders.values() if o.shop == shop]

    def order_by_status_token(self, shop: str, token: str) -> Order | None:
        with self.lock:
            return next((o for o in self.orders.values()
                         if o.shop == shop and o.status_token == token), None)

    def order_for_shop(self, shop: str, order_id: int | None) -> Order | None:
        order = self.orders.get(order_id) if order_id is not None else None
        return order if order is not None and order.shop == shop else None

    def fulfillment_order_for_shop(self, shop: str, fo_id: int | None) -> FulfillmentOrder | None:
        fo = self.fulfillment_orders.get(fo_id) if fo_id is not None else None
        return fo if fo is not None and self.orders[fo.order_id].shop == shop else None

    def fulfillment_for_shop(self, shop: str, fulfillment_id: int | None) -> Fulfillment | None:
        found = self.fulfillments.get(fulfillment_id) if fulfillment_id is not None else None
        return found if found is not None and self.orders[found.order_id].shop == shop else None

    def line_item(self, order: Order, line_item_id: int) -> LineItem:
        return next(li for li in order.line_items if li.id == line_item_id)

    def display_fulfillment_status(self, order: Order) -> str:
        fos = [self.fulfillment_orders[i] for i in order.fulfillment_order_ids]
        total = sum(li.total_quantity for fo in fos for li in fo.line_items)
        remaining = sum(li.remaining_quantity for fo in fos for li in fo.line_items)
        if total and remaining == 0:
            return "FULFILLED"
        if remaining < total:
            return "PARTIALLY_FULFILLED"
        if any(fo.request_status == "ACCEPTED" for fo in fos):
            return "IN_PROGRESS"
        return "UNFULFILLED"

    def record_usage(self, shop: str, client_id: str, token: str, *, points: int,
                     throttled: bool) -> None:
        with self.lock:
            for counter in (self.usage[(shop, client_id)], self.usage_by_token[token]):
                counter.calls += 1
                counter.points += points
                counter.throttled += int(throttled)
