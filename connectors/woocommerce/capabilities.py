"""What a WooCommerce store can show the customer, probed per store.

- `GET /wp-json/?_fields=namespaces` (a few hundred bytes; the whole index is over a megabyte):
  a shipment-tracking namespace (the official extension, or Advanced Shipment Tracking, which
  serves the same routes and adds `wc-ast/v3`); otherwise customer notes only; `wc/v3` must be
  there at all.
- `GET wc/v3/reports/orders/totals`: the order statuses the store has registered right now.
  A plugin's status (AST's "partial-shipped") is used only when it is listed: AST installs it
  switched off, and `orders/batch` turns an unknown status into "pending" without an error.
- `GET wc/v3/orders/0/fulfillments`: WooCommerce core's Order Fulfillments (beta since 2025-09)
  exist only while the feature is on; off, the route is missing (`rest_no_route`).
- The providers list from the route the plugin serves (`orders/<id>/shipment-trackings/
  providers`; AST has no order-independent one).

The result is cached per store (in its settings) and probed again when a cached plugin route
has gone (`rest_no_route`), when a batch showed the statuses changed, or the health sweep runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.woocommerce.client import WC_V3, NotFound, WooCommerceClient
from connectors.woocommerce.mapper import parse_provider_names
from connectors.woocommerce.units import PARTIAL_SHIPPED

TRACKING_NAMESPACE = "wc-shipment-tracking/v3"
AST_NAMESPACE = "wc-ast/v3"
# Any order id will do: the plugins list their providers whatever the order.
PROVIDERS_ROUTE = "orders/0/shipment-trackings/providers"
LEGACY_PROVIDERS_ROUTE = "shipment-trackings/providers"


class RestApiMissing(Exception):
    """The site answers, but not as a WooCommerce REST API; the message says why."""


@dataclass(frozen=True)
class Capabilities:
    tracking: bool = False  # the shipment-tracking routes exist
    ast: bool = False  # ...served by Advanced Shipment Tracking
    providers: tuple[str, ...] = field(default=())  # provider names as the plugin knows them
    statuses: tuple[str, ...] = field(default=())  # order statuses registered in the store
    fulfillments: bool = False  # WooCommerce core's Order Fulfillments routes are on

    def to_settings(self) -> dict[str, Any]:
        return {"tracking": self.tracking, "ast": self.ast, "providers": list(self.providers),
                "statuses": list(self.statuses), "fulfillments": self.fulfillments}

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> Capabilities | None:
        """The cached probe; None (probe again) when absent or from before statuses were
        probed."""
        if "tracking" not in data or not isinstance(data.get("statuses"), list):
            return None
        providers = data.get("providers")
        return cls(tracking=bool(data["tracking"]), ast=bool(data.get("ast")),
                   providers=tuple(str(p) for p in providers)
                   if isinstance(providers, list) else (),
                   statuses=tuple(str(s) for s in data["statuses"]),
                   fulfillments=bool(data.get("fulfillments")))

    @property
    def partial_shipped(self) -> bool:
        """AST's "Partially Shipped" status exists and is switched on in this store."""
        return PARTIAL_SHIPPED in self.statuses

    @property
    def mode(self) -> str:
        if self.ast:
            return "advanced shipment tracking"
        return "shipment tracking" if self.tracking else "customer notes only"


def namespaces(index: Any) -> list[str]:
    raw = index.get("namespaces") if isinstance(index, dict) else None
    if not isinstance(raw, list):
        raise RestApiMissing("the address answers, but not with a WordPress REST API index")
    return [str(name) for name in raw]


def parse_statuses(data: Any) -> tuple[str, ...]:
    """Status slugs from `reports/orders/totals` ([{slug, name, total}])."""
    if not isinstance(data, list):
        return ()
    return tuple(str(entry["slug"]) for entry in data
                 if isinstance(entry, dict) and entry.get("slug"))


def probe_statuses(client: WooCommerceClient) -> tuple[str, ...]:
    return parse_statuses(client.get("reports/orders/totals",
                                     what="listing the store's order statuses"))


def probe(client: WooCommerceClient) -> Capabilities:
    response = client.index(fields="namespaces")
    if 300 <= response.status_code < 400:
        target = response.headers.get("Location", "another address")
        raise RestApiMissing(f"{client.site_url} redirects the REST API to {target}: use that "
                             "address (for example https:// instead of http://)")
    try:
        found = namespaces(response.json())
    except ValueError:
        raise RestApiMissing(f"{client.site_url} did not answer with the WordPress REST API "
                             "(not JSON): check the address") from None
    if WC_V3 not in found:
        raise RestApiMissing(f"{client.site_url} runs WordPress but not the WooCommerce REST "
                             "API (wc/v3): is WooCommerce installed and active?")
    statuses = probe_statuses(client)
    fulfillments = probe_fulfillments(client)
    if TRACKING_NAMESPACE not in found:
        return Capabilities(statuses=statuses, fulfillments=fulfillments)
    return Capabilities(tracking=True, ast=AST_NAMESPACE in found,
                        providers=tuple(parse_provider_names(_providers(client))),
                        statuses=statuses, fulfillments=fulfillments)


def probe_fulfillments(client: WooCommerceClient) -> bool:
    """True when the Order Fulfillments routes exist (order 0 itself is then not found)."""
    try:
        client.get("orders/0/fulfillments", what="looking for WooCommerce's order fulfillments")
    except NotFound as missing:
        return not missing.no_route
    return True


def _providers(client: WooCommerceClient) -> Any:
    for route in (PROVIDERS_ROUTE, LEGACY_PROVIDERS_ROUTE):
        try:
            return client.get(route, namespace=TRACKING_NAMESPACE,
                              what="listing the shipment-tracking providers")
        except NotFound:
            continue
    return {}
