"""Shipment tracking REST namespaces, switchable per store (`store.tracking_mode`).

- `none`: no plugin; every tracking route answers `rest_no_route`.
- `shipment_tracking`: the official Shipment Tracking extension, `wc-shipment-tracking/v3`.
- `ast`: Advanced Shipment Tracking, which answers under `wc-shipment-tracking/v3` *and*
  `wc-ast/v3`, and adds `status_shipped` (0 keep, 1 shipped = completed, 2 partial-shipped)
  and `replace_tracking`.
Items live in the order meta `_wc_shipment_tracking_items`; saving them saves the order.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response

from sandboxes.woocommerce.rest_orders import parse_bool
from sandboxes.woocommerce.rest_support import (
    RestError,
    json_body,
    json_response,
    missing_params,
    no_route,
    require,
)
from sandboxes.woocommerce.state import AST_PARTIAL_SHIPPED, WooCommerceStore

OFFICIAL_NAMESPACE = "wc-shipment-tracking/v3"
AST_NAMESPACE = "wc-ast/v3"

# slug -> (display name, tracking URL with {number})
PROVIDERS: dict[str, tuple[str, str]] = {
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"),
    "ups": ("UPS", "https://www.ups.com/track?tracknum={number}"),
    "fedex": ("Fedex", "https://www.fedex.com/fedextrack/?trknbr={number}"),
    "dhl-us": ("DHL US", "https://www.dhl.com/us-en/home/tracking.html?tracking-id={number}"),
    "royal-mail": ("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/"
                   "{number}"),
    "australia-post": ("Australia Post", "https://auspost.com.au/mypost/track/details/{number}"),
    "canada-post": ("Canada Post", "https://www.canadapost-postescanada.ca/track-reperage/en"
                    "#/search?searchFor={number}"),
    "china-post": ("China Post", "https://www.ems.com.cn/qps/yjcx?mailNum={number}"),
}


# AST's carrier table as the realstore kit seeds it offline (AST downloads it at install):
# slug -> (name, URL with {number}, country). AST matches a sent provider by name or slug;
# any other name is stored as the slug itself, and the REST answer's provider is then empty.
AST_PROVIDERS: dict[str, tuple[str, str, str]] = {
    "china-post": ("China Post", "https://t.17track.net/en#nums={number}", "China"),
    "yunexpress": ("YunExpress", "https://www.yuntrack.com/parcelTracking?id={number}",
                   "China"),
    "4px": ("4PX", "https://track.4px.com/#/result/0/{number}", "China"),
    "cainiao": ("Cainiao", "https://global.cainiao.com/detail.htm?mailNoList={number}",
                "China"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction_input?qtc_tLabels1={number}",
             "United States (US)"),
    "ups": ("UPS", "https://www.ups.com/track?tracknum={number}", "United States (US)"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={number}",
              "United States (US)"),
    "dhl-express": ("DHL Express", "https://www.dhl.com/global-en/home/tracking/"
                    "tracking-express.html?tracking-id={number}", "Global"),
    "dhl-ecommerce": ("DHL eCommerce", "https://www.dhl.com/us-en/home/tracking/"
                      "tracking-ecommerce.html?tracking-id={number}", "Global"),
    "royal-mail": ("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/"
                   "{number}", "United Kingdom (UK)"),
    "la-poste": ("La Poste", "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
                 "France"),
}


def ast_providers_by_country() -> dict[str, dict[str, str]]:
    """AST's `get_providers_for_app()`: country -> provider name -> URL with %number%."""
    regions: dict[str, dict[str, str]] = {}
    for name, template, country in AST_PROVIDERS.values():
        regions.setdefault(country, {})[name] = template.replace("{number}", "%number%")
    return regions


def ast_slug(name_or_slug: str) -> str:
    """`get_provider_slug_from_name()`: a known name or slug, else the text itself."""
    wanted = name_or_slug.strip()
    for slug, (name, _, _) in AST_PROVIDERS.items():
        if wanted.lower() in (slug, name.lower()):
            return slug
    return wanted


REGION_BY_PROVIDER = {
    "usps": "United States", "ups": "United States", "fedex": "United States",
    "dhl-us": "United States", "royal-mail": "United Kingdom",
    "australia-post": "Australia", "canada-post": "Canada", "china-post": "China",
}


def providers_by_region() -> dict[str, dict[str, str]]:
    """The extension's public providers list: region -> provider name -> URL format."""
    regions: dict[str, dict[str, str]] = {}
    for slug, (name, template) in PROVIDERS.items():
        region = REGION_BY_PROVIDER.get(slug, "Global")
        regions.setdefault(region, {})[name] = template.replace("{number}", "%1$s")
    return regions


def provider_slug(name_or_slug: str) -> str:
    wanted = name_or_slug.strip().lower()
    for slug, (name, _) in PROVIDERS.items():
        if wanted in (slug, name.lower()):
            return slug
    return wanted.replace(" ", "-")


def formatted_item(item: dict[str, Any], ast: bool = False) -> dict[str, str]:
    """Provider name and link as the extension shows them (custom provider wins)."""
    number = str(item.get("tracking_number", ""))
    if ast and not item.get("custom_tracking_provider"):
        slug = str(item.get("tracking_provider", ""))
        known = AST_PROVIDERS.get(slug)
        if known is None:  # AST looks the slug up in its table: an unknown one shows empty
            return {"provider": "", "link": str(item.get("custom_tracking_link") or "")}
        return {"provider": known[0], "link": known[1].format(number=number)}
    if item.get("custom_tracking_provider"):
        return {"provider": str(item["custom_tracking_provider"]),
                "link": str(item.get("custom_tracking_link") or "")}
    slug = str(item.get("tracking_provider", ""))
    name, template = PROVIDERS.get(slug, (slug, ""))
    return {"provider": name, "link": template.format(number=number) if template else ""}


def shipped_at(item: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(item.get("date_shipped") or 0), UTC)


def _parse_date_shipped(value: Any, store: WooCommerceStore) -> datetime:
    if value in (None, ""):
        return store.now()
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise RestError("rest_invalid_param", "Invalid parameter(s): date_shipped", 400,
                        params={"date_shipped": "Invalid date."}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def build_tracking_blueprint(store: WooCommerceStore) -> Blueprint:
    api = Blueprint("wc_shipment_tracking", __name__)
    base = "/wp-json/<namespace>/<version>/orders/<int:order_id>/shipment-trackings"

    def serving(namespace: str) -> str:
        """The plugin answering `namespace`, or rest_no_route."""
        mode = store.tracking_mode
        if namespace == OFFICIAL_NAMESPACE and mode in ("shipment_tracking", "ast"):
            return mode
        if namespace == AST_NAMESPACE and mode == "ast":
            return mode
        raise no_route()

    def item_json(namespace: str, order_id: int, item: dict[str, Any]) -> dict[str, Any]:
        shown = formatted_item(item, ast=store.tracking_mode == "ast")
        date_format = "%Y-%m-%d"  # both plugins: gmdate('Y-m-d', date_shipped)
        collection = (f"{store.home_url}wp-json/{namespace}/orders/{order_id}/"
                      "shipment-trackings")
        return {
            "tracking_id": item["tracking_id"], "tracking_provider": shown["provider"],
            "tracking_link": shown["link"], "tracking_number": item["tracking_number"],
            "date_shipped": shipped_at(item).strftime(date_format),
            "_links": {
                "self": [{"href": f"{collection}/{item['tracking_id']}"}],
                "collection": [{"href": collection}],
                "up": [{"href": f"{store.home_url}wp-json/{namespace}/orders/{order_id}"}],
            },
        }

    def order_or_404(order_id: int) -> None:
        if store.find_order(order_id) is None:
            raise RestError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)

    @api.get(base)
    def list_trackings(namespace: str, version: str, order_id: int) -> Response:
        ns = f"{namespace}/{version}"
        serving(ns)
        require("list")
        order_or_404(order_id)
        items = store.tracking_items(order_id)
        return json_response([item_json(ns, order_id, item) for item in items])

    @api.post(base)
    def create_tracking(namespace: str, version: str, order_id: int) -> Response:
        ns = f"{namespace}/{version}"
        mode = serving(ns)
        data = json_body()
        if not data.get("tracking_number"):
            raise missing_params("tracking_number")
        require("create")
        order_or_404(order_id)
        shipped = _parse_date_shipped(data.get("date_shipped"), store)
        if mode == "ast" and not store.ast_api_date_format:
            # date_i18n(false, ...) is "": strtotime("") fails and AST stores time() instead.
            shipped = store.now()
        item: dict[str, Any] = {
            "tracking_provider": provider_slug(str(data.get("tracking_provider") or "")),
            "custom_tracking_provider": str(data.get("custom_tracking_provider") or ""),
            "custom_tracking_link": str(data.get("custom_tracking_link") or ""),
            "tracking_number": str(data["tracking_number"]).strip(),
            "date_shipped": str(int(shipped.timestamp())),
            "tracking_id": secrets.token_hex(16),
        }
        with store.lock:
            items = store.tracking_items(order_id)
            if mode == "ast":
                if parse_bool("replace_tracking", data.get("replace_tracking", 0)):
                    items = []
                status_shipped = str(data.get("status_shipped") or "0")
                item.update(status_shipped=status_shipped, source="REST_API")
                # AST resolves the custom name (else the provider) to a slug and keeps no
                # custom provider: an unknown name is stored as the "slug" itself.
                item["tracking_provider"] = ast_slug(item["custom_tracking_provider"] or str(
                    data.get("tracking_provider") or ""))
                item["custom_tracking_provider"] = ""
            items.append(item)
            store.save_tracking_items(order_id, items)
            partial_off = item.get("status_shipped") == "2" and not store.ast_partial_shipped
            if mode == "ast" and item["status_shipped"] in ("1", "2") and not partial_off:
                target = "completed" if item["status_shipped"] == "1" else AST_PARTIAL_SHIPPED
                if store.order(order_id).status != target:
                    store.set_order_status(order_id, target)
            body = item_json(ns, order_id, item)
        location = body["_links"]["self"][0]["href"]
        return json_response(body, 201, headers={"Location": location})

    @api.get(base + "/<tracking_id>")
    def get_tracking(namespace: str, version: str, order_id: int, tracking_id: str) -> Response:
        ns = f"{namespace}/{version}"
        serving(ns)
        require("view")
        order_or_404(order_id)
        item = _find(store, order_id, tracking_id)
        return json_response(item_json(ns, order_id, item))

    @api.delete(base + "/<tracking_id>")
    def delete_tracking(namespace: str, version: str, order_id: int,
                        tracking_id: str) -> Response:
        ns = f"{namespace}/{version}"
        serving(ns)
        require("delete")
        order_or_404(order_id)
        with store.lock:
            item = _find(store, order_id, tracking_id)
            remaining = [i for i in store.tracking_items(order_id)
                         if i["tracking_id"] != tracking_id]
            store.save_tracking_items(order_id, remaining)
            return json_response(item_json(ns, order_id, item))

    @api.get("/wp-json/<namespace>/<version>/shipment-trackings/providers")
    def public_providers(namespace: str, version: str) -> Response:
        """The official extension's order-independent providers route; AST has none."""
        if serving(f"{namespace}/{version}") == "ast":
            raise no_route()
        return json_response(providers_by_region())

    @api.get(base + "/providers")
    def list_providers(namespace: str, version: str, order_id: int) -> Response:
        """Whatever the order (AST does not look it up)."""
        mode = serving(f"{namespace}/{version}")
        require("list")
        if mode == "ast":
            return json_response(ast_providers_by_country())
        return json_response(providers_by_region())

    return api


def _find(store: WooCommerceStore, order_id: int, tracking_id: str) -> dict[str, Any]:
    for item in store.tracking_items(order_id):
        if item.get("tracking_id") == tracking_id:
            return item
    raise RestError("woocommerce_rest_order_shipment_tracking_invalid_id",
                    "Invalid shipment tracking ID.", 404)
