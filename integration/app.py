"""The Flask application factory, as a readable list of configure steps."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from integration.config import Settings, load_settings
from integration.runtime import Runtime, build_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = build_runtime(settings or load_settings())
    app = Flask(__name__, template_folder="../templates")
    configure_flask(app, runtime)
    configure_logging(runtime)
    configure_blueprints(app)
    configure_errors(app)
    return app


def configure_flask(app: Flask, runtime: Runtime) -> None:
    settings = runtime.settings
    app.config.update(
        SECRET_KEY=settings.security.secret_key or None,
        MAX_CONTENT_LENGTH=settings.webhooks.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions["droptrack"] = runtime


def configure_logging(runtime: Runtime) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("droptrack").setLevel(runtime.settings.logging.level)
    logging.getLogger("integration").setLevel(runtime.settings.logging.level)
    # /readyz asks alembic for the current revision on every call: keep that quiet.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


def configure_blueprints(app: Flask) -> None:
    from integration.web import admin, api, health, shopify_app, tracking, woocommerce_connect
    from webhooks import shopify, suppliers, woocommerce

    for module in (health, shopify, woocommerce, suppliers, shopify_app, woocommerce_connect, admin,
                   tracking, api):
        app.register_blueprint(module.blueprint)


def configure_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        return jsonify(error=(error.name or "error").lower()), error.code or 500
