"""WooCommerce REST v3 order JSON (webhook bodies and polling) to a StoreOrder."""

from __future__ import annotations

from typing import Any

from connectors.parsing import Problems, decimal, optional_id, positive_int, text, timestamp
from integration.domain import Address, OrderLine, Payment, StoreOrder

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


def parse_line(data: Any, problems: Problems) -> OrderLine | None:
    if not isinstance(data, dict):
        problems.append("line_items: each item must be an object")
        return None
    line_id = problems.require_str(data, "id", "line_items[].")
    quantity = positive_int(data.get("quantity"))
    if quantity is None:
        problems.append(f"line_items[{line_id}].quantity: must be a positive integer")
        return None
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
        cancelled=status == "cancelled", currency=text(data.get("currency")),
        total=decimal(data.get("total")),
        placed_at=timestamp(data.get("date_created_gmt")),
    ), problems
