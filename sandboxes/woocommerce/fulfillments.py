"""WooCommerce core's Order Fulfillments (`/wc/v3/orders/<id>/fulfillments`), built from the
documented REST API (WooCommerce's docs for the feature, beta since 2025-09): not checked
against a real store, since the realstore kit's WooCommerce 10.0.2 predates it.

The routes exist only while the feature is on (`store.fulfillments_enabled`); off, every one
answers `rest_no_route`, as WooCommerce does when the feature flag is off. A fulfillment holds
its data in `meta_data` (`_items`, `_tracking_number`, `_shipping_provider`, `_tracking_url`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from sandboxes.woocommerce.rest_support import (
    RestError,
    json_body,
    json_response,
    no_route,
    require,
)
from sandboxes.woocommerce.state import WooCommerceStore


def build_fulfillments_blueprint(store: WooCommerceStore) -> Blueprint:
    api = Blueprint("wc_v3_fulfillments", __name__, url_prefix="/wp-json/wc/v3")
    base = "/orders/<int:order_id>/fulfillments"

    def enabled(order_id: int) -> list[dict[str, Any]]:
        if not store.fulfillments_enabled:
            raise no_route()
        if store.find_order(order_id) is None:
            raise RestError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
        return store.fulfillments.setdefault(order_id, [])

    @api.get(base)
    def list_fulfillments(order_id: int) -> Response:
        if not store.fulfillments_enabled:
            raise no_route()
        require("list")
        with store.lock:
            return json_response(list(enabled(order_id)))

    @api.post(base)
    def create_fulfillment(order_id: int) -> Response:
        if not store.fulfillments_enabled:
            raise no_route()
        data = json_body()
        require("create")
        meta = data.get("meta_data")
        if not isinstance(meta, list):
            raise RestError("rest_missing_callback_param", "Missing parameter(s): meta_data",
                            400)
        with store.lock:
            entries = enabled(order_id)
            fulfillment = {
                "id": store.next_fulfillment_id(), "entity_type": "WC_Order",
                "entity_id": str(order_id), "status": str(data.get("status") or "unfulfilled"),
                "is_fulfilled": bool(data.get("is_fulfilled")),
                "date_updated": store.now().strftime("%Y-%m-%dT%H:%M:%S"),
                "date_deleted": None,
                "meta_data": [{"id": store.next_fulfillment_id(), "key": str(m.get("key")),
                               "value": m.get("value")} for m in meta if isinstance(m, dict)],
            }
            entries.append(fulfillment)
            return json_response(fulfillment, 201)

    @api.delete(base + "/<int:fulfillment_id>")
    def delete_fulfillment(order_id: int, fulfillment_id: int) -> Response:
        if not store.fulfillments_enabled:
            raise no_route()
        require("delete")
        with store.lock:
            entries = enabled(order_id)
            kept = [f for f in entries if f["id"] != fulfillment_id]
            if len(kept) == len(entries):
                raise RestError("woocommerce_rest_fulfillment_invalid_id",
                                "Invalid fulfillment ID.", 404)
            store.fulfillments[order_id] = kept
            return json_response({"message": "Fulfillment deleted successfully."})

    return api
