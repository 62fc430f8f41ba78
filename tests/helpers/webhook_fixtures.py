"""Connected test stores and correctly signed deliveries, the way the platforms send them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from integration.accounts import stores
from integration.kernel.runtime import Runtime
from webhooks.signatures import hmac_sha256_base64

SHOP = "dropshop.myshopify.com"
SHOPIFY_SECRET = "shpss_test_client_secret"
WOO_URL = "https://woo.example"
WOO_SECRET = "woo webhook secret"


@dataclass(frozen=True)
class ConnectedStore:
    id: int
    secret: str


@pytest.fixture
def connected_shopify(runtime: Runtime) -> ConnectedStore:
    store_id = stores.add_shopify_store(runtime, SHOP, "shpat_test_token", SHOPIFY_SECRET)
    return ConnectedStore(store_id, SHOPIFY_SECRET)


@pytest.fixture
def connected_woo(runtime: Runtime) -> ConnectedStore:
    store_id = stores.add_woocommerce_store(runtime, WOO_URL, "ck_test", "cs_test", WOO_SECRET)
    return ConnectedStore(store_id, WOO_SECRET)


def shopify_headers(body: bytes, secret: str = SHOPIFY_SECRET, webhook_id: str = "wh-1",
                    topic: str = "orders/create", shop: str = SHOP) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": hmac_sha256_base64(secret.encode(), body),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Event-Id": "evt-1",
        "X-Shopify-Triggered-At": "2026-11-26T10:00:00.000Z",
    }


def woo_headers(body: bytes, secret: str = WOO_SECRET, topic: str = "order.updated",
                delivery_id: str = "1") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": WOO_URL + "/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": delivery_id,
        "X-WC-Webhook-Signature": hmac_sha256_base64(secret.encode(), body),
    }


def shopify_order_body(order_id: int = 820982911946154508, **fields: Any) -> bytes:
    order = {
        "id": order_id, "name": "#1001", "email": "jon@example.com",
        "financial_status": "paid", "updated_at": "2026-11-26T10:00:00-05:00",
        "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1, "title": "Lamp"}],
        **fields,
    }
    return json.dumps(order).encode()


def woo_order_body(order_id: int = 727, modified: str = "2026-11-26T10:00:00",
                   **fields: Any) -> bytes:
    order = {
        "id": order_id, "number": str(order_id), "status": "processing",
        "date_modified_gmt": modified, "billing": {"email": "jon@example.com"},
        "line_items": [{"id": 315, "sku": "SKU-1", "quantity": 2, "product_id": 93}],
        **fields,
    }
    return json.dumps(order).encode()
