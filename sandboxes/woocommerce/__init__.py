"""A protocol-faithful WooCommerce site: REST v3 (OAuth 1.0a over HTTP, basic/query-string
keys over HTTPS), batch, notes, signed webhooks with ping and auto-disable, shipment-tracking
namespaces, the My Account view-order page and the /wc-auth/v1 key-request flow.

`build(clock, public_url=...)` returns the Flask app; its state (a `WooCommerceStore`) is at
`app.extensions["sandbox"]` and the webhook dispatcher at `app.extensions["sandbox_webhooks"]`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from core.clock import Clock
from sandboxes.woocommerce.fulfillments import build_fulfillments_blueprint
from sandboxes.woocommerce.pages import build_pages_blueprint
from sandboxes.woocommerce.rest_orders import build_orders_blueprint
from sandboxes.woocommerce.rest_support import install_rest_gate
from sandboxes.woocommerce.rest_webhooks import (
    build_index_blueprint,
    build_webhooks_blueprint,
)
from sandboxes.woocommerce.state import TrackingMode, WooCommerceStore
from sandboxes.woocommerce.tracking import build_tracking_blueprint
from sandboxes.woocommerce.wc_auth import build_wc_auth_blueprint
from sandboxes.woocommerce.webhooks import DeliveryMode, WebhookDispatcher
from templates import TEMPLATES_DIR

TEMPLATES = TEMPLATES_DIR

__all__ = ["WebhookDispatcher", "WooCommerceStore", "build"]


def build(clock: Clock, *, public_url: str, tracking_mode: TrackingMode = "none",
          webhook_delivery: DeliveryMode = "background", utc_offset_minutes: int = 0,
          **options: Any) -> Flask:
    """Options: `tracking_mode` none|shipment_tracking|ast; `webhook_delivery` background (a
    thread sends queued events, for the CLI/demo) or queued (tests call
    `app.extensions["sandbox_webhooks"].deliver_pending()`); `utc_offset_minutes` of the
    site's timezone."""
    if options:
        raise TypeError(f"unknown woocommerce sandbox options: {', '.join(sorted(options))}")
    store = WooCommerceStore(clock, public_url, utc_offset=timedelta(minutes=utc_offset_minutes),
                             tracking_mode=tracking_mode)
    dispatcher = WebhookDispatcher(store, webhook_delivery)
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.extensions["sandbox"] = store
    app.extensions["sandbox_webhooks"] = dispatcher
    install_rest_gate(app, store)
    app.register_blueprint(build_orders_blueprint(store))
    app.register_blueprint(build_webhooks_blueprint(store, dispatcher))
    app.register_blueprint(build_tracking_blueprint(store))
    app.register_blueprint(build_fulfillments_blueprint(store))
    app.register_blueprint(build_index_blueprint(store))
    app.register_blueprint(build_pages_blueprint(store))
    app.register_blueprint(build_wc_auth_blueprint(store))
    return app
