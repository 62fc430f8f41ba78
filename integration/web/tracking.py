"""The customer's tracking page (/track): order number + e-mail, then where the parcel is.

Every miss (unknown number, wrong e-mail) gets the same answer, and lookups are rate-limited
per network address, so the page cannot be used to discover orders. `POST /track.json` gives
the same view as JSON for embeds (Shopify app proxy, a WooCommerce page).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from core.wording import customer_day
from integration.engine.tracking_view import TrackingView, tracking_view
from integration.limits import logins as ratelimit
from integration.web.pages import register_html_errors
from integration.web.security import client_address, csrf_exempt, protect, runtime

blueprint = Blueprint("tracking", __name__, static_folder="static",
                      static_url_path="/track/assets")
protect(blueprint)
register_html_errors(blueprint, "tracking/error.html")

NOT_FOUND = ("We could not find an order with that number and e-mail address. Check both "
             "against your order confirmation e-mail and try again.")
TOO_MANY = "Too many lookups from your network. Please try again in {minutes} minutes."


def lookups_allowed(scope: str = "track") -> tuple[bool, int]:
    """Whether this network address may look up one more order (per `scope`), and the window's
    minutes: `/track`, its JSON and the order status page extension all count here."""
    rt = runtime()
    admin = rt.settings.admin
    window = timedelta(minutes=admin.tracking_window_minutes)
    with rt.db.write() as session:
        ok = ratelimit.hit(session, f"{scope}:{client_address()}", rt.clock.now(),
                           admin.tracking_lookups_per_window, window)
    return ok, admin.tracking_window_minutes


def _lookup(number: str, email: str, store_id: int | None) -> TrackingView | None:
    rt = runtime()
    admin = rt.settings.admin
    with rt.db.read() as session:
        return tracking_view(session, store_id, number, email, now=rt.clock.now(),
                             eta_days=(admin.eta_min_days, admin.eta_max_days))


def _store_param(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


@blueprint.get("/track")
def form() -> ResponseReturnValue:
    return render_template("tracking/lookup.html", number=request.args.get("order", ""),
                           email="", error=None, store=request.args.get("store", ""))


@blueprint.post("/track")
def lookup() -> ResponseReturnValue:
    number = request.form.get("order", "")[:100]
    email = request.form.get("email", "")[:320]
    store = request.form.get("store", "")
    allowed, minutes = lookups_allowed()
    if not allowed:
        return render_template("tracking/lookup.html", number=number, email=email,
                               store=store, error=TOO_MANY.format(minutes=minutes)), 429
    view = _lookup(number, email, _store_param(store))
    if view is None:
        return render_template("tracking/lookup.html", number=number, email=email,
                               store=store, error=NOT_FOUND), 404
    return render_template("tracking/result.html", view=view, now=runtime().clock.now())


@blueprint.post("/track.json")
@csrf_exempt
def lookup_json() -> ResponseReturnValue:
    """For embeds: `{"order": "...", "email": "...", "store": 1?}`; no cookies involved."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="bad_request",
                       message='send JSON like {"order": "#1001", "email": "..."}'), 400
    allowed, minutes = lookups_allowed()
    if not allowed:
        return jsonify(error="rate_limited", message=TOO_MANY.format(minutes=minutes)), 429
    store = body.get("store")
    view = _lookup(str(body.get("order", ""))[:100], str(body.get("email", ""))[:320],
                   store if isinstance(store, int) else None)
    if view is None:
        return jsonify(error="not_found", message=NOT_FOUND), 404
    return jsonify(view.as_dict())


@blueprint.app_template_filter("day")
def _day(moment: datetime | None) -> str:
    return customer_day(moment)


@blueprint.app_template_filter("when")
def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.day} {moment:%b %Y, %H:%M} UTC"
