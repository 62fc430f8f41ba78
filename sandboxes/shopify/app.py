"""`build(clock, public_url=...)`: the Flask app `droptrack sandbox shopify` serves."""

from __future__ import annotations

from typing import Any

from flask import Flask

from core.clock import Clock, SystemClock
from sandboxes.shopify.admin_api import admin_api
from sandboxes.shopify.oauth import oauth
from sandboxes.shopify.pages import pages
from sandboxes.shopify.sandbox import (
    DEFAULT_API_VERSION,
    SUPPORTED_API_VERSIONS,
    ShopifySandbox,
)
from templates import TEMPLATES_DIR

TEMPLATES = TEMPLATES_DIR


def build(clock: Clock, *, public_url: str, **options: Any) -> Flask:
    """Options: `api_versions` (iterable, default 2025-10..2026-07), `default_api_version`,
    `background_webhooks` (deliver due webhooks from a thread every second; default: on with
    the wall clock as `droptrack sandbox shopify` runs it, off with a FrozenClock in tests)."""
    app = Flask("shopify_sandbox", template_folder=str(TEMPLATES))
    sandbox = ShopifySandbox(
        clock, public_url=public_url,
        api_versions=options.get("api_versions", SUPPORTED_API_VERSIONS),
        default_api_version=options.get("default_api_version", DEFAULT_API_VERSION))
    app.extensions["sandbox"] = sandbox
    app.register_blueprint(admin_api)
    app.register_blueprint(oauth)
    app.register_blueprint(pages)
    if options.get("background_webhooks", isinstance(clock, SystemClock)):
        sandbox.webhooks.start_background()
    return app
