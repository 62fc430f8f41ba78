"""The 17TRACK v2.2 API over HTTP: `POST /track/v2.2/<endpoint>`, `17token` auth, the
envelope, the 40-number limit, 3 requests a second (HTTP 429), injected faults; and a few
`/_sandbox/...` control routes for the demo and for people trying it by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify, request

from sandboxes.home import Row, home_page
from sandboxes.seventeen_track.state import ApiFailure, ItemError, SeventeenTrackState
from sandboxes.trackers.common import add_control_routes

MAX_NUMBERS = 40
PREFIX = "/track/v2.2"

Operation = Callable[[SeventeenTrackState, dict[str, Any]], dict[str, Any]]
ITEM_OPERATIONS: dict[str, Operation] = {
    "register": SeventeenTrackState.register,
    "gettrackinfo": SeventeenTrackState.track_info,
    "changecarrier": SeventeenTrackState.change_carrier,
    "stoptrack": SeventeenTrackState.stop,
    "retrack": SeventeenTrackState.retrack,
    "deletetrack": SeventeenTrackState.delete,
    "push": SeventeenTrackState.push_again,
}


def _state() -> SeventeenTrackState:
    state: SeventeenTrackState = current_app.extensions["sandbox"]
    return state


def _answer(body: dict[str, Any], status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _failure(failure: ApiFailure) -> Response:
    return _answer({"code": failure.code, "data": {"errors": [
        {"code": failure.code, "message": failure.message}]}}, failure.http_status,
        failure.headers)


def _guard(state: SeventeenTrackState) -> None:
    if (status := state.take_fault()) is not None:
        headers = {"Retry-After": "1"} if status in (429, 503) else {}
        raise ApiFailure(status, -18010003 if status >= 500 else 0,
                         "injected fault", headers)
    key = request.headers.get("17token", "")
    if key not in state.api_keys:
        raise ApiFailure(401, -18010002, "Invalid access key.")
    wait = state.bucket.take(key)
    if wait is not None:  # the 429 body was never captured (UNCERTAIN)
        raise ApiFailure(429, 0, "access frequency exceeds limit",
                         {"Retry-After": str(max(1, round(wait)))})


def create_app(state: SeventeenTrackState) -> Flask:
    app = Flask("sandbox_17track")
    app.extensions["sandbox"] = state

    @app.get("/")
    def home() -> str:
        """The numbers DropTrack registered (a page for the person running the demo; the API
        needs the 17token)."""
        with state.lock:
            rows = [Row((tracked.number, str(tracked.carrier),
                         shown[-1][0].description if (shown := tracked.shown()) else
                         "registered, no scan yet", tracked.tracking_status.lower()))
                    for tracked in state.tracked.values()]
        return home_page("17TRACK sandbox: tracked numbers", "The numbers DropTrack "
                         "registered; the API (/track/v2.2/...) needs the 17token.",
                         ("Number", "Carrier key", "Latest scan", "Tracking"), rows,
                         "No numbers registered yet.")

    @app.post(f"{PREFIX}/<endpoint>")
    def call(endpoint: str) -> Response:
        state = _state()
        state.count(endpoint)
        try:
            _guard(state)
            if endpoint == "getquota":
                return _answer({"code": 0, "data": state.quota()})
            operation = ITEM_OPERATIONS.get(endpoint)
            if operation is None:
                return _answer({"code": 404, "data": {}}, 404)
            items = request.get_json(silent=True)
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ApiFailure(200, -18010015, "The body must be a JSON array of objects.")
            if len(items) > MAX_NUMBERS:
                raise ApiFailure(200, -18010014, "More than 40 tracking numbers.")
        except ApiFailure as failure:
            return _failure(failure)
        accepted, rejected = [], []
        for item in items:
            try:
                accepted.append(operation(state, item))
            except ItemError as error:
                rejected.append({"number": item.get("number"),
                                 "error": {"code": error.code, "message": error.message}})
        return _answer({"code": 0, "data": {"accepted": accepted, "rejected": rejected}})

    add_control_routes(app, _state)

    @app.post("/_sandbox/numbers/<number>/next")
    def next_step(number: str) -> Response:
        state = _state()
        if number not in state.tracked:
            return _answer({"error": "not registered"}, 404)
        push = state.push_next(number)
        return _answer({"pushed": push is not None,
                        "status": push.status if push else None})

    @app.post("/_sandbox/deliver_due")
    def deliver_due() -> Response:
        return _answer({"pushed": len(_state().deliver_due())})

    @app.post("/_sandbox/quota")
    def set_quota() -> Response:
        body = request.get_json(silent=True) or {}
        state = _state()
        with state.lock:
            state.quota_total = int(body.get("total", state.quota_total))
        return _answer(state.quota())

    return app
