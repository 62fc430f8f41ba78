"""POST /webhooks/shopify: deliveries for every connected Shopify store."""

from __future__ import annotations

from connectors.shopify.webhook_shapes import shape_problem
from integration.accounts import stores
from integration.jobs import inbox
from webhooks.intake import Answer, Incoming, Intake, Rejected, parse_json_object, unauthorized
from webhooks.signatures import verify_base64_hmac
from webhooks.store_secrets import verified_store

SOURCE = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
REQUIRED_HEADERS = (HMAC_HEADER, "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id")


def receive(intake: Intake, incoming: Incoming) -> Answer:
    body = incoming.body(intake.max_body_bytes)
    headers = incoming.require_headers(REQUIRED_HEADERS)
    shop = headers["X-Shopify-Shop-Domain"].strip().lower()
    store = verified_store(
        intake.secrets, (stores.SHOPIFY, shop),
        intake.signer_loader(lambda session: stores.find_shopify_store(session, shop)),
        lambda secrets: verify_base64_hmac(body, headers[HMAC_HEADER], secrets))
    if store is None:
        raise unauthorized(f"unknown shop {shop!r} or bad signature")
    topic = headers["X-Shopify-Topic"]
    problem = shape_problem(topic, shop, parse_json_object(body))
    if problem is not None:
        # Signed, but not what the headers say it is (a replay under another topic or shop).
        raise Rejected(400, "the body does not fit the topic",
                       f"{topic!r} for {shop!r}: {problem}")
    return intake.persist(inbox.Delivery(
        source=stores.SHOPIFY, store_id=store.store_id, topic=topic,
        dedupe_key=f"{store.store_id}:{headers['X-Shopify-Webhook-Id']}",
        headers=incoming.kept_headers("x-shopify-", [HMAC_HEADER]), body=body,
    ))
