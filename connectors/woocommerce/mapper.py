"""WooCommerce REST v3 order JSON (webhook bodies and polling) to a StoreOrder."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from connectors.parsing import (
    Problems,
    decimal,
    line_item_basics,
    optional_id,
    text,
    timestamp,
)
from core.domain import Address, OrderLine, Payment, StoreOrder

TRACKING_META_KEY = "_wc_shipment_tracking_items"  # where both tracking plugins keep items

PAYMENT_BY_STATUS = {
    "processing": Payment.PAID,
    "completed": Payment.PAID,
    "pending": Payment.AWAITING,
    "on-hold": Payment.AWAITING,
    "checkout-draft": Payment.AWAITING,
    "failed": Payment.FAILED,
    "cancelled": Payment.FAILED,
    "refunded": Payment.REFUNDED,
}


def parse_address(shipping: Any, billing: Any) -> Address:
    """The shipping address; WooCommerce leaves it empty when it equals the billing one."""
    source = shipping if isinstance(shipping, dict) and text(shipping.get("address_1")) else billing
    if not isinstance(source, dict):
        return Address()
    name = " ".join(part for part in (text(source.get("first_name")),
                                      text(source.get("last_name"))) if part)
    phone = text(source.get("phone")) or (
        text(billing.get("phone")) if isinstance(billing, dict) else "")
    return Address(
        name=name, company=text(source.get("company")), address1=text(source.get("address_1")),
        address2=text(source.get("address_2")), city=text(source.get("city")),
        province=text(source.get("state")), postcode=text(source.get("postcode")),
        country=text(source.get("country")).upper(), phone=phone,
    )


def parse_line(raw: Any, problems: Problems) -> OrderLine | None:
    basics = line_item_basics(raw, problems)
    if basics is None:
        return None
    data, line_id, quantity = basics
    return OrderLine(
        external_id=line_id, quantity=quantity,
        sku=text(data.get("sku")) or None,  # null when the product was deleted
        product_id=optional_id(data.get("product_id")),
        variant_id=optional_id(data.get("variation_id")),
        name=text(data.get("name")), price=decimal(data.get("price")),
    )


def parse_order(data: dict[str, Any]) -> tuple[StoreOrder | None, Problems]:
    problems = Problems()
    order_id = problems.require_str(data, "id")
    updated_at = timestamp(data.get("date_modified_gmt")) or timestamp(
        data.get("date_modified"))
    if updated_at is None:
        problems.append("date_modified_gmt: missing or not a timestamp")
    status = text(data.get("status")).lower()
    payment = PAYMENT_BY_STATUS.get(status, Payment.AWAITING)
    raw_lines = data.get("line_items")
    if not isinstance(raw_lines, list):
        problems.append("line_items: missing")
        raw_lines = []
    lines = tuple(line for item in raw_lines if (line := parse_line(item, problems)))
    if problems or updated_at is None:
        return None, problems
    raw_billing = data.get("billing")
    billing: dict[str, Any] = raw_billing if isinstance(raw_billing, dict) else {}
    shipping = parse_address(data.get("shipping"), billing)
    return StoreOrder(
        external_id=order_id, number=text(data.get("number")) or order_id,
        email=text(billing.get("email")), payment=payment, updated_at=updated_at,
        lines=lines, shipping_address=shipping, customer_name=shipping.name,
        # A trashed order is still readable (status "trash"): withdrawn like a cancelled one.
        cancelled=status in ("cancelled", "trash"), currency=text(data.get("currency")),
        total=decimal(data.get("total")),
        placed_at=timestamp(data.get("date_created_gmt")),
        store_status=status,
    ), problems


# --- write-back: tracking items, notes, batch answers ---------------------------------------


def parse_provider_names(data: Any) -> list[str]:
    """Provider names from the extension's providers list ({region: {name: url format}})."""
    names: list[str] = []
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict):
                names.extend(str(name) for name in value)
    return names


# DropTrack's carrier names (connectors/carriers/registry.py) as the tracking plugins list them
# (AST's carrier table; the official extension's list), where the names differ.
PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    "China Post / ePacket": ("China Post", "China EMS ( ePacket )", "ePacket"),
    "La Poste Colissimo": ("La Poste", "Colissimo", "La Poste Colissimo"),
    "Amazon Logistics": ("Amazon Shipping", "Amazon Logistics", "Amazon"),
    "DHL Express": ("DHL Express", "DHL"),
    "DHL eCommerce": ("DHL eCommerce", "DHL eCommerce Solutions", "DHL eCommerce US"),
    "Japan Post": ("Japan Post", "Japan Post (EN)"),
    "Singapore Post": ("Singapore Post", "SingPost"),
    "Postal service": (),
}


def _plain(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def known_provider(names: Iterable[str], *candidates: str | None) -> str | None:
    """The plugin's own spelling of the first candidate carrier it lists: the name itself,
    then DropTrack's aliases for it, compared without case, spaces or punctuation."""
    by_plain = {_plain(name): name for name in names if _plain(name)}
    for candidate in candidates:
        if not candidate:
            continue
        for spelling in (candidate, *PROVIDER_ALIASES.get(candidate.strip(), ())):
            if _plain(spelling) in by_plain:
                return by_plain[_plain(spelling)]
    return None


@dataclass(frozen=True)
class TrackingItem:
    tracking_id: str
    tracking_number: str
    date_shipped: str = ""  # Y-m-d as the REST API shows it


def parse_tracking_items(data: Any) -> tuple[list[TrackingItem], Problems]:
    problems = Problems()
    if not isinstance(data, list):
        problems.append("shipment-trackings: expected a list")
        return [], problems
    items = []
    for entry in data:
        if not isinstance(entry, dict) or not entry.get("tracking_id"):
            problems.append("shipment-trackings: an item without tracking_id")
            continue
        items.append(TrackingItem(str(entry["tracking_id"]), text(entry.get("tracking_number")),
                                  text(entry.get("date_shipped"))))
    return items, problems


def build_tracking_item(number: str, carrier: str, tracking_url: str, provider: str | None,
                        shipped_on: date | None) -> dict[str, str]:
    """A create request for the shipment-tracking routes: the plugin's provider, or custom."""
    body = {"tracking_number": number}
    if provider:
        body["tracking_provider"] = provider
    else:
        body["custom_tracking_provider"] = carrier or "Carrier"
        body["custom_tracking_link"] = tracking_url
    if shipped_on is not None:
        body["date_shipped"] = shipped_on.isoformat()
    return body


def fulfillment_numbers(data: Any) -> dict[str, str]:
    """tracking number -> fulfillment id, from `GET orders/<id>/fulfillments`."""
    found: dict[str, str] = {}
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, dict) or entry.get("id") is None:
            continue
        for meta in entry.get("meta_data") or []:
            if isinstance(meta, dict) and meta.get("key") == "_tracking_number":
                found[text(meta.get("value"))] = str(entry["id"])
    return found


def build_fulfillment(number: str, provider: str, tracking_url: str,
                      lines: Iterable[tuple[str, int]]) -> dict[str, Any]:
    """A create request for WooCommerce core's Order Fulfillments (documented API)."""
    items = [{"item_id": int(line_id), "qty": quantity} for line_id, quantity in lines
             if line_id.isdigit()]
    meta: list[dict[str, Any]] = [{"key": "_tracking_number", "value": number},
                                  {"key": "_shipping_provider", "value": provider},
                                  {"key": "_tracking_url", "value": tracking_url}]
    if items:
        meta.insert(0, {"key": "_items", "value": items})
    return {"status": "fulfilled", "is_fulfilled": True, "meta_data": meta}


def parse_customer_notes(data: Any) -> set[str]:
    """The texts of the customer notes an order already shows."""
    if not isinstance(data, list):
        return set()
    return {text(note.get("note")) for note in data
            if isinstance(note, dict) and note.get("customer_note")}


def parse_statuses(data: Any) -> dict[str, str]:
    """order id -> status, from a list read with `_fields=id,status`."""
    if not isinstance(data, list):
        return {}
    return {str(order["id"]): text(order.get("status")) for order in data
            if isinstance(order, dict) and order.get("id") is not None}


def parse_status_sights(data: Any) -> dict[str, tuple[str, datetime | None]]:
    """order id -> (status, the store's modification time), from orders read with
    `_fields=id,status,date_modified_gmt` or from the items of an orders/batch answer (an
    item with an error is left out)."""
    if not isinstance(data, list):
        return {}
    return {str(order["id"]): (text(order.get("status")),
                               timestamp(order.get("date_modified_gmt"))
                               or timestamp(order.get("date_modified")))
            for order in data
            if isinstance(order, dict) and order.get("id") is not None
            and not isinstance(order.get("error"), dict)}


def build_status_batch(statuses: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    return {"update": [{"id": int(order_id), "status": status}
                       for order_id, status in statuses.items()]}


def parse_batch_update(data: Any) -> tuple[dict[str, str], Problems]:
    """order id -> the status the store shows after an orders/batch call; a failed item is a
    problem, not an exception. The status is what the store did, which need not be what was
    asked (WooCommerce turns an unknown status into "pending" and answers 200)."""
    problems = Problems()
    raw = data.get("update") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        problems.append("orders/batch: the answer has no update list")
        return {}, problems
    done: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict):
            problems.append("orders/batch: an item is not an object")
            continue
        error = item.get("error")
        if isinstance(error, dict):
            problems.append(f"order {item.get('id')}: {text(error.get('message'))} "
                            f"({text(error.get('code'))})")
            continue
        done[str(item.get("id"))] = text(item.get("status"))
    return done, problems


def tracking_meta(data: Any) -> tuple[int, list[dict[str, Any]]] | None:
    """(meta id, raw items) of `_wc_shipment_tracking_items` in an order read with
    `_fields=meta_data`; None when the order has none."""
    meta = data.get("meta_data") if isinstance(data, dict) else None
    for entry in meta if isinstance(meta, list) else []:
        if (isinstance(entry, dict) and entry.get("key") == TRACKING_META_KEY
                and isinstance(entry.get("id"), int) and isinstance(entry.get("value"), list)):
            return entry["id"], [dict(item) for item in entry["value"] if isinstance(item, dict)]
    return None


def with_ship_date(items: list[dict[str, Any]], tracking_id: str,
                   shipped_on: date) -> list[dict[str, Any]] | None:
    """The raw items with `tracking_id`'s ship date set (noon UTC, so the day shows the same
    in every time zone); None when the item is not there."""
    moment = int(datetime.combine(shipped_on, time(12), tzinfo=UTC).timestamp())
    changed = None
    for item in items:
        if str(item.get("tracking_id")) == tracking_id:
            item["date_shipped"] = moment
            changed = items
    return changed
