"""Fulfillment-service mode: DropTrack as a Shopify fulfillment service.

Shopify routes fulfillment orders to the location of the service DropTrack registered, the
merchant (or Shopify's routing) requests fulfillment, Shopify pings
`<callbackUrl>/fulfillment_order_notification`, and DropTrack lists the requested fulfillment
orders, accepting or rejecting each. Accepted ones are fulfilled later exactly like
merchant-managed ones (connector.py: `fulfillmentCreate` on the order's open fulfillment orders).

HTTP goes through ShopifyClient; what to accept is decided by the caller (the engine knows
whether a supplier is mapped and whether the order is paid).
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.shopify import graphql as ops
from connectors.shopify import paging
from connectors.shopify.client import ShopifyClient, user_errors
from connectors.shopify.mapper import parse_graphql_order
from connectors.shopify.settings import FULFILLMENT_SERVICE_NAME
from core.domain import StoreOrder
from core.errors import PermanentError

# FulfillmentOrderRejectionReason values DropTrack uses.
REJECT_INELIGIBLE_PRODUCT = "INELIGIBLE_PRODUCT"  # no supplier mapped for a line
REJECT_PAYMENT_DECLINED = "PAYMENT_DECLINED"
REJECT_OTHER = "OTHER"


@dataclass(frozen=True)
class Registration:
    service_id: str
    location_id: str
    callback_url: str
    created: bool


@dataclass(frozen=True)
class FulfillmentRequest:
    """One fulfillment order Shopify asks DropTrack to fulfil, with its order as the engine
    reads it (None when the order could not be mapped: `problems` says why)."""

    fulfillment_order_id: str
    order_name: str
    order: StoreOrder | None
    problems: tuple[str, ...] = ()


def _registration(node: object, created: bool) -> Registration | None:
    if not isinstance(node, dict) or not node.get("id"):
        return None
    location = node.get("location") if isinstance(node.get("location"), dict) else {}
    return Registration(str(node["id"]), str((location or {}).get("id") or ""),
                        str(node.get("callbackUrl") or ""), created)


def find_service(client: ShopifyClient, name: str = FULFILLMENT_SERVICE_NAME
                 ) -> Registration | None:
    data = client.execute(ops.FULFILLMENT_SERVICES)
    services = (data.get("shop") or {}).get("fulfillmentServices") or []
    for node in services:
        if isinstance(node, dict) and str(node.get("serviceName", "")).lower() == name.lower():
            return _registration(node, created=False)
    return None


def ensure_service(client: ShopifyClient, callback_url: str,
                   name: str = FULFILLMENT_SERVICE_NAME) -> Registration:
    """The store's DropTrack fulfillment service, registered with `callback_url` unless it
    already is (a retried job never registers a second one)."""
    existing = find_service(client, name)
    if existing is not None:
        if existing.callback_url.rstrip("/") != callback_url.rstrip("/"):
            raise PermanentError(
                f"{client.domain}: a fulfillment service named {name!r} already exists with "
                f"callback {existing.callback_url or '(none)'}, not {callback_url}; delete it "
                "in Shopify (Settings > Locations) or point it at DropTrack")
        return existing
    data = client.execute(ops.FULFILLMENT_SERVICE_CREATE, {"name": name,
                                                            "callbackUrl": callback_url})
    payload = data.get("fulfillmentServiceCreate")
    errors = user_errors(payload)
    if errors:
        raise PermanentError(f"{client.domain}: Shopify refused the fulfillment service: "
                             + "; ".join(errors))
    created = _registration((payload or {}).get("fulfillmentService"), created=True)
    if created is None:
        raise PermanentError(f"{client.domain}: Shopify returned no fulfillment service")
    return created


def requested_fulfillment_orders(client: ShopifyClient) -> list[FulfillmentRequest]:
    """Every fulfillment order assigned to DropTrack's locations whose fulfillment is
    requested (and not yet accepted or rejected)."""
    found: list[FulfillmentRequest] = []
    cursor: str | None = None
    while True:
        data = client.execute(ops.REQUESTED_FULFILLMENT_ORDERS, {"after": cursor})
        connection = data.get("assignedFulfillmentOrders") or {}
        for node in connection.get("nodes") or []:
            if not isinstance(node, dict) or not node.get("id"):
                continue
            order_node = node.get("order") if isinstance(node.get("order"), dict) else None
            if order_node is None:
                found.append(FulfillmentRequest(str(node["id"]), "", None,
                                                ("no order in the answer",)))
                continue
            order, problems = parse_graphql_order(paging.complete_order_lines(client,
                                                                              order_node))
            found.append(FulfillmentRequest(str(node["id"]), str(order_node.get("name") or ""),
                                            order, tuple(problems)))
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return found
        cursor = page.get("endCursor")


def accept(client: ShopifyClient, fulfillment_order_id: str, message: str) -> list[str]:
    """Accept the request; the userErrors (e.g. it was accepted meanwhile), [] when done."""
    data = client.execute(ops.ACCEPT_FULFILLMENT_REQUEST, {"id": fulfillment_order_id,
                                                            "message": message})
    return _errors(data.get("fulfillmentOrderAcceptFulfillmentRequest"))


def reject(client: ShopifyClient, fulfillment_order_id: str, reason: str,
           message: str) -> list[str]:
    """Reject the request with a FulfillmentOrderRejectionReason and a message the merchant
    reads in Shopify; the userErrors, [] when done."""
    data = client.execute(ops.REJECT_FULFILLMENT_REQUEST, {
        "id": fulfillment_order_id, "reason": reason, "message": message})
    return _errors(data.get("fulfillmentOrderRejectFulfillmentRequest"))


def _errors(payload: object) -> list[str]:
    return user_errors(payload) if payload is not None else ["no payload in the answer"]
