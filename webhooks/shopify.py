"""POST /webhooks/shopify: deliveries for every connected Shopify store."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from integration import inbox, stores
from webhooks.intake import (
    handle_rejections,
    kept_headers,
    parse_json_object,
    persist,
    read_body,
    require_headers,
    runtime,
    unauthorized,
)
from webhooks.signatures import verify_base64_hmac

blueprint = Blueprint("shopify_webhooks", __name__)
handle_rejections(blueprint, "shopify")

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
REQUIRED_HEADERS = (HMAC_HEADER, "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id")


@blueprint.post("/webhooks/shopify")
def receive() -> ResponseReturnValue:
    body = read_body(request)
    headers = require_headers(request, REQUIRED_HEADERS)
    rt = runtime()
    with rt.db.read() as session:
        store = stores.find_shopify_store(session, headers["X-Shopify-Shop-Domain"])
        secrets = stores.webhook_secrets(rt, store) if store is not None else []
    if store is None:
        raise unauthorized(f"unknown shop {headers['X-Shopify-Shop-Domain']!r}")
    if not verify_base64_hmac(body, headers[HMAC_HEADER], secrets):
        raise unauthorized(f"bad signature for store {store.id}")
    parse_json_object(body)
    return persist(inbox.Delivery(
        source=stores.SHOPIFY, store_id=store.id, topic=headers["X-Shopify-Topic"],
        dedupe_key=f"{store.id}:{headers['X-Shopify-Webhook-Id']}",
        headers=kept_headers(request, "x-shopify-", [HMAC_HEADER]), body=body,
    ))
