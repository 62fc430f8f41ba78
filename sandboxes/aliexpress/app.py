"""AliExpress's Open Platform over HTTP: the OAuth authorize page, `/rest/auth/token/create`
and `/refresh`, and the business gateway `/sync` (form or query parameters, `method=<api>`),
with the signature, timestamp, token and QPS checks in the gateway's order; plus a few
`/_sandbox/...` control routes for tests, the demo and people trying it by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, jsonify, request
from markupsafe import escape

from sandboxes.aliexpress.signing import signature_matches
from sandboxes.aliexpress.state import (
    DEFAULT_ACCOUNT,
    AliExpressState,
    Grant,
    PlatformFailure,
    request_id,
)
from sandboxes.home import Row, home_page

TOKEN_PATHS = ("/auth/token/create", "/auth/token/refresh")

Method = Callable[[AliExpressState, Grant, dict[str, str]], dict[str, Any]]


def _state() -> AliExpressState:
    state: AliExpressState = current_app.extensions["sandbox"]
    return state


def _json_param(params: dict[str, str], name: str) -> dict[str, Any]:
    try:
        value = json.loads(params.get(name) or "")
    except ValueError:
        raise PlatformFailure("InvalidParameter", f"{name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise PlatformFailure("InvalidParameter", f"{name} must be a JSON object")
    return value


def _required(params: dict[str, str], *names: str) -> None:
    for name in names:
        if not params.get(name):
            raise PlatformFailure("MissingParameter", f"The input parameter {name!r} that is "
                                  "mandatory for processing this request is not supplied")


def _product_get(state: AliExpressState, grant: Grant, params: dict[str, str]) -> dict[str, Any]:
    _required(params, "product_id", "ship_to_country")
    return state.product(params["product_id"], params["ship_to_country"])


def _freight(state: AliExpressState, grant: Grant, params: dict[str, str]) -> dict[str, Any]:
    _required(params, "queryDeliveryReq")
    return {"result": state.freight(_json_param(params, "queryDeliveryReq"))}


def _create(state: AliExpressState, grant: Grant, params: dict[str, str]) -> dict[str, Any]:
    _required(params, "param_place_order_request4_open_api_d_t_o")
    order = _json_param(params, "param_place_order_request4_open_api_d_t_o")
    extend = _json_param(params, "ds_extend_request") if params.get("ds_extend_request") \
        else {}
    return {"result": state.create(grant.user_id, order, extend)}


def _order_get(state: AliExpressState, grant: Grant, params: dict[str, str]) -> dict[str, Any]:
    _required(params, "single_order_query")
    query = _json_param(params, "single_order_query")
    order = state.order(grant.user_id, str(query.get("order_id", "")))
    return {"result": state.order_result(order)}


def _tracking(state: AliExpressState, grant: Grant, params: dict[str, str]) -> dict[str, Any]:
    _required(params, "ae_order_id", "language")
    try:
        order = state.order(grant.user_id, params["ae_order_id"])
    except PlatformFailure:
        return {"result": {"ret": False, "msg": "TRACKING DATA NOT FOUND", "code": "1001"}}
    return {"result": state.tracking_result(order)}


METHODS: dict[str, tuple[Method, bool]] = {  # name -> (handler, answered flat)
    "aliexpress.ds.product.get": (_product_get, True),
    "aliexpress.ds.freight.query": (_freight, False),
    "aliexpress.ds.order.create": (_create, False),
    "aliexpress.trade.ds.order.get": (_order_get, False),
    "aliexpress.ds.order.tracking.get": (_tracking, False),
}


def _error(failure: PlatformFailure) -> Response:
    body: dict[str, str] = {"code": failure.code, "type": failure.kind, "msg": failure.message,
                            "request_id": request_id()}
    if failure.sub_code:
        body |= {"sub_code": failure.sub_code, "sub_msg": failure.sub_msg}
    return jsonify({"error_response": body})


def _params() -> dict[str, str]:
    params = {key: value for key, value in request.args.items()}
    params.update({key: value for key, value in request.form.items()})
    return params


def _check_system(state: AliExpressState, params: dict[str, str], api_path: str) -> str:
    """The gateway's checks before any API runs; the app key on success."""
    _required(params, "app_key", "timestamp", "sign_method", "sign")
    app_key = params["app_key"]
    secret = state.apps.get(app_key)
    if secret is None:
        raise PlatformFailure("InvalidAppKey", "The app key is not valid")
    if params["sign_method"] != "sha256":
        raise PlatformFailure("InvalidParameter", "sign_method must be sha256")
    try:
        sent = datetime.fromtimestamp(int(params["timestamp"]) / 1000, UTC)
    except (ValueError, OverflowError):
        raise PlatformFailure("InvalidParameter", "timestamp must be epoch milliseconds") \
            from None
    if abs(sent - state.clock.now()) > state.timestamp_tolerance:
        raise PlatformFailure("InvalidTimestamp", "The timestamp is out of range")
    if not signature_matches(params, secret, api_path):
        raise PlatformFailure("IncompleteSignature", "The request signature does not conform "
                              "to platform standards")
    state.admit(app_key)
    return app_key


def create_app(state: AliExpressState) -> Flask:
    app = Flask("sandbox_aliexpress")
    app.extensions["sandbox"] = state

    @app.get("/")
    def home() -> str:
        """The orders DropTrack placed (a page for the person running the demo; the Open
        Platform has no such page, and every API call is signed)."""
        with state.lock:
            rows = [Row((order.order_id, order.out_order_id,
                         order.status().lower().replace("_", " "),
                         ", ".join(number for number, *_ in order.shipped)))
                    for order in state.orders.values()]
        return home_page("AliExpress sandbox: orders", "The orders DropTrack placed with this "
                         "AliExpress account; the API (/sync) needs signed calls.",
                         ("AliExpress order", "Store reference", "Status", "Tracking"), rows,
                         "No orders yet.")

    @app.route("/sync", methods=["GET", "POST"])
    def business() -> Response:
        state = _state()
        params = _params()
        state.calls[params.get("method", "")] += 1
        if state.take_fault("error"):
            return _error(PlatformFailure("15", "Remote service error", kind="ISP"))
        try:
            _check_system(state, params, "")
            entry = METHODS.get(params.get("method", ""))
            if entry is None:
                raise PlatformFailure("InvalidApiPath", "The specified API is not found")
            _required(params, "access_token")
            grant = state.user_for(params["access_token"])
            handler, flat = entry
            answer = handler(state, grant, params)
        except PlatformFailure as failure:
            return _error(failure)
        if params["method"] == "aliexpress.ds.order.create" and \
                state.take_fault("lose_create_response"):
            # The order was placed; its answer never reaches the caller (a gateway timeout).
            return Response("upstream request timeout", status=504)
        if flat:
            return jsonify(answer | {"request_id": request_id()})
        key = params["method"].replace(".", "_") + "_response"
        return jsonify({key: answer | {"request_id": request_id()}})

    @app.post("/rest/<path:api_path>")
    def system(api_path: str) -> Response:
        api_path = "/" + api_path
        state = _state()
        params = _params()
        state.calls[api_path] += 1
        if api_path not in TOKEN_PATHS:
            return _error(PlatformFailure("InvalidApiPath", "The specified API is not found"))
        try:
            _check_system(state, params, api_path)
            if api_path.endswith("/create"):
                _required(params, "code")
                return jsonify(state.token_create(params["app_key"], params["code"]))
            _required(params, "refresh_token")
            return jsonify(state.token_refresh(params["refresh_token"]))
        except PlatformFailure as failure:
            return _error(failure)

    @app.get("/oauth/authorize")
    def authorize_page() -> Response | str:
        args = request.args
        if args.get("response_type") != "code" or args.get("client_id") not in _state().apps \
                or not args.get("redirect_uri", "").startswith(("http://", "https://")):
            return Response("invalid authorization request", status=400)
        hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                         for k, v in args.items())
        return ("<!doctype html><title>Authorize</title><h1>AliExpress (sandbox)</h1>"
                "<p>Allow this app to place orders with your AliExpress account?</p>"
                f'<form method="post">{hidden}<input name="account" '
                f'value="{DEFAULT_ACCOUNT}"><button>Authorize</button></form>')

    @app.post("/oauth/authorize")
    def authorize_decide() -> Response:
        form = request.form
        if form.get("client_id") not in _state().apps or \
                not form.get("redirect_uri", "").startswith(("http://", "https://")):
            return Response("invalid authorization request", status=400)
        code = _state().authorize(form["client_id"], form.get("account") or DEFAULT_ACCOUNT)
        query = {"code": code} | ({"state": form["state"]} if form.get("state") else {})
        separator = "&" if "?" in form["redirect_uri"] else "?"
        response = Response(status=302)
        response.headers["Location"] = form["redirect_uri"] + separator + urlencode(query)
        return response

    _control_routes(app)
    return app


def _control_routes(app: Flask) -> None:
    def answer(body: dict[str, Any], status: int = 200) -> Response:
        response = jsonify(body)
        response.status_code = status
        return response

    @app.post("/_sandbox/faults")
    def faults() -> Response:
        body = request.get_json(silent=True) or {}
        with _state().lock:
            _state().faults.extend(str(f) for f in body.get("faults", []))
        return answer({"faults": _state().faults})

    @app.post("/_sandbox/ban")
    def ban() -> Response:
        _state().ban(str((request.get_json(silent=True) or {}).get("app_key",
                                                                   next(iter(_state().apps)))))
        return answer({"banned": True})

    @app.post("/_sandbox/tokens/<action>")
    def tokens(action: str) -> Response:
        state = _state()
        if action == "expire":
            state.expire_tokens()
        elif action == "revoke":
            state.revoke(str((request.get_json(silent=True) or {}).get("account",
                                                                       DEFAULT_ACCOUNT)))
        else:
            return answer({"error": "expire or revoke"}, 400)
        return answer({"done": action})

    @app.post("/_sandbox/orders/<order_id>/<action>")
    def order_action(order_id: str, action: str) -> Response:
        state = _state()
        if order_id not in state.orders:
            return answer({"error": "no such order"}, 404)
        if action == "pay":
            state.pay(order_id)
            return answer({"paid": True})
        if action == "ship":
            return answer({"tracking_numbers": state.ship(order_id)})
        if action == "ship_split":
            return answer({"tracking_numbers": state.ship_split(order_id)})
        if action == "cancel":
            state.supplier_cancels(order_id)
            return answer({"cancelled": True})
        return answer({"error": "pay, ship, ship_split or cancel"}, 400)

    @app.post("/_sandbox/stock")
    def stock() -> Response:
        body = request.get_json(silent=True) or {}
        try:
            _state().set_stock(str(body.get("product_id")), str(body.get("sku_attr", "")),
                               int(body.get("stock", 0)))
        except (KeyError, ValueError) as exc:
            return answer({"error": str(exc)}, 400)
        return answer({"ok": True})

    @app.get("/_sandbox/orders")
    def orders() -> Response:
        state = _state()
        return answer({"orders": [{"order_id": o.order_id, "out_order_id": o.out_order_id,
                                   "status": o.status(),
                                   "tracking_numbers": [s[0] for s in o.shipped]}
                                  for o in state.orders.values()]})
