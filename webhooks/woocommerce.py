"""POST /webhooks/woocommerce/<store_id>: deliveries (and pings) from one WooCommerce store."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from typing import Any

from integration.accounts import stores
from integration.jobs import inbox
from webhooks.intake import (
    Answer,
    Incoming,
    Intake,
    Rejected,
    parse_json_object,
    unauthorized,
)
from webhooks.signatures import verify_base64_hmac
from webhooks.store_secrets import verified_store

log = logging.getLogger("droptrack.webhooks")

SOURCE = "woocommerce"
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
_PING_BODY = re.compile(rb"webhook_id=\d+")
DELETED_ORDER_CODE = "woocommerce_rest_shop_order_invalid_id"


def receive(intake: Intake, incoming: Incoming, store_id: int) -> Answer:
    body = incoming.body(intake.max_body_bytes)
    key = (stores.WOOCOMMERCE, store_id)
    load = intake.signer_loader(
        lambda session: stores.find_store(session, stores.WOOCOMMERCE, store_id))
    if _is_ping(incoming, body):
        # WooCommerce sends an unsigned ping when a webhook is created: nothing to store.
        if intake.secrets.get(key, load) is None:
            raise unauthorized(f"ping for unknown store {store_id}")
        log.info("woocommerce webhook ping for store %d answered", store_id)
        return Answer(200, {"status": "pong"})
    headers = incoming.require_headers((SIGNATURE_HEADER, TOPIC_HEADER))
    if verified_store(intake.secrets, key, load,
                      lambda secrets: verify_base64_hmac(body, headers[SIGNATURE_HEADER],
                                                         secrets)) is None:
        raise unauthorized(f"unknown store {store_id} or bad signature")
    payload = parse_json_object(body)
    topic = headers[TOPIC_HEADER]
    return intake.persist(inbox.Delivery(
        source=stores.WOOCOMMERCE, store_id=store_id, topic=topic,
        dedupe_key=f"{store_id}:{dedupe_suffix(topic, payload, body)}",
        headers=incoming.kept_headers("x-wc-webhook-", [SIGNATURE_HEADER]), body=body,
    ))


def _is_ping(incoming: Incoming, body: bytes) -> bool:
    return (not incoming.has_header(SIGNATURE_HEADER)
            and bool(_PING_BODY.fullmatch(body.strip())))


def dedupe_suffix(topic: str, payload: dict[str, Any], body: bytes) -> str:
    """WooCommerce's delivery id is not unique: an order's state is (id, date_modified)."""
    resource, _, event = topic.partition(".")
    object_id = payload.get("id")
    if resource == "order" and payload.get("code") == DELETED_ORDER_CODE and object_id is None:
        # The order was deleted before WooCommerce built this delivery: the body is the REST
        # error. Acknowledged (a refusal counts towards disabling the webhook); processing
        # finds the deleted order and withdraws it. Every such body is the same, whichever
        # order it was, so each delivery is kept (handling one twice changes nothing).
        return f"order:deleted-before-delivery:{secrets.token_hex(12)}"
    if resource == "order":
        if not isinstance(object_id, int | str) or object_id == "":
            raise Rejected(400, "order body without an id", "order body without id")
        if event == "deleted":
            return f"order:{object_id}:deleted"
        modified = payload.get("date_modified_gmt") or payload.get("date_modified")
        if not isinstance(modified, str) or not modified:
            raise Rejected(400, "order body without date_modified",
                           "order body without date_modified")
        return f"order:{object_id}:{modified}"
    return f"{topic}:{hashlib.sha256(body).hexdigest()}"
