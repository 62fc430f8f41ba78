"""Shopify's customers/redact and shop/redact, handed to the redaction job
(integration/engine/redaction.py), which erases in batches outside the inbox transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from core.errors import PermanentError
from integration.accounts import stores
from integration.engine import redaction
from integration.storage.models import InboxDelivery, Store
from integration.sync.shopify.compliance import COMPLIANCE_TOPICS

CUSTOMER_REDACT, SHOP_REDACT = "customers/redact", "shop/redact"
REDACTION_TOPICS = frozenset({CUSTOMER_REDACT, SHOP_REDACT})


def read_customer_request(body: bytes) -> redaction.CustomerRequest:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PermanentError("customers/redact payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise PermanentError("customers/redact payload is not an object")
    raw_customer = payload.get("customer")
    customer: dict[str, Any] = raw_customer if isinstance(raw_customer, dict) else {}
    orders = payload.get("orders_to_redact")
    ids = tuple(str(i) for i in orders if isinstance(i, int | str) and not isinstance(i, bool)
                ) if isinstance(orders, list) else ()
    email = customer.get("email")
    return redaction.CustomerRequest(
        customer_ref=str(customer.get("id") or ""),
        email=email.strip().lower() if isinstance(email, str) else "",
        external_order_ids=ids)


redaction.register_platform(stores.SHOPIFY, redaction.PlatformRequests(
    read=read_customer_request, request_topics=COMPLIANCE_TOPICS))


def queue(session: Session, store: Store, delivery: InboxDelivery) -> str:
    what = redaction.SHOP if delivery.topic == SHOP_REDACT else redaction.CUSTOMER
    redaction.queue(session, store, what, delivery.id, delivery.received_at)
    return "processed"
