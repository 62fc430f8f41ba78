"""The AliExpress sandbox's state: apps, authorizations and tokens, the catalogue, orders and
their lives, the QPS ban, injected faults.

Built from ../shared/contracts/suppliers/aliexpress/FACTS.md. What is certain is enforced (the
signature, the OAuth code flow, the envelopes, the documented business codes, the 1-second ban
after the QPS limit, split parcels). What is not is marked UNCERTAIN where it is modelled:
* UNCERTAIN: the `error_response` codes for a bad signature (`IncompleteSignature`), a refused
  token (`IllegalAccessToken`) and the ban (`ApiCallLimit`): the Open Platform gateway's names.
  The ban's message is the documented one.
* UNCERTAIN: the token answer (no official sample: the fields of FACTS §3) and what a refresh
  does to the old access token (here: it stops working, the stricter reading).
* UNCERTAIN: a repeated `out_order_id` within 24 h. FACTS §5.3 says it "prevents duplicates"
  and lists REPEATED_ORDER_ERROR; `repeat_mode="refuse"` (the default) answers that error,
  `repeat_mode="replay"` answers the first order's ids again. A client must handle both.
* UNCERTAIN: the order's life after payment (times, when parcels appear) is the sandbox's own.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.clock import Clock

DEFAULT_APP_KEY = "500001"
DEFAULT_APP_SECRET = "sandbox-aliexpress-secret"  # noqa: S105 (the sandbox's own)
DEFAULT_ACCOUNT = "owner@example.com"
CODE_LIFETIME = timedelta(minutes=3)  # FACTS §3 (secondary evidence): 3 minutes, single use
ACCESS_LIFETIME = timedelta(days=30)  # commercial developers renew monthly (FACTS §3)
REFRESH_LIFETIME = timedelta(days=60)
REPEAT_WINDOW = timedelta(hours=24)
TIMESTAMP_TOLERANCE = timedelta(minutes=10)
BAN = timedelta(seconds=1)
BAN_MESSAGE = "Api access frequency exceeds the limit. this ban will last 1 seconds"


class PlatformFailure(Exception):
    """An `error_response`."""

    def __init__(self, code: str, message: str, sub_code: str = "", sub_msg: str = "",
                 kind: str = "ISV") -> None:
        super().__init__(message)
        self.code, self.message, self.sub_code, self.sub_msg, self.kind = (
            code, message, sub_code, sub_msg, kind)


@dataclass
class SandboxSku:
    sku_id: str
    sku_attr: str
    price: Decimal
    stock: int
    properties: list[tuple[str, str, str, str]]  # (property id, value id, name, value)


@dataclass
class SandboxProduct:
    product_id: str
    subject: str
    skus: list[SandboxSku]
    ships_to: frozenset[str]
    shipping: list[dict[str, Any]]
    on_sale: bool = True


def _product(product_id: str, subject: str, skus: list[SandboxSku],
             ships_to: str = "US CA GB DE FR NL AU BR") -> SandboxProduct:
    shipping = [
        {"code": "CAINIAO_STANDARD", "company": "AliExpress standard shipping",
         "fee": Decimal("1.99"), "min": 12, "max": 25, "tracking": True},
        {"code": "CAINIAO_SUPER_ECONOMY", "company": "Cainiao Super Economy",
         "fee": Decimal("0.49"), "min": 20, "max": 45, "tracking": False},
    ]
    return SandboxProduct(product_id, subject, skus, frozenset(ships_to.split()), shipping)


def default_catalogue() -> dict[str, SandboxProduct]:
    return {p.product_id: p for p in (
        _product("1005004638293060", "Insulated Water Bottle 500ML", [
            SandboxSku("12000031000000001", "14:365458#Brown", Decimal("6.80"), 120,
                       [("14", "365458", "Color", "Brown")]),
            SandboxSku("12000031000000002", "14:29#White", Decimal("6.80"), 0,
                       [("14", "29", "Color", "White")]),
        ]),
        _product("4000903675543", "Polarized Sunglasses UV400", [
            SandboxSku("12000027158136202", "73:175#Black Green;71:193#Polarized",
                       Decimal("3.94"), 57,
                       [("73", "175", "Lenses Color", "Black Green"),
                        ("71", "193", "Frame", "Polarized")]),
        ]),
        _product("1005006000000001", "Phone Case (single SKU)", [
            SandboxSku("12000040000000001", "", Decimal("1.25"), 500, []),
        ], ships_to="US GB DE"),
    )}


@dataclass
class Grant:
    user_id: str
    account: str
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    revoked: bool = False


@dataclass
class SandboxOrder:
    order_id: str
    user_id: str
    out_order_id: str
    created_at: datetime
    items: list[dict[str, Any]]
    address: dict[str, Any]
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    shipped: list[tuple[str, str, datetime, list[int]]] = field(default_factory=list)
    # (tracking number, service, shipped at, item indexes)

    def status(self) -> str:
        if self.cancelled_at is not None:
            return "FINISH"
        if self.cancel_requested_at is not None:
            return "IN_CANCEL"
        if self.paid_at is None:
            return "PLACE_ORDER_SUCCESS"
        shipped_items = {index for *_, indexes in self.shipped for index in indexes}
        if not shipped_items:
            return "WAIT_SELLER_SEND_GOODS"
        if len(shipped_items) < len(self.items):
            return "SELLER_PART_SEND_GOODS"
        return "WAIT_BUYER_ACCEPT_GOODS"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class AliExpressState:
    def __init__(self, clock: Clock, *, apps: dict[str, str] | None = None,
                 qps: int | None = 20, repeat_mode: str = "refuse",
                 catalogue: dict[str, SandboxProduct] | None = None,
                 auto_ship_after: timedelta | None = None,
                 timestamp_tolerance: timedelta = TIMESTAMP_TOLERANCE) -> None:
        if repeat_mode not in ("refuse", "replay"):
            raise ValueError("repeat_mode is 'refuse' or 'replay'")
        self.clock = clock
        self.apps = dict(apps or {DEFAULT_APP_KEY: DEFAULT_APP_SECRET})
        self.qps = qps
        self.repeat_mode = repeat_mode
        # When set (the demo), a paid order ships this long after payment, one parcel per item.
        self.auto_ship_after = auto_ship_after
        # How far a request's timestamp may be from the gateway's clock. The gateway's
        # tolerance is for real clocks; on an accelerated clock (the demo) it is widened by the
        # speed-up, so that it still bounds the same real time in flight.
        self.timestamp_tolerance = timestamp_tolerance
        self.catalogue = catalogue or default_catalogue()
        self.lock = threading.RLock()
        self.codes: dict[str, tuple[str, str, datetime]] = {}  # code -> (app, user, issued)
        self.grants: dict[str, Grant] = {}  # access token -> grant
        self.refresh: dict[str, Grant] = {}  # refresh token -> grant
        self.orders: dict[str, SandboxOrder] = {}
        self.references: dict[tuple[str, str], tuple[list[str], datetime]] = {}
        self.window: dict[str, tuple[int, int]] = {}  # app -> (second, calls in it)
        self.banned_until: dict[str, datetime] = {}
        self.faults: list[str] = []  # e.g. "lose_create_response", "timeout", "error"
        self.calls: Counter[str] = Counter()
        self.creates: list[str] = []  # every accepted create's out_order_id, in order
        self._ids = itertools.count(8198352049851315, 7919)
        self._numbers = itertools.count(1)

    # --- OAuth (FACTS §3) ---------------------------------------------------------------

    def authorize(self, app_key: str, account: str = DEFAULT_ACCOUNT) -> str:
        with self.lock:
            if app_key not in self.apps:
                raise PlatformFailure("InvalidAppKey", "The app key is not valid")
            code = secrets.token_urlsafe(12)
            user_id = str(2000000000 + int(hashlib.sha256(account.encode()).hexdigest()[:6],
                                           16))
            self.codes[code] = (app_key, f"{user_id}|{account}", self.clock.now())
            return code

    def _grant(self, user: str) -> Grant:
        user_id, _, account = user.partition("|")
        now = self.clock.now()
        grant = Grant(user_id, account, "50000" + secrets.token_hex(16),
                      "50001" + secrets.token_hex(16), now + ACCESS_LIFETIME,
                      now + REFRESH_LIFETIME)
        self.grants[grant.access_token] = grant
        self.refresh[grant.refresh_token] = grant
        return grant

    def token_create(self, app_key: str, code: str) -> dict[str, Any]:
        with self.lock:
            issued = self.codes.pop(code, None)  # single use
            if issued is None or issued[0] != app_key or \
                    self.clock.now() - issued[2] > CODE_LIFETIME:
                raise PlatformFailure("InvalidCode", "The authorization code is invalid or "
                                      "expired")
            return self._token_body(self._grant(issued[1]))

    def token_refresh(self, refresh_token: str) -> dict[str, Any]:
        with self.lock:
            old = self.refresh.get(refresh_token)
            if old is None or old.revoked or self.clock.now() >= old.refresh_expires_at:
                raise PlatformFailure("IllegalRefreshToken",
                                      "The specified refresh token is invalid or expired")
            del self.refresh[refresh_token]
            self.grants.pop(old.access_token, None)  # UNCERTAIN: the old token stops working
            return self._token_body(self._grant(f"{old.user_id}|{old.account}"))

    def _token_body(self, grant: Grant) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "access_token": grant.access_token, "refresh_token": grant.refresh_token,
            "expires_in": int((grant.access_expires_at - now).total_seconds()),
            "refresh_expires_in": int((grant.refresh_expires_at - now).total_seconds()),
            "expire_time": _ms(grant.access_expires_at),
            "refresh_token_valid_time": _ms(grant.refresh_expires_at),
            "user_id": grant.user_id, "seller_id": grant.user_id, "account": grant.account,
            "account_platform": "buyerApp", "account_id": grant.user_id,
            "havana_id": grant.user_id, "user_nick": grant.account.split("@")[0],
            "locale": "en_US", "sp": "ae", "code": "0", "request_id": request_id(),
        }

    def user_for(self, access_token: str) -> Grant:
        grant = self.grants.get(access_token)
        if grant is None or grant.revoked or self.clock.now() >= grant.access_expires_at:
            raise PlatformFailure("IllegalAccessToken",
                                  "The specified access token is invalid or expired")
        return grant

    def revoke(self, account: str = DEFAULT_ACCOUNT) -> None:
        with self.lock:
            for grant in self.grants.values():
                if grant.account == account:
                    grant.revoked = True

    def expire_tokens(self) -> None:
        """Every access token expires now (their refresh tokens still work)."""
        with self.lock:
            for grant in self.grants.values():
                grant.access_expires_at = self.clock.now()

    # --- the QPS limit and its ban (FACTS §4) -------------------------------------------

    def admit(self, app_key: str) -> None:
        with self.lock:
            now = self.clock.now()
            if now < self.banned_until.get(app_key, now):
                raise PlatformFailure("ApiCallLimit", BAN_MESSAGE, kind="ISP")
            if self.qps is None:
                return
            second = int(now.timestamp())
            start, count = self.window.get(app_key, (second, 0))
            count = count + 1 if start == second else 1
            self.window[app_key] = (second, count)
            if count > self.qps:
                self.banned_until[app_key] = now + BAN
                raise PlatformFailure("ApiCallLimit", BAN_MESSAGE, kind="ISP")

    def ban(self, app_key: str = DEFAULT_APP_KEY) -> None:
        with self.lock:
            self.banned_until[app_key] = self.clock.now() + BAN

    def take_fault(self, wanted: str) -> bool:
        with self.lock:
            if self.faults and self.faults[0] == wanted:
                self.faults.pop(0)
                return True
            return False

    # --- products and freight (FACTS §5.1, §5.2) ----------------------------------------

    def product(self, product_id: str, country: str) -> dict[str, Any]:
        with self.lock:
            product = self.catalogue.get(product_id)
            if product is None:
                return {"code": "605", "rsp_code": "605", "rsp_msg": "ITEM_ID_NOT_FOUND"}
            if country and country not in product.ships_to:
                return {"code": "602", "rsp_code": "602",
                        "rsp_msg": "The product is not allowed to be sold in this country"}
            return {"code": "0", "rsp_code": "200", "rsp_msg": "Call succeeds",
                    "result": _product_result(product, country)}

    def freight(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            product = self.catalogue.get(str(request.get("productId", "")))
            country = str(request.get("shipToCountry", ""))
            sku_id = str(request.get("selectedSkuId", ""))
            if product is None or all(s.sku_id != sku_id for s in product.skus) or \
                    country not in product.ships_to:
                return {"msg": "DELIVERY_NOT_AVAILABLE_TO_YOUR_ADDRESS", "code": 505,
                        "success": False}
            sku = next(s for s in product.skus if s.sku_id == sku_id)
            return {"msg": "Call succeeds", "code": 200, "success": True, "delivery_options": {
                "delivery_option_d_t_o": [{
                    "code": option["code"], "company": option["company"],
                    "shipping_fee_cent": str(option["fee"]), "shipping_fee_currency": "USD",
                    "shipping_fee_format": f"US ${option['fee']}", "free_shipping": False,
                    "min_delivery_days": option["min"], "max_delivery_days": option["max"],
                    "tracking": option["tracking"], "ship_from_country": "CN",
                    "available_stock": str(sku.stock), "mayHavePFS": False}
                    for option in product.shipping]}}

    def set_stock(self, product_id: str, sku_attr: str, stock: int) -> None:
        with self.lock:
            for sku in self.catalogue[product_id].skus:
                if sku.sku_attr == sku_attr:
                    sku.stock = stock
                    return
            raise KeyError(f"{product_id} has no SKU {sku_attr!r}")

    def set_ships_to(self, product_id: str, countries: set[str]) -> None:
        with self.lock:
            self.catalogue[product_id].ships_to = frozenset(countries)

    # --- orders (FACTS §5.3 - §5.5) -----------------------------------------------------

    def create(self, user_id: str, request: dict[str, Any],
               extend: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            reference = str(request.get("out_order_id") or "")
            if reference:
                earlier = self.references.get((user_id, reference))
                if earlier and self.clock.now() - earlier[1] < REPEAT_WINDOW:
                    if self.repeat_mode == "replay":
                        return _placed(earlier[0])
                    return _refused("REPEATED_ORDER_ERROR", "Repeated order, please check "
                                    "the order list")
            address = request.get("logistics_address")
            items = request.get("product_items")
            if not isinstance(address, dict) or not isinstance(items, list) or not items:
                return _refused("ERROR_WHEN_BUILD_FOR_PLACE_ORDER",
                                "logistics_address and product_items are required")
            problem = _address_problem(address)
            if problem:
                return _refused("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", problem)
            country = str(address.get("country", ""))
            lines: list[tuple[SandboxProduct, SandboxSku, int, str]] = []
            for item in items:
                found = self._sku(item)
                if found is None:
                    return _refused("ERROR_WHEN_BUILD_FOR_PLACE_ORDER",
                                    f"product {item.get('product_id')} / sku_attr "
                                    f"{item.get('sku_attr')!r} not found")
                product, sku = found
                count = int(item.get("product_count") or 0)
                service = str(item.get("logistics_service_name") or "")
                if country not in product.ships_to:
                    return _refused("A005_INVALID_COUNTRIES", f"cannot ship to {country}")
                if service and service not in {o["code"] for o in product.shipping}:
                    return _refused("DELIVERY_METHOD_NOT_EXIST",
                                    f"{service} does not deliver this product")
                if count < 1 or sku.stock < count:
                    return _refused("INVENTORY_HOLD_ERROR",
                                    f"only {sku.stock} left of {sku.sku_id}")
                lines.append((product, sku, count, service))
            for _, sku, count, _ in lines:
                sku.stock -= count
            now = self.clock.now()
            pay = str(dict(extend.get("payment") or {}).get("try_to_pay", "")) == "true"
            order = SandboxOrder(
                str(next(self._ids)), user_id, reference, now,
                [{"product": product, "sku": sku, "count": count,
                  "service": service or "CAINIAO_STANDARD"}
                 for product, sku, count, service in lines],
                dict(address), paid_at=now if pay else None)
            self.orders[order.order_id] = order
            if reference:
                self.references[(user_id, reference)] = ([order.order_id], now)
            self.creates.append(reference)
            return _placed([order.order_id])

    def _sku(self, item: dict[str, Any]) -> tuple[SandboxProduct, SandboxSku] | None:
        product = self.catalogue.get(str(item.get("product_id", "")))
        if product is None:
            return None
        wanted = _normal(str(item.get("sku_attr") or ""))
        sku = next((s for s in product.skus if _normal(s.sku_attr) == wanted), None)
        return (product, sku) if sku is not None else None

    def order(self, user_id: str, order_id: str) -> SandboxOrder:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None or order.user_id != user_id:
                raise PlatformFailure("15", "Remote service error", "isv.order-not-found",
                                      "The order does not exist", kind="ISP")
            if self.auto_ship_after is not None and order.paid_at is not None and \
                    not order.shipped and order.cancelled_at is None and \
                    self.clock.now() - order.paid_at >= self.auto_ship_after:
                self.ship_split(order_id)
            return order

    def order_result(self, order: SandboxOrder) -> dict[str, Any]:
        status = order.status()
        children = [{
            "product_id": item["product"].product_id, "sku_id": item["sku"].sku_id,
            "product_name": item["product"].subject, "product_count": item["count"],
            "product_price": {"amount": str(item["sku"].price), "currency_code": "USD"},
            **({"end_reason": "CANCELED"} if order.cancelled_at else {})}
            for item in order.items]
        total = sum((item["sku"].price * item["count"] for item in order.items), Decimal(0))
        logistics = {"DEFAULT": "DEFAULT", "WAIT_SELLER_SEND_GOODS": "WAIT_SELLER_SEND_GOODS",
                     "SELLER_PART_SEND_GOODS": "SELLER_SEND_PART_GOODS",
                     "WAIT_BUYER_ACCEPT_GOODS": "SELLER_SEND_GOODS"}.get(status, "NO_LOGISTICS")
        return {
            "gmt_create": order.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "order_status": status, "logistics_status": logistics,
            "order_amount": {"amount": str(total), "currency_code": "USD"},
            "child_order_list": {"aeop_child_order_info": children},
            "logistics_info_list": {"aeop_order_logistics_info": [
                {"logistics_no": number, "logistics_service": service}
                for number, service, *_ in order.shipped]},
            "store_info": {"store_id": 1103800006, "store_name": "Sandbox Store"},
        }

    def tracking_result(self, order: SandboxOrder) -> dict[str, Any]:
        if not order.shipped:
            return {"ret": False, "msg": "TRACKING DATA NOT FOUND", "code": "1001"}
        lines = []
        for number, _service, shipped_at, indexes in order.shipped:
            lines.append({
                "mail_no": number, "carrier_name": "AliExpress standard shipping",
                "eta_time_stamps": _ms(shipped_at + timedelta(days=18)),
                "detail_node_list": {"detail_node": [{
                    "time_stamp": _ms(shipped_at), "tracking_name": "Shipment information "
                    "received", "tracking_detail_desc": "Shipment information received"}]},
                "package_item_list": {"package_item": [{
                    "item_id": int(order.items[i]["product"].product_id),
                    "quantity": order.items[i]["count"],
                    "item_title": order.items[i]["product"].subject,
                    "sku_desc": "; ".join(f"{p[2]}:{p[3]}"
                                          for p in order.items[i]["sku"].properties)}
                    for i in indexes]}})
        return {"ret": True, "msg": "", "code": "", "data": {
            "tracking_detail_line_list": {"tracking_detail": lines}}}

    # --- the order's life (the sandbox's own, UNCERTAIN) --------------------------------

    def pay(self, order_id: str) -> None:
        with self.lock:
            self.orders[order_id].paid_at = self.clock.now()

    def ship(self, order_id: str, items: list[int] | None = None) -> list[str]:
        """Ship the given items (default: every one not shipped yet) in one parcel each
        seller split: items of one call share a parcel. Returns the tracking numbers."""
        with self.lock:
            order = self.orders[order_id]
            if order.paid_at is None:
                order.paid_at = self.clock.now()
            done = {index for *_, indexes in order.shipped for index in indexes}
            wanted = [i for i in (items if items is not None else range(len(order.items)))
                      if i not in done]
            if not wanted:
                return []
            number = f"LP{self.clock.now():%y%m%d}{next(self._numbers):08d}CN"
            order.shipped.append((number, order.items[wanted[0]]["service"],
                                  self.clock.now(), wanted))
            return [number]

    def ship_split(self, order_id: str) -> list[str]:
        """One parcel per item: AliExpress splitting an order into several shipments."""
        with self.lock:
            return [number for index in range(len(self.orders[order_id].items))
                    for number in self.ship(order_id, [index])]

    def supplier_cancels(self, order_id: str, *, finish: bool = True) -> None:
        with self.lock:
            order = self.orders[order_id]
            order.cancel_requested_at = self.clock.now()
            if finish:
                order.cancelled_at = self.clock.now()
                for item in order.items:
                    item["sku"].stock += item["count"]

    def orders_for(self, reference: str) -> list[SandboxOrder]:
        with self.lock:
            return [o for o in self.orders.values() if o.out_order_id == reference]


def request_id() -> str:
    return "21" + secrets.token_hex(11)[:21]


def _placed(order_ids: list[str]) -> dict[str, Any]:
    return {"is_success": True, "order_list": {"number": [int(i) for i in order_ids]}}


def _refused(code: str, message: str) -> dict[str, Any]:
    return {"is_success": False, "error_code": code, "error_msg": message}


def _normal(sku_attr: str) -> str:
    return ";".join(sorted(p.split("#", 1)[0].strip() for p in sku_attr.split(";")
                           if p.strip()))


def _address_problem(address: dict[str, Any]) -> str:
    """The documented validation messages (FACTS §5.3)."""
    if not str(address.get("address") or "").strip():
        return "Please enter an address"
    if not str(address.get("city") or "").strip():
        return "Please enter a city"
    if not str(address.get("province") or "").strip():
        return "Please select a State/Province/County"
    if not str(address.get("country") or "").strip():
        return "Please select a Country/Region"
    person = str(address.get("contact_person") or "").strip()
    if not 2 <= len(person) <= 32:
        return "Please enter between 2 - 32 characters"
    if address.get("country") == "BR" and not str(address.get("cpf") or "").strip():
        return "Please enter the CPF"
    if "UNDELIVERABLE" in str(address.get("address")).upper():
        return "The address cannot be delivered to"
    return ""


def _product_result(product: SandboxProduct, country: str) -> dict[str, Any]:
    return {
        "ae_item_base_info_dto": {
            "product_id": product.product_id, "subject": product.subject,
            "product_status_type": "onSelling" if product.on_sale else "offline",
            "currency_code": "USD", "category_id": "33902"},
        # Bare lists here, as the ds.product.get sample shows them (other APIs wrap theirs).
        "ae_item_sku_info_dtos": [{
            "sku_id": sku.sku_id, "sku_attr": sku.sku_attr, "id": sku.sku_attr,
            "sku_price": str(sku.price), "offer_sale_price": str(sku.price),
            "currency_code": "USD", "sku_available_stock": str(sku.stock),
            "price_include_tax": "true",
            "ae_sku_property_dtos": [{
                "sku_property_id": pid, "property_value_id": vid, "sku_property_name": name,
                "sku_property_value": value.lower(), "property_value_definition_name": value}
                for pid, vid, name, value in sku.properties]}
            for sku in product.skus],
        "logistics_info_dto": {"delivery_time": "15", "ship_to_country": country},
        "ae_store_info": {"store_id": "4874072", "store_name": "Sandbox Store",
                          "store_country_code": "CN"},
    }


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
