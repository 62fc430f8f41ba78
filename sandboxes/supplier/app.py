"""The supplier protocol over HTTP (docs/supplier-protocol.md): routes, auth, limits, faults."""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandboxes.home import Row, home_page
from sandboxes.supplier.errors import ApiError
from sandboxes.supplier.faults import FaultKind, FaultRule
from sandboxes.supplier.state import SupplierState
from sandboxes.supplier.validation import (
    parse_order_request,
    parse_tracking_numbers,
    parse_webhook_request,
)
from sandboxes.supplier.views import order_json, tracking_json, unknown_tracking_json

__all__ = ["create_supplier_app"]

MAX_IDEMPOTENCY_KEY_LENGTH = 255


def _state() -> SupplierState:
    from flask import current_app

    state: SupplierState = current_app.extensions["sandbox"]
    return state


def _error_response(error: ApiError) -> Response:
    response = jsonify(error.as_json())
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _json_body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "invalid_json", "the request body must be JSON "
                                            "(Content-Type: application/json)")
    return body


def _authenticate(state: SupplierState) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or key.strip() not in state.api_keys:
        raise ApiError(401, "unauthorized", "missing or invalid API key",
                       headers={"WWW-Authenticate": 'Bearer realm="supplier"'})
    return key.strip()


def _fault_response(rule: FaultRule) -> Response | None:
    if rule.kind is FaultKind.ERROR:
        return _error_response(ApiError(rule.status, "internal_error",
                                        "the supplier had an internal error; retry later"))
    if rule.kind is FaultKind.TIMEOUT:
        time.sleep(rule.seconds)
        return _error_response(ApiError(504, "upstream_timeout",
                                        "the supplier timed out; retry later"))
    if rule.kind is FaultKind.LATENCY:
        time.sleep(rule.seconds)
    return None


def _register_hooks(app: Flask) -> None:
    @app.before_request
    def guard() -> Response | None:
        state = _state()
        endpoint = request.endpoint or "unknown"
        if endpoint == "home":
            return None  # the sandbox's own page for people; the API below needs its key
        state.count_call(endpoint)
        g.account = _authenticate(state)
        retry_after = state.rate_limiter.acquire(g.account)
        if retry_after is not None:
            seconds = max(1, math.ceil(retry_after))
            raise ApiError(429, "rate_limited",
                           f"rate limit of {state.rate_limiter.per_second:g} requests per second "
                           "exceeded", {"retry_after_seconds": seconds},
                           headers={"Retry-After": str(seconds)})
        rule = state.faults.take(endpoint)
        if rule is None:
            return None
        if rule.kind.acts_after_handling:
            g.fault_after = rule
            return None
        return _fault_response(rule)

    @app.after_request
    def finish(response: Response) -> Response:
        rule: FaultRule | None = g.pop("fault_after", None)
        if rule is not None and response.status_code < 400:
            if rule.kind is FaultKind.TIMEOUT_AFTER_CREATE:
                time.sleep(rule.seconds)
            else:
                response = _error_response(ApiError(
                    rule.status, "internal_error", "the supplier had an internal error"))
        _state().count_response(request.endpoint or "unknown", response.status_code)
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return _error_response(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_")
        return _error_response(ApiError(error.code or 500, code, error.description or code))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        app.logger.exception("supplier sandbox error")
        return _error_response(ApiError(500, "internal_error", "unexpected supplier error"))


def _register_routes(app: Flask) -> None:
    @app.get("/", endpoint="home")
    def home() -> str:
        """The supplier's orders (a sandbox page for the person running the demo; the real
        protocol has no such page, and every API route still needs the key)."""
        state = _state()
        now = state.clock.now()
        rows = [Row((order.id, order.request.order_number, order.request.store,
                     order.status_at(now).value.replace("_", " "),
                     ", ".join(p.id for p in order.plan.parcels)))
                for order in state.all_orders()]
        return home_page("Reference supplier sandbox: orders", "The orders DropTrack sent to "
                         "this supplier; the API (/v1/...) needs the API key.",
                         ("Supplier order", "Store order", "Store", "Status", "Parcels"), rows,
                         "No orders yet.")

    @app.post("/v1/orders")
    def create_order() -> tuple[Response, int, dict[str, str]]:
        state = _state()
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ApiError(400, "idempotency_key_required",
                           "POST /v1/orders needs an Idempotency-Key header (1-255 characters)")
        body = _json_body()
        result = state.create_order(g.account, key, body, parse_order_request(body))
        payload = order_json(result.order, state.clock.now(), state.public_url)
        headers = {"Location": payload["url"],
                   "Idempotent-Replayed": "true" if result.replayed else "false"}
        return jsonify(payload), 200 if result.replayed else 201, headers

    @app.get("/v1/orders/<order_id>")
    def get_order(order_id: str) -> Response:
        state = _state()
        order = state.get_order(g.account, order_id)
        return jsonify(order_json(order, state.clock.now(), state.public_url))

    @app.post("/v1/orders/<order_id>/cancel")
    def cancel_order(order_id: str) -> Response:
        state = _state()
        order = state.cancel_order(g.account, order_id)
        return jsonify(order_json(order, state.clock.now(), state.public_url))

    @app.post("/v1/tracking/batch")
    def track_batch() -> Response:
        state = _state()
        results = []
        for number in parse_tracking_numbers(_json_body()):
            tracked = state.track(g.account, number)
            results.append(tracking_json(tracked) if tracked else unknown_tracking_json(number))
        return jsonify({"results": results})

    @app.post("/v1/webhooks")
    def create_webhook() -> tuple[Response, int]:
        state = _state()
        url, secret = parse_webhook_request(_json_body())
        subscription = state.register_webhook(url, secret, api_key=g.account)
        return jsonify(subscription.as_json()), 201

    @app.get("/v1/webhooks")
    def list_webhooks() -> Response:
        subscriptions = _state().push.for_account(g.account)
        return jsonify({"webhooks": [s.as_json() for s in subscriptions]})

    @app.delete("/v1/webhooks/<subscription_id>")
    def delete_webhook(subscription_id: str) -> tuple[str, int]:
        if not _state().push.unsubscribe(g.account, subscription_id):
            raise ApiError(404, "webhook_not_found", f"no webhook {subscription_id}")
        return "", 204


def create_supplier_app(state: SupplierState) -> Flask:
    app = Flask("supplier_sandbox")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["sandbox"] = state
    _register_hooks(app)
    _register_routes(app)
    return app
