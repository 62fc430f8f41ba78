"""Store order JSON to the domain order: real payloads from the platforms' docs and captures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.shopify.mapper import parse_order as parse_shopify
from connectors.woocommerce.mapper import parse_order as parse_woo
from core.domain import Payment


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_shopify_docs_sample(contracts_dir: Path) -> None:
    data = load(contracts_dir / "shopify/webhooks/docs_samples_2026-07/orders__create.json")
    order, problems = parse_shopify(data)
    assert problems == [] and order is not None
    assert order.external_id == str(data["id"])
    assert order.payment is Payment.FAILED  # the sample is voided
    assert order.shipping_address.country == "US"
    assert order.shipping_address.province == "KY"
    assert order.shipping_address.name == "Steve Shipper"
    assert order.updated_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert order.lines[0].sku == "SKU2006-001"
    assert order.lines[0].variant_id is None


def test_shopify_real_capture_paid_then_cancelled(contracts_dir: Path) -> None:
    base = contracts_dir / "shopify/webhooks/real_captures_activepieces"
    created, problems = parse_shopify(load(base / "orders__create.activepieces-test_2023-03.json"))
    assert problems == [] and created is not None
    cancelled, _ = parse_shopify(load(base / "orders__cancelled.activepieces-test_2023-03.json"))
    assert cancelled is not None
    assert cancelled.cancelled and cancelled.payment is Payment.REFUNDED


def shopify_order(**fields: Any) -> dict[str, Any]:
    return {"id": 1, "name": "#1001", "email": "a@example.com", "financial_status": "paid",
            "updated_at": "2026-11-26T10:00:00+01:00", "currency": "EUR", "total_price": "12.50",
            "line_items": [{"id": 11, "sku": "LAMP", "quantity": 2, "product_id": 5,
                            "variant_id": 6, "title": "Lamp", "price": "6.25"},
                           {"id": 12, "sku": "", "quantity": 1, "requires_shipping": False,
                            "title": "Gift card"}],
            "shipping_address": {"first_name": "A", "last_name": "B", "address1": "1 Main St",
                                 "city": "Paris", "zip": "75001", "country_code": "fr"},
            **fields}


def test_shopify_fields_and_unshippable_lines() -> None:
    order, problems = parse_shopify(shopify_order())
    assert problems == [] and order is not None
    assert order.updated_at == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert order.total == Decimal("12.50")
    assert [line.external_id for line in order.lines] == ["11"]
    assert order.lines[0].variant_id == "6"
    assert order.shipping_address.name == "A B"
    assert order.shipping_address.country == "FR"


def test_shopify_bad_payloads_are_reported_field_by_field() -> None:
    order, problems = parse_shopify(shopify_order(
        financial_status="mystery", updated_at="yesterday",
        line_items=[{"id": 1, "quantity": 0}, "junk"]))
    assert order is None
    assert "financial_status: unknown value 'mystery'" in problems
    assert "updated_at: missing or not an ISO 8601 timestamp with offset" in problems
    assert "line_items[1].quantity: must be a positive integer" in problems
    assert "line_items: each item must be an object" in problems
    assert parse_shopify({})[1][:1] == ["id: missing"]


def test_woocommerce_docs_example(contracts_dir: Path) -> None:
    data = load(contracts_dir / "woocommerce/rest_v3_docs_examples/orders__retrieve-an-order.json")
    order, problems = parse_woo(data)
    assert problems == [] and order is not None
    assert order.external_id == "727" and order.number == "727"
    assert order.payment is Payment.PAID
    assert order.email == "john.doe@example.com"
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert order.shipping_address.postcode == "94103"
    assert order.shipping_address.phone == "(555) 555-5555"
    assert len(order.lines) == len(data["line_items"])


def woo_order(**fields: Any) -> dict[str, Any]:
    return {"id": 727, "number": "727", "status": "processing",
            "date_modified_gmt": "2026-11-26T10:00:00",
            "billing": {"first_name": "J", "last_name": "D", "address_1": "969 Market",
                        "city": "San Francisco", "state": "CA", "postcode": "94103",
                        "country": "US", "email": "j@example.com"},
            "shipping": {"first_name": "", "address_1": ""},
            "line_items": [{"id": 315, "product_id": 93, "variation_id": 0, "quantity": 2,
                            "sku": None, "price": 9.5}], **fields}


def test_woocommerce_statuses_and_deleted_products() -> None:
    order, _ = parse_woo(woo_order())
    assert order is not None
    assert order.lines[0].sku is None and order.lines[0].product_id == "93"
    assert order.lines[0].variant_id is None
    assert order.shipping_address.city == "San Francisco"  # empty shipping: billing is used
    for status, payment in (("pending", Payment.AWAITING), ("on-hold", Payment.AWAITING),
                            ("failed", Payment.FAILED), ("refunded", Payment.REFUNDED),
                            ("ready-for-pickup", Payment.AWAITING)):
        parsed, _ = parse_woo(woo_order(status=status))
        assert parsed is not None and parsed.payment is payment, status
    cancelled, _ = parse_woo(woo_order(status="cancelled"))
    assert cancelled is not None and cancelled.cancelled


def test_woocommerce_bad_payload() -> None:
    order, problems = parse_woo(woo_order(date_modified_gmt=None, date_modified="bad",
                                          line_items="x"))
    assert order is None
    assert problems == ["date_modified_gmt: missing or not a timestamp", "line_items: missing"]
