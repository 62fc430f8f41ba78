"""Pure build_/parse_ functions for AliExpress's DS APIs: signing, the envelope, products,
freight, orders and tracking. Problems come back as data, never raised.

AliExpress wraps lists TOP-style (`{"number": [...]}`, `{"aeop_child_order_info": [...]}`,
`{"tracking_detail": [...]}`); `_listed` unwraps them, and accepts a bare list too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.carriers.units import normalize
from connectors.parsing import decimal, text
from connectors.suppliers.aliexpress import units
from connectors.suppliers.base import Parcel, ParcelItem, SupplierOrderView
from core.domain import Address, CarrierEvent

SIGN_METHOD = "sha256"


# --- signing (FACTS §2) ---------------------------------------------------------------------

def sign_base(params: Mapping[str, str], api_path: str = "") -> str:
    """The signed string: the API path (system APIs only) and every parameter but `sign`,
    sorted by name in ASCII order, as name + value with no separators."""
    pairs = "".join(f"{name}{params[name]}" for name in sorted(params) if name != "sign")
    return api_path + pairs


def sign(params: Mapping[str, str], secret: str, api_path: str = "") -> str:
    """UPPER(HEX(HMAC-SHA256(app secret, the signed string)))."""
    digest = hmac.new(secret.encode(), sign_base(params, api_path).encode(), hashlib.sha256)
    return digest.hexdigest().upper()


def signature_matches(params: Mapping[str, str], secret: str, api_path: str = "") -> bool:
    return hmac.compare_digest(params.get("sign", "").upper(), sign(params, secret, api_path))


def system_params(app_key: str, timestamp_ms: int, *, method: str = "",
                  access_token: str = "") -> dict[str, str]:
    params = {"app_key": app_key, "timestamp": str(timestamp_ms), "sign_method": SIGN_METHOD}
    if method:
        params |= {"method": method, "format": "json"}
    if access_token:
        params["access_token"] = access_token
    return params


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- the envelope (FACTS §4) ----------------------------------------------------------------

@dataclass(frozen=True)
class PlatformError:
    code: str
    sub_code: str
    message: str
    request_id: str
    problem: units.PlatformProblem

    def __str__(self) -> str:
        parts = [self.code, self.sub_code, self.message]
        return " ".join(part for part in parts if part) + (
            f" (request {self.request_id})" if self.request_id else "")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _listed(value: Any, key: str) -> list[dict[str, Any]]:
    items = value.get(key) if isinstance(value, dict) else value
    return [item for item in items or [] if isinstance(item, dict)] \
        if isinstance(items, list) else []


def parse_platform_error(body: Any) -> PlatformError | None:
    error = _object(body).get("error_response")
    if not isinstance(error, dict):
        return None
    code, sub_code = text(error.get("code")), text(error.get("sub_code"))
    message = " ".join(part for part in (text(error.get("msg")), text(error.get("sub_msg")))
                       if part)
    return PlatformError(code, sub_code, message, text(error.get("request_id")),
                         units.platform_problem(code, sub_code, message))


def response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def parse_envelope(method: str, body: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The `result` of a business API's answer (wrapped in `<method>_response`, or flat as
    `ds.product.get` shows it), with the flat `code` beside it; None with the problems when
    the answer has neither."""
    data = _object(body)
    wrapped = data.get(response_key(method))
    holder = wrapped if isinstance(wrapped, dict) else data
    result = holder.get("result")
    code = {"_code": text(holder["code"])} if "code" in holder else {}
    if not isinstance(result, dict):
        if code and code["_code"] not in ("", "0"):  # a flat business error has no result
            return code | {"_message": text(holder.get("rsp_msg"))}, []
        return None, [f"{method}: no result in the answer"]
    return result | code, []


# --- tokens (FACTS §3) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    account: str
    user_id: str

    def __repr__(self) -> str:  # never the tokens
        return f"Tokens(account={self.account!r}, expires={self.access_expires_at})"


def _moment_ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _moment_after(now: datetime, seconds: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(now.timestamp() + int(seconds), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_tokens(body: Any, now: datetime) -> tuple[Tokens | None, list[str]]:
    """A token answer (fields at the top level; `expire_time` in epoch ms, else
    `expires_in` seconds from now)."""
    data = _object(body)
    access, refresh = text(data.get("access_token")), text(data.get("refresh_token"))
    if not access:
        return None, [f"no access_token in the answer (code {text(data.get('code')) or '?'}"
                      f" {text(data.get('message') or data.get('msg'))})".rstrip()]
    expires = _moment_ms(data.get("expire_time")) or _moment_after(now, data.get("expires_in"))
    if expires is None:
        return None, ["no expire_time or expires_in in the token answer"]
    refresh_expires = (_moment_ms(data.get("refresh_token_valid_time"))
                       or _moment_after(now, data.get("refresh_expires_in")))
    return Tokens(access, refresh, expires, refresh_expires, text(data.get("account")),
                  text(data.get("user_id"))), []


# --- products (FACTS §5.1) ------------------------------------------------------------------

@dataclass(frozen=True)
class Sku:
    sku_id: str
    sku_attr: str  # "" for a single-SKU product
    price: Decimal | None
    currency: str
    stock: int
    description: str = ""


@dataclass(frozen=True)
class Product:
    product_id: str
    title: str
    on_sale: bool
    skus: tuple[Sku, ...]
    ship_to_country: str = ""

    def sku(self, sku_attr: str) -> Sku | None:
        wanted = normal_sku_attr(sku_attr)
        return next((sku for sku in self.skus if normal_sku_attr(sku.sku_attr) == wanted
                     or sku.sku_id == sku_attr), None)


def normal_sku_attr(value: str) -> str:
    """`sku_attr` compared as a set of `property:value` parts (order and names aside)."""
    parts = (part.split("#", 1)[0].strip() for part in value.split(";"))
    return ";".join(sorted(part for part in parts if part))


def build_product_query(product_id: str, country: str, currency: str,
                        language: str) -> dict[str, str]:
    return {"product_id": product_id, "ship_to_country": country,
            "target_currency": currency, "target_language": language}


def _int(value: Any) -> int:
    try:
        return max(int(str(value).strip()), 0)
    except (TypeError, ValueError):
        return 0


def parse_product(result: dict[str, Any]) -> tuple[Product | None, list[str]]:
    base = _object(result.get("ae_item_base_info_dto"))
    product_id = text(base.get("product_id"))
    if not product_id:
        return None, ["ae_item_base_info_dto.product_id: missing"]
    skus = []
    for raw in _listed(result.get("ae_item_sku_info_dtos"), "ae_item_sku_info_d_t_o"):
        properties = _listed(raw.get("ae_sku_property_dtos"), "ae_sku_property_d_t_o")
        description = ", ".join(
            f"{text(p.get('sku_property_name'))}: "
            f"{text(p.get('property_value_definition_name') or p.get('sku_property_value'))}"
            for p in properties)
        skus.append(Sku(text(raw.get("sku_id")), text(raw.get("sku_attr")),
                        decimal(raw.get("offer_sale_price") or raw.get("sku_price")),
                        text(raw.get("currency_code")), _int(raw.get("sku_available_stock")),
                        description))
    logistics = _object(result.get("logistics_info_dto"))
    return Product(product_id, text(base.get("subject")),
                   text(base.get("product_status_type")) in ("", "onSelling"), tuple(skus),
                   text(logistics.get("ship_to_country"))), []


# --- freight (FACTS §5.2) -------------------------------------------------------------------

@dataclass(frozen=True)
class ShippingOption:
    code: str  # the `logistics_service_name` to order with
    company: str
    fee: Decimal | None
    currency: str
    min_days: int
    max_days: int
    tracked: bool


def build_freight_query(product_id: str, sku_id: str, quantity: int, country: str,
                        currency: str, language: str) -> dict[str, str]:
    return {"queryDeliveryReq": compact_json({
        "quantity": str(quantity), "shipToCountry": country, "productId": product_id,
        "selectedSkuId": sku_id, "language": language, "currency": currency,
        "locale": language})}


def parse_freight(result: dict[str, Any]) -> tuple[list[ShippingOption], str]:
    """The delivery options; when there are none, AliExpress's reason."""
    if result.get("success") is False or result.get("success") == "false":
        return [], f"{text(result.get('code'))} {text(result.get('msg'))}".strip()
    options = [ShippingOption(
        text(raw.get("code")), text(raw.get("company")),
        decimal(raw.get("shipping_fee_cent")) if not _true(raw.get("free_shipping"))
        else Decimal(0), text(raw.get("shipping_fee_currency")),
        _int(raw.get("min_delivery_days")), _int(raw.get("max_delivery_days")),
        _true(raw.get("tracking")))
        for raw in _listed(result.get("delivery_options"), "delivery_option_d_t_o")
        if text(raw.get("code"))]
    return options, "" if options else "no delivery option"


def _true(value: Any) -> bool:
    return value is True or text(value).lower() == "true"


def cheapest_tracked(options: Sequence[ShippingOption]) -> ShippingOption | None:
    """The option DropTrack orders with: tracked (a parcel the customer can follow), then the
    cheapest, then the fastest."""
    tracked = [option for option in options if option.tracked]
    return min(tracked, key=lambda o: (o.fee if o.fee is not None else Decimal("Infinity"),
                                       o.max_days), default=None)


# --- placing an order (FACTS §5.3) ----------------------------------------------------------

@dataclass(frozen=True)
class OrderItem:
    product_id: str
    sku_attr: str
    quantity: int
    logistics_service_name: str = ""


def contact_person(name: str) -> str:
    """AliExpress wants 2 to 32 characters; longer names are cut at a word where possible."""
    name = " ".join(name.split())
    if len(name) <= 32:
        return name
    cut = name[:32].rsplit(" ", 1)[0]
    return cut if len(cut) >= 2 else name[:32]


def build_place_order(reference: str, recipient: Address, items: Sequence[OrderItem],
                      pay_currency: str = "") -> dict[str, str]:
    """The create's parameters; with `pay_currency`, AliExpress is asked to pay from the
    owner's account at once (`try_to_pay`, only when the owner allowed it)."""
    params = _place_order(reference, recipient, items)
    if pay_currency:
        params["ds_extend_request"] = compact_json({"payment": {
            "pay_currency": pay_currency, "try_to_pay": "true"}})
    return params


def _place_order(reference: str, recipient: Address,
                 items: Sequence[OrderItem]) -> dict[str, str]:
    address = {
        "address": recipient.address1, "address2": recipient.address2,
        "city": recipient.city, "province": recipient.province, "country": recipient.country,
        "zip": recipient.postcode, "contact_person": contact_person(recipient.name),
        "full_name": recipient.name, "mobile_no": recipient.phone,
        "phone_country": "", "locale": "en_US",
    }
    return {"param_place_order_request4_open_api_d_t_o": compact_json({
        "out_order_id": reference,
        "logistics_address": {key: value for key, value in address.items() if value},
        "product_items": [{"product_id": int(item.product_id) if item.product_id.isdigit()
                           else item.product_id, "product_count": item.quantity,
                           "sku_attr": item.sku_attr,
                           "logistics_service_name": item.logistics_service_name}
                          for item in items],
    })}


@dataclass(frozen=True)
class Placed:
    order_ids: tuple[str, ...] = ()
    refusal: units.Refusal | None = None
    code: str = ""
    message: str = ""


def parse_create(result: dict[str, Any]) -> tuple[Placed | None, list[str]]:
    success = result.get("is_success")
    if success is True or text(success) == "true":
        numbers = result.get("order_list")
        ids = tuple(text(n) for n in (numbers.get("number") if isinstance(numbers, dict)
                                      else numbers) or [] if text(n))
        if not ids:
            return None, ["is_success without order_list.number"]
        return Placed(order_ids=ids), []
    code, message = text(result.get("error_code")), text(result.get("error_msg"))
    if not code and not message:
        return None, ["neither is_success nor error_code"]
    return Placed(refusal=units.create_refusal(code, message), code=code, message=message), []


# --- order detail and tracking (FACTS §5.4, §5.5) -------------------------------------------

@dataclass(frozen=True)
class OrderDetail:
    order_id: str
    raw_status: str
    unit: units.OrderUnit
    cancelled: bool
    logistics: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (number, service)


def parse_order_detail(order_id: str, result: dict[str, Any]) -> OrderDetail:
    raw = text(result.get("order_status"))
    children = _listed(result.get("child_order_list"), "aeop_child_order_info")
    ends = [text(child.get("end_reason")) for child in children]
    cancelled = bool(ends) and all(end in units.CANCELLED_END_REASONS for end in ends)
    logistics = tuple((text(item.get("logistics_no")), text(item.get("logistics_service")))
                      for item in _listed(result.get("logistics_info_list"),
                                          "aeop_order_logistics_info")
                      if text(item.get("logistics_no")))
    return OrderDetail(order_id, raw, units.order_unit(raw),
                       cancelled and raw in ("FINISH", "IN_CANCEL"), logistics)


def _event(number: str, node: dict[str, Any]) -> CarrierEvent | None:
    happened_at = _moment_ms(node.get("time_stamp"))
    name, description = text(node.get("tracking_name")), text(node.get("tracking_detail_desc"))
    if happened_at is None:
        return None
    meaning = normalize(name, description)
    if meaning is None:
        return None  # AliExpress's words DropTrack cannot read: the tracking service will
    return CarrierEvent(key=f"{number}:{int(happened_at.timestamp() * 1000)}",
                        status=meaning.status, reason=meaning.reason, happened_at=happened_at,
                        raw_status=name, message=description)


def parse_tracking(result: dict[str, Any]) -> tuple[list[Parcel], list[str]]:
    """One parcel per tracking line: an order AliExpress splits becomes several shipments.
    `TRACKING DATA NOT FOUND` (1001) is not a problem: nothing has shipped yet."""
    if result.get("ret") is False or text(result.get("ret")) == "false":
        code = text(result.get("code"))
        return [], [] if code == units.TRACKING_NOT_FOUND else [
            f"tracking: {code} {text(result.get('msg'))}".strip()]
    lines = _listed(_object(result.get("data")).get("tracking_detail_line_list"),
                    "tracking_detail")
    parcels: list[Parcel] = []
    for line in lines:
        number = text(line.get("mail_no"))
        if not number or any(parcel.tracking_number == number for parcel in parcels):
            continue
        nodes = _listed(line.get("detail_node_list"), "detail_node")
        events = tuple(event for node in nodes if (event := _event(number, node)) is not None)
        items = tuple(ParcelItem(text(item.get("item_id")), _int(item.get("quantity")))
                      for item in _listed(line.get("package_item_list"), "package_item")
                      if text(item.get("item_id")))
        parcels.append(Parcel(ref=number, tracking_number=number, items=items,
                              carrier=text(line.get("carrier_name")) or None,
                              tracking_url=text(line.get("cp_website_url")) or None,
                              events=events,
                              estimated_delivery_at=_moment_ms(line.get("eta_time_stamps"))))
    return parcels, []


# How one status of several AliExpress orders (one create, split by seller) colours the
# whole: the earliest stage wins, a hold or a missing payment before anything else.
_PRECEDENCE = (units.UNKNOWN, units.ON_HOLD, units.AWAITING_PAYMENT, units.RECEIVED,
               units.PROCESSING, units.SHIPPED)


def order_view(external_id: str, details: Sequence[OrderDetail],
               parcels: Sequence[Parcel]) -> SupplierOrderView:
    """One DropTrack supplier order for the AliExpress orders one create made: shipped only
    when every part is, cancelled only when every part is."""
    statuses = [units.CANCELLED if d.cancelled else d.unit.status for d in details]
    notes = "; ".join(dict.fromkeys(d.unit.note for d in details if d.unit.note))
    live = [status for status in statuses if status != units.CANCELLED]
    if not statuses:
        status = units.UNKNOWN
    elif not live:
        status, notes = units.CANCELLED, "cancelled at AliExpress"
    else:
        status = min(live, key=_PRECEDENCE.index)
        if status == units.RECEIVED and parcels:
            status = units.PROCESSING
    # A part still to be sent (SELLER_PART_SEND_GOODS, or another part not shipped yet)
    # keeps the order partly shipped however far its first parcels get.
    return SupplierOrderView(external_id=external_id, status=status, parcels=tuple(parcels),
                             note=notes,
                             all_lines_shipped=status == units.SHIPPED if parcels else None)


def join_ids(ids: Sequence[str]) -> str:
    """The supplier order's external id: AliExpress's order ids, comma-joined."""
    return ",".join(ids)


def split_ids(external_id: str) -> list[str]:
    return [part for part in external_id.split(",") if part.strip()]


def parse_supplier_sku(value: str) -> tuple[str, str]:
    """A mapping's supplier SKU for AliExpress: `product_id` or `product_id|sku_attr`."""
    product_id, _, sku_attr = value.strip().partition("|")
    return product_id.strip(), sku_attr.strip()
