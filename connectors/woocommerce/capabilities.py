"""What a WooCommerce store can show the customer, probed through `GET /wp-json/`.

Most portable first: a shipment-tracking namespace (the official extension, or Advanced
Shipment Tracking, which serves the same routes and adds `wc-ast/v3`); otherwise customer notes
only. The result is cached per store (in its settings) and probed again when a cached plugin
route has gone (`rest_no_route`) or the health sweep runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.woocommerce.client import WC_V3, NotFound, WooCommerceClient
from connectors.woocommerce.mapper import parse_provider_names

TRACKING_NAMESPACE = "wc-shipment-tracking/v3"
AST_NAMESPACE = "wc-ast/v3"


class RestApiMissing(Exception):
    """The site answers, but not as a WooCommerce REST API; the message says why."""


@dataclass(frozen=True)
class Capabilities:
    tracking: bool = False  # the shipment-tracking routes exist
    ast: bool = False  # ...served by Advanced Shipment Tracking (partial-shipped status)
    providers: tuple[str, ...] = field(default=())  # provider names as the plugin knows them

    def to_settings(self) -> dict[str, Any]:
        return {"tracking": self.tracking, "ast": self.ast, "providers": list(self.providers)}

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> Capabilities | None:
        if "tracking" not in data:
            return None
        providers = data.get("providers")
        return cls(tracking=bool(data["tracking"]), ast=bool(data.get("ast")),
                   providers=tuple(str(p) for p in providers)
                   if isinstance(providers, list) else ())

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


def probe(client: WooCommerceClient) -> Capabilities:
    response = client.index()
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
    if TRACKING_NAMESPACE not in found:
        return Capabilities()
    try:
        providers = client.get("shipment-trackings/providers", namespace=TRACKING_NAMESPACE,
                               what="listing the shipment-tracking providers")
    except NotFound:
        providers = {}
    return Capabilities(tracking=True, ast=AST_NAMESPACE in found,
                        providers=tuple(parse_provider_names(providers)))
