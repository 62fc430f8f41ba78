"""What every WooCommerce REST route shares: WP_Error bodies, the auth gate, parameter errors."""

from __future__ import annotations

import json
from typing import Any, Literal

from flask import Flask, Response, g, request

from sandboxes.woocommerce.auth import Authenticator, php_query_params
from sandboxes.woocommerce.state import ApiKey, WooCommerceStore

Capability = Literal["list", "view", "create", "edit", "delete", "batch"]

_PERMISSION_ERRORS: dict[Capability, tuple[str, str]] = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete",
               "Sorry, you are not allowed to delete this resource."),
    "batch": ("woocommerce_rest_cannot_batch",
              "Sorry, you are not allowed to batch manipulate this resource."),
}


class RestError(Exception):
    """Raised inside a route; rendered as WordPress renders a WP_Error."""

    def __init__(self, code: str, message: str, status: int, **data: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data

    def response(self) -> Response:
        return json_response({"code": self.code, "message": self.message,
                              "data": {"status": self.status, **self.data}}, self.status)

    def as_batch_item(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message,
                "data": {"status": self.status, **self.data}}


def json_response(payload: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(payload), status=status,
                        content_type="application/json; charset=UTF-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def invalid_params(**problems: tuple[str, str]) -> RestError:
    """WordPress's `rest_invalid_param`: problems maps param -> (detail code, message)."""
    return RestError(
        "rest_invalid_param", f"Invalid parameter(s): {', '.join(problems)}", 400,
        params={name: message for name, (_, message) in problems.items()},
        details={name: {"code": code, "message": message, "data": None}
                 for name, (code, message) in problems.items()})


def missing_params(*names: str) -> RestError:
    return RestError("rest_missing_callback_param", f"Missing parameter(s): {', '.join(names)}",
                     400, params=list(names))


def no_route() -> RestError:
    return RestError("rest_no_route", "No route was found matching the URL and request method.",
                     404)


def current_key() -> ApiKey | None:
    key: ApiKey | None = g.get("wc_api_key")
    return key


def require(capability: Capability) -> ApiKey:
    """The route's permission callback: an API key of an admin user, else 401."""
    key = current_key()
    if key is None:
        code, message = _PERMISSION_ERRORS[capability]
        raise RestError(code, message, 401)
    return key


def query_params() -> dict[str, str]:
    """The query string as PHP's `$_GET` sees it (duplicates: last wins)."""
    params: dict[str, str] = g.get("wc_query")
    return params


def json_body() -> dict[str, Any]:
    """WordPress merges JSON and form bodies into the request params."""
    if request.mimetype == "application/x-www-form-urlencoded":
        return dict(php_query_params(request.get_data(as_text=True)))
    data = request.get_json(silent=True)
    if data is None and request.get_data():
        raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400,
                        json_error_code=4, json_error_message="Syntax error")
    return data if isinstance(data, dict) else {}


def _is_wc_namespace(path: str) -> bool:
    route = path.removeprefix("/wp-json/")
    return path.startswith("/wp-json/") and (route.startswith(("wc/", "wc-")))


def install_rest_gate(app: Flask, store: WooCommerceStore) -> None:
    authenticator = Authenticator(store)

    @app.before_request
    def injected_fault() -> Response | None:
        fault = store.take_fault(request.method, request.path)
        if fault is None:
            return None
        response = Response(fault.body or f"<html><body>HTTP {fault.status}</body></html>",
                            status=fault.status, content_type="text/html; charset=UTF-8")
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response

    @app.before_request
    def authenticate_wc_routes() -> Response | None:
        g.wc_query = php_query_params(request.query_string.decode("latin-1"))
        if not _is_wc_namespace(request.path):
            return None
        result = authenticator.authenticate(request)
        if result.failure is not None:
            return RestError(result.failure.code, result.failure.message,
                             result.failure.status).response()
        if result.key is None:
            return None
        allowed = result.key.can(request.method)
        if allowed is None:
            return RestError("woocommerce_rest_authentication_error", "Unknown request method.",
                             401).response()
        if not allowed:
            wanted = "read" if request.method in ("GET", "HEAD") else "write"
            return RestError("woocommerce_rest_authentication_error",
                             f"The API key provided does not have {wanted} permissions.",
                             401).response()
        store.record_api_call(result.key)
        g.wc_api_key = result.key
        return None

    @app.errorhandler(RestError)
    def render_rest_error(error: RestError) -> Response:
        return error.response()
