"""Shopify order JSON (webhook bodies: the REST Order representation) to a StoreOrder."""

from __future__ import annotations

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

PAYMENT_BY_FINANCIAL_STATUS = {
    "paid": Payment.PAID,
    "authorized": Payment.PAID,
    "partially_refunded": Payment.PAID,
    "pending": Payment.AWAITING,
    "partially_paid": Payment.AWAITING,
    "expired": Payment.FAILED,
    "voided": Payment.FAILED,
    "refunded": Payment.REFUNDED,
}


def parse_address(data: Any) -> Address:
    if not isinstance(data, dict):
        return Address()
    name = text(data.get("name")) or " ".join(
        part for part in (text(data.get("first_name")), text(data.get("last_name"))) if part)
    return Address(
        name=name, company=text(data.get("company")), address1=text(data.get("address1")),
        address2=text(data.get("address2")), city=text(data.get("city")),
        province=text(data.get("province_code")) or text(data.get("province")),
        postcode=text(data.get("zip")), country=text(data.get("country_code")).upper(),
        phone=text(data.get("phone")),
    )


def parse_line(raw: Any, problems: Problems) -> OrderLine | None:
    basics = line_item_basics(raw, problems)
    if basics is None:
        return None
    data, line_id, quantity = basics
    return OrderLine(
        external_id=line_id, quantity=quantity, sku=text(data.get("sku")) or None,
        product_id=optional_id(data.get("product_id")),
        variant_id=optional_id(data.get("variant_id")),
        name=text(data.get("name")) or text(data.get("title")), price=decimal(data.get("price")),
    )


def parse_order(data: dict[str, Any]) -> tuple[StoreOrder | None, Problems]:
    problems = Problems()
    order_id = problems.require_str(data, "id")
    updated_at = timestamp(data.get("updated_at"), naive_is_utc=False)
    if updated_at is None:
        problems.append("updated_at: missing or not an ISO 8601 timestamp with offset")
    financial = text(data.get("financial_status")).lower()
    payment = PAYMENT_BY_FINANCIAL_STATUS.get(financial)
    if payment is None:
        problems.append(f"financial_status: unknown value {financial!r}")
    raw_lines = data.get("line_items")
    if not isinstance(raw_lines, list):
        problems.append("line_items: missing")
        raw_lines = []
    lines = [line for item in raw_lines if (line := parse_line(item, problems)) is not None]
    # Lines that need no shipping (gift cards, services) never go to a supplier.
    shippable = tuple(
        line for line, item in zip(lines, raw_lines, strict=False)
        if not (isinstance(item, dict) and item.get("requires_shipping") is False)
    )
    if problems or updated_at is None or payment is None:
        return None, problems
    shipping = parse_address(data.get("shipping_address"))
    raw_customer = data.get("customer")
    customer: dict[str, Any] = raw_customer if isinstance(raw_customer, dict) else {}
    customer_name = " ".join(part for part in (
        text(customer.get("first_name")), text(customer.get("last_name"))) if part)
    return StoreOrder(
        external_id=order_id,
        number=text(data.get("name")) or f"#{text(data.get('order_number'))}",
        email=text(data.get("email")) or text(data.get("contact_email")),
        payment=payment, updated_at=updated_at, lines=shippable,
        shipping_address=shipping, customer_name=customer_name or shipping.name,
        cancelled=bool(data.get("cancelled_at")), currency=text(data.get("currency")),
        total=decimal(data.get("total_price")),
        placed_at=timestamp(data.get("created_at"), naive_is_utc=False),
    ), problems


# --- GraphQL Admin API (reconciliation reads) ----------------------------------------------

def _money(data: Any) -> Any:
    shop_money = data.get("shopMoney") if isinstance(data, dict) else None
    return shop_money.get("amount") if isinstance(shop_money, dict) else None


def _graphql_address(data: Any) -> dict[str, Any]:
    """A GraphQL MailingAddress in the REST field names `parse_address` reads."""
    if not isinstance(data, dict):
        return {}
    return {"name": data.get("name"), "first_name": data.get("firstName"),
            "last_name": data.get("lastName"), "company": data.get("company"),
            "address1": data.get("address1"), "address2": data.get("address2"),
            "city": data.get("city"), "province": data.get("province"),
            "province_code": data.get("provinceCode"), "zip": data.get("zip"),
            "country_code": data.get("countryCodeV2"), "phone": data.get("phone")}


def _legacy(value: Any) -> Any:
    """`gid://shopify/ProductVariant/7?foo=1` -> `7` (the id webhooks carry)."""
    return value.rsplit("/", 1)[-1].split("?", 1)[0] \
        if isinstance(value, str) and value.startswith("gid://") else value


def _id_of(data: Any) -> Any:
    return data.get("id") if isinstance(data, dict) else None


def has_next_page(connection: Any) -> bool:
    page = connection.get("pageInfo") if isinstance(connection, dict) else None
    return isinstance(page, dict) and bool(page.get("hasNextPage"))


def parse_graphql_order(node: dict[str, Any]) -> tuple[StoreOrder | None, Problems]:
    """An `Order` node of the GraphQL Admin API to the same StoreOrder as its webhook would give
    (same external ids: the numeric ids webhooks carry)."""
    lines_connection = node.get("lineItems")
    raw_lines = lines_connection.get("nodes") if isinstance(lines_connection, dict) else None
    if has_next_page(lines_connection):  # never act on part of an order
        problems = Problems()
        problems.append("line_items: more lines than one page and the rest were not read")
        return None, problems
    raw_customer = node.get("customer")
    customer: dict[str, Any] = raw_customer if isinstance(raw_customer, dict) else {}
    status = node.get("displayFinancialStatus")
    rest: dict[str, Any] = {
        "id": node.get("legacyResourceId") or _legacy(node.get("id")),
        "name": node.get("name"), "email": node.get("email"),
        "created_at": node.get("createdAt"), "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"), "currency": node.get("currencyCode"),
        "financial_status": status.lower() if isinstance(status, str) else status,
        "total_price": _money(node.get("totalPriceSet")),
        "shipping_address": _graphql_address(node.get("shippingAddress")),
        "customer": {"first_name": customer.get("firstName"),
                     "last_name": customer.get("lastName")},
        "line_items": None if not isinstance(raw_lines, list) else [
            {"id": _legacy(item.get("id")), "sku": item.get("sku"), "name": item.get("name"),
             "quantity": item.get("quantity"), "requires_shipping": item.get("requiresShipping"),
             "price": _money(item.get("originalUnitPriceSet")),
             "product_id": _legacy(_id_of(item.get("product"))),
             "variant_id": _legacy(_id_of(item.get("variant")))}
            if isinstance(item, dict) else item for item in raw_lines],
    }
    return parse_order(rest)
