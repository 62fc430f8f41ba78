"""The Flask application factory, as a readable list of configure steps."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from integration.base import logs
from integration.base.config import Settings, load_settings
from integration.kernel.runtime import Runtime, build_runtime
from templates import TEMPLATES_DIR


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = build_runtime(settings or load_settings())
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR))
    configure_flask(app, runtime)
    configure_logging(app, runtime)
    configure_blueprints(app)
    configure_errors(app)
    configure_security_headers(app, runtime)
    configure_webhooks(app, runtime)
    return app


def configure_security_headers(app: Flask, runtime: Runtime) -> None:
    """Every answer gets the basic security headers, every HTML page a strict CSP (pages of
    protected blueprints set their own first; this covers the rest: errors, health, Shopify
    install pages). Liquid for Shopify's app proxy is rendered into the shop's page: no CSP."""
    from integration.web.security import content_security_policy, csp_nonce

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", content_security_policy(
                runtime.settings.admin.frame_ancestors, csp_nonce()))
            headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class StrictJSONProvider(DefaultJSONProvider):
    """Request bodies as JSON allows them: no NaN or Infinity, no number beyond a double, no
    nesting that would exhaust the stack; each is a clean 400 (Flask turns ValueError into
    one), never a 500 or a non-finite number stored."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(s, parse_constant=_reject_constant, parse_float=_finite_float,
                              **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def configure_flask(app: Flask, runtime: Runtime) -> None:
    app.json = StrictJSONProvider(app)
    settings = runtime.settings
    app.config.update(
        SECRET_KEY=settings.security.secret_key or None,
        MAX_CONTENT_LENGTH=settings.webhooks.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions["droptrack"] = runtime


def configure_logging(app: Flask, runtime: Runtime) -> None:
    logs.configure(runtime.settings.logging.level, runtime.settings.logging.format)

    @app.before_request
    def _tag_request() -> None:
        g.request_id = logs.request_id_from(request.headers.get("X-Request-ID"))
        g.request_token = logs.request_id.set(g.request_id)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response

    @app.teardown_request
    def _untag_request(_error: BaseException | None) -> None:
        token = g.pop("request_token", None)
        if token is not None:
            logs.request_id.reset(token)


def configure_blueprints(app: Flask) -> None:
    from integration.web import (
        admin,
        api,
        embedded,
        health,
        metrics,
        order_status,
        shopify_app,
        tracking,
        woocommerce_connect,
    )

    for module in (health, shopify_app, woocommerce_connect, admin, embedded, tracking, api,
                   metrics, order_status):
        app.register_blueprint(module.blueprint)


def configure_webhooks(app: Flask, runtime: Runtime) -> None:
    """The webhook endpoints answer in front of Flask (see `webhooks.endpoints`)."""
    from webhooks.endpoints import WebhookEndpoints
    from webhooks.intake import Intake
    from webhooks.store_secrets import StoreSecretCache

    secrets = app.extensions["droptrack_store_secrets"] = StoreSecretCache()
    app.wsgi_app = WebhookEndpoints(app.wsgi_app, Intake(runtime, secrets))  # type: ignore[method-assign]


def configure_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        return jsonify(error=(error.name or "error").lower()), error.code or 500
