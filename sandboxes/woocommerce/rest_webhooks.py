"""`/wp-json/wc/v3/webhooks...` CRUD (creation pings the delivery URL) and `GET /wp-json/`."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response

from sandboxes.woocommerce.payloads import filter_fields, webhook_json
from sandboxes.woocommerce.rest_orders import parse_bool
from sandboxes.woocommerce.rest_support import (
    RestError,
    json_body,
    json_response,
    no_route,
    query_params,
    require,
)
from sandboxes.woocommerce.state import WooCommerceStore
from sandboxes.woocommerce.webhooks import WebhookDispatcher

RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
STATUSES = ("active", "paused", "disabled")
POST_TYPE = "shop_webhook"


def valid_topic(topic: str) -> bool:
    """`wc_is_webhook_valid_topic`."""
    if topic.startswith("action."):
        return len(topic) > len("action.")
    resource, _, event = topic.partition(".")
    return resource in RESOURCES and event in EVENTS


def valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _invalid(what: str, message: str, status: int = 400) -> RestError:
    return RestError(f"woocommerce_rest_{POST_TYPE}_{what}", message, status)


def build_webhooks_blueprint(store: WooCommerceStore,
                             dispatcher: WebhookDispatcher) -> Blueprint:
    api = Blueprint("wc_v3_webhooks", __name__, url_prefix="/wp-json/wc/v3")

    @api.get("/webhooks")
    def list_webhooks() -> Response:
        status = query_params().get("status", "all") or "all"
        require("list")
        with store.lock:
            hooks = [w for w in store.webhooks.values() if status in ("all", w.status)]
            body = [webhook_json(store, w) for w in sorted(hooks, key=lambda w: -w.id)]
        return json_response(body, headers={"X-WP-Total": str(len(body)),
                                            "X-WP-TotalPages": "1" if body else "0"})

    @api.post("/webhooks")
    def create_webhook() -> Response:
        data = json_body()
        require("create")
        if data.get("id"):
            raise _invalid("exists", f"Cannot create existing {POST_TYPE}.")
        topic = str(data.get("topic") or "").lower()
        if not topic or not valid_topic(topic):
            raise _invalid("invalid_topic", "Webhook topic is required and must be valid.")
        url = str(data.get("delivery_url") or "")
        if not url or not valid_url(url):
            raise _invalid("invalid_delivery_url", "Webhook delivery URL must be a valid URL "
                           "starting with http:// or https://.")
        status = str(data.get("status") or "active")
        if status not in STATUSES:
            raise _invalid("invalid_status", "Webhook status must be valid.")
        webhook = store.add_webhook(
            name=str(data.get("name") or f"Webhook created on {store.now():%b %d, %Y @ %I:%M %p}"),
            topic=topic, delivery_url=url, status=status,  # type: ignore[arg-type]
            secret=str(data.get("secret") or secrets.token_urlsafe(37)))
        with store.lock:
            body = webhook_json(store, webhook, edit=True)
        dispatcher.ping(webhook)
        return json_response(body, 201, headers={
            "Location": f"{store.home_url}wp-json/wc/v3/webhooks/{webhook.id}"})

    @api.get("/webhooks/<int:webhook_id>")
    def get_webhook(webhook_id: int) -> Response:
        require("view")
        webhook = store.webhooks.get(webhook_id)
        if webhook is None:
            raise _invalid("invalid_id", "Invalid ID.", 404)
        with store.lock:
            return json_response(webhook_json(store, webhook))

    @api.route("/webhooks/<int:webhook_id>", methods=["PUT", "PATCH", "POST"])
    def update_webhook(webhook_id: int) -> Response:
        data = json_body()
        require("edit")
        with store.lock:
            webhook = store.webhooks.get(webhook_id)
            if webhook is None:
                raise _invalid("invalid_id", "ID is invalid.")
            changes = _webhook_changes(data)
            for name, value in changes.items():
                setattr(webhook, name, value)
            # As in WooCommerce: status=active leaves the failure count as it was (only a
            # successful delivery resets it), so one more failure disables the webhook again.
            webhook.date_modified = store.now()
            should_ping = webhook.status == "active" and webhook.pending_delivery
            body = webhook_json(store, webhook, edit=True)
        if should_ping:
            dispatcher.ping(webhook)
        return json_response(body)

    @api.delete("/webhooks/<int:webhook_id>")
    def delete_webhook(webhook_id: int) -> Response:
        force = parse_bool("force", query_params().get("force", "false"))
        require("delete")
        if not force:
            raise RestError("woocommerce_rest_trash_not_supported",
                            "Webhooks do not support trashing.", 501)
        with store.lock:
            webhook = store.webhooks.pop(webhook_id, None)
            if webhook is None:
                raise _invalid("invalid_id", "Invalid ID.", 404)
            return json_response(webhook_json(store, webhook, edit=True))

    return api


def _webhook_changes(data: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if data.get("topic"):
        if not valid_topic(str(data["topic"]).lower()):
            raise _invalid("invalid_topic", "Webhook topic must be valid.")
        changes["topic"] = str(data["topic"]).lower()
    if data.get("delivery_url"):
        if not valid_url(str(data["delivery_url"])):
            raise _invalid("invalid_delivery_url", "Webhook delivery URL must be a valid URL "
                           "starting with http:// or https://.")
        changes["delivery_url"] = str(data["delivery_url"])
    if data.get("secret"):
        changes["secret"] = str(data["secret"])
    if data.get("status"):
        if str(data["status"]).lower() not in STATUSES:
            raise _invalid("invalid_status", "Webhook status must be valid.")
        changes["status"] = str(data["status"]).lower()
    if data.get("name"):
        changes["name"] = str(data["name"])
    return changes


def build_index_blueprint(store: WooCommerceStore) -> Blueprint:
    """`GET /wp-json/` (namespace discovery) and `rest_no_route` for everything unknown."""
    api = Blueprint("wp_json_index", __name__)

    @api.get("/wp-json/")
    @api.get("/wp-json")
    def index() -> Response:
        namespaces = ["wc/v3"]
        fields = query_params().get("_fields", "")
        if store.tracking_mode == "shipment_tracking":
            namespaces.append("wc-shipment-tracking/v3")
        elif store.tracking_mode == "ast":
            namespaces += ["wc-shipment-tracking/v3", "wc-ast/v3"]
        body = {
            "name": "DropTrack WooCommerce sandbox",
            "description": "Just another WooCommerce store",
            "url": store.site_url, "home": store.site_url, "gmt_offset": "0",
            "timezone_string": "", "namespaces": namespaces, "authentication": [],
            # A real index describes every route (about 1.4 MB on a stock store).
            "routes": {f"/{namespace}/route-{n}": {"methods": ["GET"], "padding": "x" * 200}
                       for namespace in namespaces for n in range(40)},
        }
        with store.lock:
            store.index_queries.append(dict(query_params()))
        return json_response(filter_fields(body, fields or None))

    @api.route("/wp-json/<path:route>",
               methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    def unknown_route(route: str) -> Response:
        raise no_route()

    return api
