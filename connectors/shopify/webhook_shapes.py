"""Does a signed Shopify delivery's body fit the topic and shop its headers name?

Shopify's HMAC covers the body only, and every shop of one app shares the signing secret:
the `X-Shopify-Topic` and `X-Shopify-Shop-Domain` headers are the sender's word. A captured
delivery could be re-sent under another topic (an order body as `shop/redact`) or for another
shop. What the body itself says must therefore agree with the headers: compliance bodies name
their shop (`shop_domain`), the `app/uninstalled` body is the shop (`myshopify_domain`), and
each topic's body has a shape no other topic's body has. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/updated", "orders/cancelled"})
UNINSTALLED = "app/uninstalled"
DATA_REQUEST, CUSTOMER_REDACT, SHOP_REDACT = (
    "customers/data_request", "customers/redact", "shop/redact")
# Keys that only the shop object or compliance bodies carry, never an order. (An order body
# that is merely incomplete is stored: the inbox job records its problems where the owner
# sees them.)
_NOT_IN_ORDERS = ("shop_domain", "myshopify_domain", "shop_owner", "orders_to_redact",
                  "orders_requested", "data_request")


def _same_shop(value: object, shop: str) -> bool:
    return isinstance(value, str) and value.strip().lower() == shop.strip().lower()


def _order(payload: dict[str, Any], shop: str) -> str | None:
    if not isinstance(payload.get("id"), int | str) or isinstance(payload.get("id"), bool):
        return "an order body needs an id"
    foreign = [key for key in _NOT_IN_ORDERS if key in payload]
    if foreign:
        return f"not an order body (it has {', '.join(foreign)})"
    return None


def _uninstalled(payload: dict[str, Any], shop: str) -> str | None:
    # Shopify's own documentation sample leaves the domain null; Shopify is asked anyway
    # before an uninstall is acted on (integration/sync/shopify/uninstall_check.py).
    named = payload.get("myshopify_domain")
    if "id" not in payload or (named is not None and not _same_shop(named, shop)):
        return "the shop in the body is not the shop in the headers"
    if "line_items" in payload or "shop_domain" in payload:
        return "not a shop body"
    return None


def _compliance(required_lists: tuple[str, ...], customer: bool,
                absent: tuple[str, ...]) -> Callable[[dict[str, Any], str], str | None]:
    def check(payload: dict[str, Any], shop: str) -> str | None:
        if not _same_shop(payload.get("shop_domain"), shop):
            return "the shop_domain in the body is not the shop in the headers"
        if customer != isinstance(payload.get("customer"), dict):
            return "a customer object is " + ("missing" if customer else "not expected")
        for key in required_lists:
            if not isinstance(payload.get(key), list):
                return f"{key} is missing"
        present = [key for key in absent if key in payload]
        if present:
            return f"{', '.join(present)} does not belong to this topic"
        return None

    return check


_CHECKS: dict[str, Callable[[dict[str, Any], str], str | None]] = {
    **dict.fromkeys(ORDER_TOPICS, _order),
    UNINSTALLED: _uninstalled,
    DATA_REQUEST: _compliance(("orders_requested",), True, ("orders_to_redact", "line_items")),
    CUSTOMER_REDACT: _compliance(("orders_to_redact",), True,
                                 ("orders_requested", "data_request", "line_items")),
    SHOP_REDACT: _compliance((), False, ("orders_to_redact", "orders_requested",
                                         "data_request", "line_items")),
}


def shape_problem(topic: str, shop: str, payload: dict[str, Any]) -> str | None:
    """Why the body does not fit `topic` for `shop`, or None when it does. Topics DropTrack
    does not act on are not checked (their deliveries are stored and ignored)."""
    check = _CHECKS.get(topic)
    return None if check is None else check(payload, shop)
