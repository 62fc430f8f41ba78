"""The order status page extension's endpoint: DropTrack's status, reason, action and estimated
window for one order, asked by the customer account UI extension (`extensions/order-status/`).

The extension runs in the customer's browser on Shopify's CDN origin and calls
`GET /shopify/extension/order-status?order=gid://shopify/Order/<id>[&fulfillment=gid://shopify/
Fulfillment/<id>]` with `Authorization: Bearer <session token>` (`shopify.sessionToken.get()`).
The token is checked by shopifyapp's `verify_customer_account_ui_ext_req`: HS256 signature with
the client secret of the app whose extension it is (HMAC compared by PyJWT in constant time):
the store's own app (a Dev Dashboard app connected by client credentials keeps its client id
and secret in the store's encrypted credentials), else the public app of `[shopify]`; the shop
named in the unverified token only picks which secrets to try. `aud` = that app's client id,
`exp`/`nbf` with 10 s leeway on the machine's wall clock (Shopify's tokens are in real time;
DropTrack's business clock, which the demo runs fast, is not consulted). shopifyapp lets a token
without `exp` or `dest` through, so this module also requires `exp`, `nbf`, `iat`, `iss` and
`dest`, `dest` naming one `*.myshopify.com` shop and `iss` the same shop. A missing, expired,
forged, wrong-audience or malformed token, or one for a shop DropTrack does not serve, gets 401
with a JSON error and nothing about any order.

CORS (as Shopify documents for extension back ends): the preflight `OPTIONS` gets shopifyapp's
204 with `Access-Control-Allow-Origin: *`, `Allow-Headers: Authorization, Content-Type`; every
answer (errors too) carries `Access-Control-Allow-Origin: *` so the extension can read it. No
cookies are involved: the token is the only proof.

What a token proves, and so what is answered: the request comes from DropTrack's extension
rendering for the shop in `dest`. It does not name the order, and order status pages render
before the customer logs in too (no `sub`). So:
- the order is looked up only within the store of `dest` (a foreign or unknown id is the same
  404);
- the answer is the customer's words only (`core/wording.py` through
  `integration.engine.tracking_view.store_order_view`, the /track page's view): status, reason
  and what to do, estimated window, per parcel the same; no e-mail, name, address, tracking
  number, carrier events or places (Shopify's own page shows the tracking to its customer);
- lookups count against the /track page's per-address limit (scope `extension`).
A `sub` (a signed-in customer's GID) grants nothing more and is not checked against the order:
DropTrack does not store Shopify customer ids, and the answer above is safe without one.
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from shopify_app.types import AppConfig, RequestInput, ResultWithNonExchangeableIdToken
from shopify_app.verify.customer_account_ui_ext import verify_customer_account_ui_ext_req

from connectors.shopify.tokens import Credentials
from core import wording
from integration.accounts import stores
from integration.engine.tracking_view import ParcelView, TrackingView, store_order_view
from integration.kernel.runtime import Runtime
from integration.storage.models import Store
from integration.web.security import csrf_exempt, runtime
from integration.web.tracking import TOO_MANY, lookups_allowed

log = logging.getLogger(__name__)

PATH = "/shopify/extension/order-status"
REQUIRED_CLAIMS = ("iss", "dest", "aud", "exp", "nbf", "iat")
MAX_REF_LENGTH = 100

blueprint = Blueprint("order_status", __name__)


def _cors(response: Response, extra: dict[str, str] | None = None) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Vary", "Authorization")
    for name, value in (extra or {}).items():
        response.headers[name] = value
    return response


def _error(status: int, error: str, message: str) -> Response:
    response = jsonify(error=error, message=message)
    response.status_code = status
    return _cors(response)


def _shop_of(claims: dict[str, Any]) -> str | None:
    """The shop the token names, or None when its claims are incomplete or disagree."""
    if any(claims.get(name) in (None, "") for name in REQUIRED_CLAIMS):
        return None
    if not all(isinstance(claims[name], int | float) for name in ("exp", "nbf", "iat")):
        return None
    try:
        shop = stores.normalize_shop_domain(_host(claims["dest"]))
    except stores.StoreError:
        return None
    return shop if _host(claims["iss"]) == shop else None


def _parcel(parcel: ParcelView) -> dict[str, Any]:
    return {"status": parcel.status, "label": parcel.label, "note": parcel.note,
            "action_needed": parcel.action_needed, "carrier": parcel.carrier,
            "eta_from": _iso(parcel.eta_from), "eta_to": _iso(parcel.eta_to),
            "window": wording.delivery_window(parcel.eta_from, parcel.eta_to),
            "delivered_at": _iso(parcel.delivered_at)}


def _iso(moment: Any) -> str | None:
    return None if moment is None else str(moment.isoformat())


def _answer(view: TrackingView, fulfillment: ParcelView | None) -> dict[str, Any]:
    return {"title": wording.EXTENSION_TITLE, "status": view.status, "label": view.label,
            "note": view.note, "action_needed": view.action_needed,
            "eta_from": _iso(view.eta_from),
            "eta_to": _iso(view.eta_to), "late": view.late,
            "window": wording.delivery_window(view.eta_from, view.eta_to),
            "parcels": [_parcel(p) for p in view.parcels],
            "fulfillment": _parcel(fulfillment) if fulfillment is not None else None}


def _host(value: Any) -> str:
    text = str(value).strip().lower()
    text = text.split("://", 1)[1] if "://" in text else text
    return text.split("/", 1)[0]


def _named_shop(authorization: str) -> str:
    """The shop an (unverified) token names: only to pick which app's secret must have signed
    it; the verification below decides."""
    if not authorization.startswith("Bearer "):
        return ""
    try:
        claims = jwt.decode(authorization[7:], options={"verify_signature": False})
        return stores.normalize_shop_domain(_host(claims.get("dest", "")))
    except (jwt.PyJWTError, stores.StoreError, AttributeError):
        return ""


def _apps(rt: Runtime, store: Store | None) -> list[AppConfig]:
    """The apps whose extension may speak for this store: the store's own app (a Dev Dashboard
    app connected by client credentials, or the app its token came from), then the public app
    of `[shopify]`; each with its client id and secret."""
    found: list[tuple[str, str]] = []
    if store is not None and store.credentials_encrypted:
        own = Credentials.from_dict(rt.secrets.decrypt_json(store.credentials_encrypted))
        found.append((own.client_id, own.client_secret))
    public = rt.settings.shopify
    found.append((public.client_id, public.client_secret))
    unique = dict.fromkeys((cid, secret) for cid, secret in found if cid and secret)
    return [{"client_id": cid, "client_secret": secret, "old_client_secret": None}
            for cid, secret in unique]


def _verified(rt: Runtime, asked: RequestInput, store: Store | None
              ) -> ResultWithNonExchangeableIdToken | None:
    """shopifyapp's verification with the first app whose secret signed the token, or None."""
    result = None
    for config in _apps(rt, store):
        result = verify_customer_account_ui_ext_req(asked, config)
        if result.ok:
            return result
    log.info("order status extension request refused: %s",
             result.log.code if result is not None else "no Shopify app configured")
    return None


@blueprint.route(PATH, methods=["GET", "OPTIONS"])
@csrf_exempt
def order_status() -> ResponseReturnValue:
    rt = runtime()
    asked: RequestInput = {"method": request.method, "headers": dict(request.headers),
                           "url": request.url, "body": ""}
    if request.method == "OPTIONS":
        # A preflight carries no token: shopifyapp answers it without any secret.
        preflight = verify_customer_account_ui_ext_req(
            asked, {"client_id": "-", "client_secret": "-", "old_client_secret": None})
        if preflight.ok and preflight.response.status == 204:
            return _cors(Response(status=204), preflight.response.headers)
        return _error(401, "invalid_session_token", wording.EXTENSION_REFUSED)
    named = _named_shop(request.headers.get("Authorization", ""))
    with rt.db.read() as session:
        store = stores.find_shopify_store(session, named) if named else None
        if store is not None:
            session.expunge(store)
    result = _verified(rt, asked, store)
    claims = result.id_token.claims if result is not None and result.id_token else {}
    shop = _shop_of(claims) if result is not None else None
    if shop is None or shop != named:
        # Never the token itself in the log: shopifyapp's code says why.
        return _error(401, "invalid_session_token", wording.EXTENSION_REFUSED)
    if store is None or store.state == stores.UNINSTALLED:
        log.info("order status extension request for %s refused: not a store of DropTrack's",
                 shop)
        return _error(401, "shop_unknown", wording.EXTENSION_SHOP_UNKNOWN)
    order_ref = request.args.get("order", "")[:MAX_REF_LENGTH]
    fulfillment_ref = request.args.get("fulfillment", "")[:MAX_REF_LENGTH]
    if not order_ref:
        return _error(400, "bad_request", wording.EXTENSION_BAD_REQUEST)
    allowed, minutes = lookups_allowed("extension")
    if not allowed:
        return _error(429, "rate_limited", TOO_MANY.format(minutes=minutes))
    admin = rt.settings.admin
    with rt.db.read() as session:
        found = store_order_view(session, store.id, order_ref, now=rt.clock.now(),
                                 eta_days=(admin.eta_min_days, admin.eta_max_days),
                                 fulfillment_ref=fulfillment_ref)
    if found is None:
        return _error(404, "not_found", wording.EXTENSION_ORDER_NOT_FOUND)
    return _cors(jsonify(_answer(found.view, found.fulfillment)))
