"""The Shopify sandbox's compliance bodies have the shape of Shopify's own samples.

Real artefact: ../shared/contracts/shopify/webhooks/docs_samples_2026-07/ (customers__data_request,
customers__redact, shop__redact), the bodies Shopify's documentation publishes for these topics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandboxes.shopify.webhooks import compliance_payload

SAMPLES = (Path(__file__).resolve().parents[3] / "shared" / "contracts" / "shopify" / "webhooks"
           / "docs_samples_2026-07")


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


@pytest.mark.parametrize("topic", ["customers/data_request", "customers/redact", "shop/redact"])
def test_compliance_bodies_have_shopifys_shape(topic: str) -> None:
    sample = json.loads((SAMPLES / f"{topic.replace('/', '__')}.json").read_text())
    body = sample.get("body", sample)
    ours = compliance_payload(topic, 954889, "snowdevil.myshopify.com")
    assert sorted(ours) == sorted(body)
    for key in ("customer", "data_request"):
        if key in body:
            assert set(_shape(ours[key])) <= set(_shape(body[key])), key


def test_order_bodies_have_every_key_of_shopifys_sample() -> None:
    """orders/* deliveries carry the 93 top-level keys of the docs sample, and line items
    with product_id and variant_id (what supplier mappings match on)."""
    from core.clock import FrozenClock
    from sandboxes.shopify.state import SandboxState
    from sandboxes.shopify.webhooks import order_payload
    from tests.helpers.sandbox_shopify import SHOPIFY_SANDBOX_START

    sample = json.loads((SAMPLES / "orders__create.json").read_text())
    state = SandboxState(FrozenClock(SHOPIFY_SANDBOX_START), public_url="http://127.0.0.1")
    shop = state.create_shop("snowdevil")
    order = state.place_order(shop.domain, items=[
        {"title": "Case", "quantity": 2, "price": "9.99", "sku": "CASE-1"},
        {"title": "Case", "quantity": 1, "price": "9.99", "sku": "CASE-1"}])
    ours = order_payload(state, order)
    assert len(sample) == 93 and sorted(ours) == sorted(sample)
    assert sorted(ours["line_items"][0]) == sorted(sample["line_items"][0])
    assert sorted(ours["customer"]) == sorted(sample["customer"])
    first, second = ours["line_items"]
    assert first["product_id"] and first["variant_id"]
    assert (first["product_id"], first["variant_id"]) == (second["product_id"],
                                                          second["variant_id"])
    assert ours["customer"]["first_name"] == "Ada"
