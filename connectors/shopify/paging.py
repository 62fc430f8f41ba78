"""The rest of a connection Shopify answered on several pages, read into the first page.

Order reads ask for the first lines and fulfillment orders with the order itself (one call for
almost every order); when `pageInfo.hasNextPage` says there are more, the rest is read with a
page operation and appended, so no order is acted on with lines missing. A page that does not
come (no connection in the answer) leaves `hasNextPage` true: the mapper then reports the
order as a problem rather than acting on part of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.shopify import graphql as ops
from connectors.shopify.client import ShopifyClient
from connectors.shopify.mapper import has_next_page

MAX_PAGES = 50
"""A safety stop: 50 pages of 100 lines is beyond any real order."""


def _dig(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def complete(client: ShopifyClient, connection: Any, operation: ops.Operation, owner_id: str,
             path: Sequence[str]) -> None:
    """Append the remaining pages of `connection` (in place), read with `operation`
    ({id, after}) whose answer holds the next page at `path`."""
    for _ in range(MAX_PAGES):
        if not has_next_page(connection):
            return
        cursor = connection["pageInfo"].get("endCursor")
        page = _dig(client.execute(operation, {"id": owner_id, "after": cursor}), path)
        if not isinstance(page, dict) or not isinstance(page.get("nodes"), list):
            return
        connection.setdefault("nodes", []).extend(page["nodes"])
        connection["pageInfo"] = page.get("pageInfo") or {"hasNextPage": False}


def complete_order_lines(client: ShopifyClient, order: dict[str, Any]) -> dict[str, Any]:
    """An order node (ORDER_FIELDS) with every line item."""
    if order.get("id"):
        complete(client, order.get("lineItems"), ops.ORDER_LINES_PAGE, str(order["id"]),
                 ("order", "lineItems"))
    return order


def complete_fulfillment_orders(client: ShopifyClient, order: dict[str, Any]) -> dict[str, Any]:
    """An ORDER_FULFILLMENTS order with every fulfillment order and every line of each."""
    fulfillment_orders = order.get("fulfillmentOrders")
    complete(client, fulfillment_orders, ops.ORDER_FULFILLMENT_ORDERS_PAGE, str(order["id"]),
             ("order", "fulfillmentOrders"))
    for fo in (fulfillment_orders or {}).get("nodes") or []:
        if isinstance(fo, dict) and fo.get("id"):
            complete(client, fo.get("lineItems"), ops.FULFILLMENT_ORDER_LINES_PAGE,
                     str(fo["id"]), ("fulfillmentOrder", "lineItems"))
    return order


def incomplete(order: dict[str, Any]) -> bool:
    """Some fulfillment order or its lines are still on a page that was not read."""
    fulfillment_orders = order.get("fulfillmentOrders")
    return has_next_page(fulfillment_orders) or any(
        has_next_page(fo.get("lineItems")) for fo in (fulfillment_orders or {}).get("nodes") or []
        if isinstance(fo, dict))
