"""DHL Unified Tracking over HTTP: `GET /track/shipments?trackingNumber=...`, problem+json
errors, 1 call a second and 250 a day (HTTP 429); `/_sandbox/...` control routes."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request

from sandboxes.dhl.state import DhlState, Problem

PREFIX = "/track"


def _state() -> DhlState:
    state: DhlState = current_app.extensions["sandbox"]
    return state


def create_app(state: DhlState) -> Flask:
    app = Flask("sandbox_dhl")
    app.extensions["sandbox"] = state

    @app.get(f"{PREFIX}/shipments")
    def shipments() -> Response:
        state = _state()
        key = request.headers.get("DHL-API-Key") or request.args.get("DHL-API-Key", "")
        try:
            body = state.track(key, request.args.get("trackingNumber", "").strip(),
                               request.args.get("service"))
        except Problem as problem:
            state.count(problem.status)
            response = jsonify({"title": problem.title, "status": problem.status,
                                "detail": problem.detail,
                                "instance": f"{PREFIX}/shipments"})
            response.status_code = problem.status
            response.content_type = "application/problem+json"
            for name, value in problem.headers.items():
                response.headers[name] = value
            return response
        state.count(200)
        return jsonify(body)

    @app.post("/_sandbox/shipments")
    def ship() -> Response:
        body = request.get_json(silent=True) or {}
        try:
            _state().ship(str(body.get("number", "")), str(body.get("scenario", "delivered")))
        except ValueError as exc:
            response = jsonify({"error": str(exc)})
            response.status_code = 400
            return response
        return jsonify({"number": body.get("number")})

    return app
