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
    secret_cache,
    signer_loader,
    unauthorized,
)
from webhooks.signatures import verify_base64_hmac
from webhooks.store_secrets import verified_store

blueprint = Blueprint("shopify_webhooks", __name__)
handle_rejections(blueprint, "shopify")

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
REQUIRED_HEADERS = (HMAC_HEADER, "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id")


@blueprint.post("/webhooks/shopify")
def receive() -> ResponseReturnValue:
    body = read_body(request)
    headers = require_headers(request, REQUIRED_HEADERS)
    shop = headers["X-Shopify-Shop-Domain"].strip().lower()
    store = verified_store(
        secret_cache(), (stores.SHOPIFY, shop),
        signer_loader(lambda session: stores.find_shopify_store(session, shop)),
        lambda secrets: verify_base64_hmac(body, headers[HMAC_HEADER], secrets))
    if store is None:
        raise unauthorized(f"unknown shop {shop!r} or bad signature")
    parse_json_object(body)
    return persist(inbox.Delivery(
        source=stores.SHOPIFY, store_id=store.store_id, topic=headers["X-Shopify-Topic"],
        dedupe_key=f"{store.store_id}:{headers['X-Shopify-Webhook-Id']}",
        headers=kept_headers(request, "x-shopify-", [HMAC_HEADER]), body=body,
    ))
