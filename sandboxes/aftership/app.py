"""The AfterShip Tracking API over HTTP: `/tracking/2026-07/trackings...`, `as-api-key` auth,
the `{meta, data}` envelope, per-endpoint rate limits (HTTP 429 with X-RateLimit-*), injected
faults; and `/_sandbox/...` control routes for the demo and for people trying it by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify, request

from sandboxes.aftership.state import VERSION, AfterShipState, ApiFailure
from sandboxes.trackers.common import add_control_routes

PREFIX = f"/tracking/{VERSION}"
META = {200: ("OK", "The request was successful."),
        201: ("Created", "The request was successful and a resource was created.")}


def _state() -> AfterShipState:
    state: AfterShipState = current_app.extensions["sandbox"]
    return state


def _answer(data: dict[str, Any], status: int = 200) -> Response:
    kind, message = META[status]
    response = jsonify({"meta": {"code": status, "message": message, "type": kind},
                        "data": data})
    response.status_code = status
    return response


def _failure(failure: ApiFailure) -> Response:
    response = jsonify({"meta": {"code": failure.code, "message": failure.message,
                                 "type": failure.type}, "data": {}})
    response.status_code = failure.http_status
    for name, value in failure.headers.items():
        response.headers[name] = value
    return response


def _call(endpoint: str, group: str, operation: Callable[[AfterShipState], dict[str, Any]],
          status: int = 200) -> Response:
    state = _state()
    state.count(endpoint)
    try:
        state.guard(request.headers.get("as-api-key", ""), group)
        return _answer(operation(state), status)
    except ApiFailure as failure:
        return _failure(failure)


def _json() -> Any:
    return request.get_json(silent=True)


def create_app(state: AfterShipState) -> Flask:
    app = Flask("sandbox_aftership")
    app.extensions["sandbox"] = state

    @app.post(f"{PREFIX}/trackings")
    def create() -> Response:
        return _call("create", "create", lambda s: s.create(_json()), 201)

    @app.get(f"{PREFIX}/trackings")
    def listed() -> Response:
        return _call("list", "list", lambda s: s.listed(request.args.get(
            "tracking_numbers", "")))

    @app.get(f"{PREFIX}/trackings/<tracking_id>")
    def one(tracking_id: str) -> Response:
        return _call("get", "one", lambda s: s.tracking_json(s.get(tracking_id)))

    @app.delete(f"{PREFIX}/trackings/<tracking_id>")
    def delete(tracking_id: str) -> Response:
        return _call("delete", "one", lambda s: s.delete(tracking_id))

    @app.post(f"{PREFIX}/trackings/<tracking_id>/retrack")
    def retrack(tracking_id: str) -> Response:
        return _call("retrack", "action", lambda s: s.retrack(tracking_id))

    @app.post(f"{PREFIX}/trackings/<tracking_id>/mark-as-completed")
    def complete(tracking_id: str) -> Response:
        return _call("complete", "action", lambda s: s.complete(tracking_id, _json()))

    add_control_routes(app, _state)

    @app.post("/_sandbox/deliver_due")
    def deliver_due() -> Response:
        return jsonify({"pushed": len(_state().deliver_due())})

    return app
