"""Pure build_/parse_ functions for CJ's Open API 2.0: envelopes, tokens, variants, stock,
freight, orders and tracking. No HTTP here (client.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.parsing import decimal, text, timestamp
from connectors.suppliers.base import (
    Parcel,
    Rejection,
    ShippingOption,
    SupplierOrderRequest,
    SupplierOrderView,
)
from connectors.suppliers.cjdropshipping import units


@dataclass(frozen=True)
class Envelope:
    code: int
    ok: bool
    message: str
    data: Any
    request_id: str


def read_envelope(body: Any) -> Envelope:
    """`{code, result, message, data, requestId}`; also the `{success: true, code: 0}` quirk.
    Anything else is a failed envelope (never read as success)."""
    if not isinstance(body, dict):
        return Envelope(-1, False, "the answer is not a CJ envelope", None, "")
    try:
        code = int(body.get("code", -1))
    except (TypeError, ValueError):
        code = -1
    ok = (body.get("result") is True and code == units.SUCCESS) or (
        body.get("success") is True and code == 0)
    return Envelope(code, ok, text(body.get("message")), body.get("data"),
                    text(body.get("requestId")))


@dataclass(frozen=True)
class Tokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime

    def as_json(self) -> dict[str, str]:
        return {"access_token": self.access_token,
                "access_expires_at": self.access_expires_at.isoformat(),
                "refresh_token": self.refresh_token,
                "refresh_expires_at": self.refresh_expires_at.isoformat()}


def parse_tokens(data: Any) -> Tokens | None:
    """getAccessToken / refreshAccessToken's data (expiry dates with +08:00), or a stored
    copy (`Tokens.as_json`). None when a field is missing or unreadable."""
    if not isinstance(data, dict):
        return None
    access = text(data.get("accessToken") or data.get("access_token"))
    refresh = text(data.get("refreshToken") or data.get("refresh_token"))
    access_at = timestamp(data.get("accessTokenExpiryDate") or data.get("access_expires_at"))
    refresh_at = timestamp(data.get("refreshTokenExpiryDate")
                           or data.get("refresh_expires_at"))
    if not access or not refresh or access_at is None or refresh_at is None:
        return None
    return Tokens(access, access_at, refresh, refresh_at)


@dataclass(frozen=True)
class Variant:
    vid: str
    sku: str
    pid: str
    name: str
    price: Decimal | None


def parse_variant(data: Any) -> Variant | None:
    if not isinstance(data, dict) or not text(data.get("vid")):
        return None
    return Variant(vid=text(data.get("vid")), sku=text(data.get("variantSku")),
                   pid=text(data.get("pid")),
                   name=text(data.get("variantNameEn") or data.get("variantKey")),
                   price=decimal(data.get("variantSellPrice")))


def parse_variants(data: Any) -> list[Variant]:
    """variant/query's list, or a product's `variants`."""
    rows = data.get("variants") if isinstance(data, dict) else data
    return [v for row in rows or [] if (v := parse_variant(row)) is not None] \
        if isinstance(rows, list) else []


def parse_stock(data: Any, country: str) -> int:
    """stock/queryByVid: inventory per warehouse. ASSUMED shape (FACTS.md: "stock per
    warehouse", fields from getInventoryByPid): a list of {countryCode, totalInventoryNum |
    totalInventory | storageNum}. Only the warehouse in `country` counts; none there is 0."""
    rows = data if isinstance(data, list) else (
        data.get("inventories") if isinstance(data, dict) else None)
    total = 0
    for row in rows or []:
        if not isinstance(row, dict) or text(row.get("countryCode")).upper() != country.upper():
            continue
        for key in ("totalInventoryNum", "totalInventory", "storageNum"):
            amount = decimal(row.get(key))
            if amount is not None:
                total += max(int(amount), 0)
                break
    return total


def build_freight(request: SupplierOrderRequest, from_country: str,
                  vids: Sequence[str]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "startCountryCode": from_country, "endCountryCode": request.recipient.country,
        "products": [{"quantity": line.quantity, "vid": vid}
                     for line, vid in zip(request.lines, vids, strict=True)]}
    if request.recipient.postcode:
        payload["zip"] = request.recipient.postcode
    return payload


def parse_freight(data: Any) -> list[ShippingOption]:
    options = []
    for row in data if isinstance(data, list) else []:
        if isinstance(row, dict) and text(row.get("logisticName")):
            options.append(ShippingOption(name=text(row.get("logisticName")),
                                          price=decimal(row.get("logisticPrice")),
                                          days=text(row.get("logisticAging"))))
    return options


def build_order(request: SupplierOrderRequest, vids: Sequence[str], from_country: str,
                pay_type: int, country_name: str) -> dict[str, Any]:
    """createOrderV2's body; `orderNumber` is the anchor for finding it again."""
    recipient = request.recipient
    return {
        "orderNumber": request.reference,
        "shippingCountryCode": recipient.country,
        "shippingCountry": country_name,
        "shippingProvince": recipient.province or recipient.city,
        "shippingCity": recipient.city,
        "shippingAddress": recipient.address1,
        "shippingAddress2": recipient.address2,
        "shippingZip": recipient.postcode,
        "shippingPhone": recipient.phone,
        "shippingCustomerName": recipient.name,
        "email": request.email,
        "remark": f"{request.store} {request.order_number}",
        "logisticName": request.shipping_method,
        "fromCountryCode": from_country,
        "payType": pay_type,
        "products": [{"vid": vid, "quantity": line.quantity}
                     for line, vid in zip(request.lines, vids, strict=True)],
    }


def order_refusal(code: int, message: str) -> Rejection | None:
    """A createOrderV2 refusal the owner can act on; None for anything else."""
    if code == units.OUT_OF_STOCK or units.contains(message, units.STOCK_WORDS):
        return Rejection("out_of_stock", message or "out of stock at CJ", (message,))
    if code == units.ADDRESS_REFUSED or units.contains(message, units.ADDRESS_WORDS):
        return Rejection("invalid_address", message or "CJ refused the address", (message,))
    return None


def is_duplicate(code: int, message: str) -> bool:
    return code == units.ORDER_NUMBER_EXISTS or units.contains(message, units.DUPLICATE_WORDS)


def created_order_id(data: Any) -> str:
    if isinstance(data, dict):
        return text(data.get("orderId"))
    return text(data)


def find_in_list(data: Any, reference: str) -> str | None:
    """order/list's page: the CJ order id whose `orderNum` is our reference."""
    rows = data.get("list") if isinstance(data, dict) else None
    for row in rows or []:
        if isinstance(row, dict) and text(row.get("orderNum")) == reference:
            return text(row.get("orderId")) or None
    return None


def list_total(data: Any) -> int:
    value = data.get("total") if isinstance(data, dict) else None
    return int(value) if isinstance(value, int) else 0


def track_numbers(order: Any) -> list[str]:
    """The order's tracking numbers. ASSUMED: a split order lists several in `trackNumber`,
    comma-separated (the readable contract has one field)."""
    raw = text(order.get("trackNumber")) if isinstance(order, dict) else ""
    return [number.strip() for number in raw.split(",") if number.strip()]


@dataclass(frozen=True)
class Track:
    number: str
    carrier: str | None
    url: str | None


def parse_tracks(data: Any) -> dict[str, Track]:
    """trackInfo: per number the last-mile carrier (else CJ's logistic name)."""
    tracks = {}
    for row in data if isinstance(data, list) else []:
        if not isinstance(row, dict):
            continue
        number = text(row.get("trackingNumber"))
        if number:
            carrier = text(row.get("lastMileCarrier")) or text(row.get("logisticName"))
            tracks[number] = Track(number, carrier or None,
                                   text(row.get("trackingUrl")) or None)
    return tracks


def parse_order(data: Any, tracks: dict[str, Track]) -> SupplierOrderView:
    order = data if isinstance(data, dict) else {}
    parcels = []
    for number in track_numbers(order):
        track = tracks.get(number)
        parcels.append(Parcel(
            ref=number, tracking_number=number,
            carrier=track.carrier if track and track.carrier else
            (text(order.get("logisticName")) or None),
            tracking_url=(track.url if track else None) or text(order.get("trackingUrl"))
            or None))
    status = text(order.get("orderStatus"))
    note = "; ".join(str(r) for r in order.get("interceptOrderReasons") or [] if r) \
        if isinstance(order.get("interceptOrderReasons"), list) else ""
    return SupplierOrderView(external_id=text(order.get("orderId")),
                             status=units.order_status(status), parcels=tuple(parcels),
                             note=note or status)


def parse_balance(data: Any) -> Decimal | None:
    """getBalance: ASSUMED `{amount}` (the field name is not in the readable contract)."""
    if isinstance(data, dict):
        for key in ("amount", "balance", "totalAmount"):
            value = decimal(data.get(key))
            if value is not None:
                return value
    return decimal(data)


_PID_IN_URL = re.compile(r"-p-(\d{6,25})(?:\.html)?(?:[?#/]|$)")
_PID = re.compile(r"\d{6,25}|[0-9A-Fa-f-]{36}")


def product_id_from(value: str) -> str | None:
    """A CJ product id from what the owner pasted: the id itself, or a product page URL
    (".../product/<name>-p-<pid>.html"). None when neither."""
    value = value.strip()
    if _PID.fullmatch(value):
        return value
    found = _PID_IN_URL.search(value)
    return found.group(1) if found else None


def build_webhooks(callback_url: str) -> dict[str, Any]:
    """webhook/set's body (the current doc's ENABLE; product and stock left off)."""
    return {topic: {"type": "ENABLE", "callbackUrls": [callback_url]}
            for topic in ("order", "logistics")}
