"""Shopify's mandatory compliance topics: customers/data_request, customers/redact and
shop/redact, each audited.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PermanentError
from integration.accounts.audit import record_audit
from integration.engine import bindings
from integration.engine.orders import ORDER
from integration.jobs import alerts
from integration.storage.models import (
    Binding,
    Order,
    Shipment,
    Store,
)

COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
DATA_REQUEST_ALERT = "customer_data_request"


# ---------------------------------------------------------------------------- compliance
def handle_compliance(session: Session, store: Store, topic: str, body: bytes,
                      now: datetime) -> str:
    """customers/data_request for `store`; audited.
    Called by the inbox job (integration/sync/deliveries.py) for a stored delivery."""
    payload = _compliance_payload(body)
    if topic == "customers/data_request":
        return _data_request(session, store, payload, now)
    # customers/redact and shop/redact run as batched jobs: integration/engine/redaction.py
    raise PermanentError(f"not a compliance topic handled here: {topic}")


def _customer_orders(session: Session, store: Store, payload: dict[str, Any],
                     order_ids_key: str) -> list[Order]:
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    email = str((customer or {}).get("email") or "").strip().lower()
    external_ids = [str(i) for i in payload.get(order_ids_key) or []]
    internal = set(session.scalars(select(Binding.internal_id).where(
        Binding.owner_type == bindings.STORE, Binding.owner_id == store.id,
        Binding.kind == ORDER, Binding.external_id.in_(external_ids)))) if external_ids else set()
    query = select(Order).where(Order.store_id == store.id)
    orders = [order for order in session.scalars(query)
              if order.id in internal or (email and order.email.strip().lower() == email)]
    return sorted(orders, key=lambda order: order.id)


def _export(session: Session, order: Order) -> dict[str, Any]:
    shipments = session.scalars(select(Shipment).where(Shipment.order_id == order.id))
    return {
        "order": order.number, "email": order.email, "name": order.customer_name,
        "shipping_address": {
            "name": order.ship_name, "company": order.ship_company,
            "address1": order.ship_address1, "address2": order.ship_address2,
            "city": order.ship_city, "province": order.ship_province, "zip": order.ship_zip,
            "country": order.ship_country, "phone": order.ship_phone},
        "lines": [{"sku": line.sku, "name": line.name, "quantity": line.quantity}
                  for line in order.lines],
        "shipments": [{"carrier": s.carrier, "tracking_number": s.tracking_number,
                       "status": s.status} for s in shipments],
    }


def _data_request(session: Session, store: Store, payload: dict[str, Any],
                  now: datetime) -> str:
    orders = _customer_orders(session, store, payload, "orders_requested")
    request = payload.get("data_request") if isinstance(payload.get("data_request"), dict) \
        else {}
    request_id = str((request or {}).get("id") or now.isoformat())
    export = {"shop": store.domain, "requested_at": now.isoformat(),
              "orders": [_export(session, order) for order in orders]}
    record_audit(session, now, "shopify", "compliance.customer_data_request",
                 store_id=store.id, subject=f"data_request:{request_id}",
                 details={"export": export})
    alerts.raise_alert(session, DATA_REQUEST_ALERT, f"{store.id}:{request_id}", (
        f"A customer asked Shopify for the data DropTrack holds about them (request "
        f"{request_id}): {len(orders)} order(s). The export is in the audit log entry "
        f"compliance.customer_data_request; send it to the customer within 30 days."),
        now, store_id=store.id)
    return "processed"


def _compliance_payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise PermanentError("compliance payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise PermanentError("compliance payload is not an object")
    return payload
