"""Shopify app routes: install (authorization code grant, non-embedded) and the app proxy.

Install: Shopify opens `/shopify/install?shop&timestamp&hmac`; DropTrack checks the signature
and the shop domain, keeps a one-time `state` nonce in a signed cookie and sends the merchant to
the shop's consent screen; `/shopify/callback` checks signature, state and shop again, exchanges
the code for an expiring offline token, checks the granted scopes and connects the store.

App proxy: the shop serves `/apps/droptrack` from here with a signed query; the answer is
`application/liquid` so the tracking timeline renders inside the shop's theme.

Fulfillment service (stores in fulfillment-service mode): Shopify POSTs
`<callbackUrl>/fulfillment_order_notification`, HMAC-signed like a webhook; DropTrack checks the
signature and the shop, then queues a look at the store's requested fulfillment orders (the ping
carries no order: the job lists them). Answering fast and working in a job keeps Shopify's 5 s
limit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer

from connectors.shopify.client import exchange_code, http_client
from connectors.shopify.settings import FULFILLMENT_SERVICE_PATH, StoreSettings, missing_scopes
from connectors.shopify.tokens import GRANT_AUTHORIZATION_CODE, Credentials
from core.errors import PermanentError, RetryableError
from integration.accounts import stores
from integration.engine.tracking_view import tracking_view
from integration.jobs import alerts
from integration.kernel.runtime import Runtime
from integration.sync.shopify.fulfillment_service import queue_fulfillment_requests
from integration.sync.shopify.install import connect_store
from integration.web.security import runtime
from webhooks.signatures import verify_base64_hmac

log = logging.getLogger(__name__)

blueprint = Blueprint("shopify_app", __name__)

STATE_COOKIE = "droptrack_shopify_state"
STATE_MAX_AGE_SECONDS = 600
INSTALL_LINK_MAX_AGE = timedelta(hours=24)
PROXY_MAX_AGE = timedelta(seconds=90)
PROXY_PATH = "/apps/droptrack"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
NOTIFICATION_KINDS = frozenset({"FULFILLMENT_REQUEST", "CANCELLATION_REQUEST"})


def _hex_hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def oauth_signature_valid(params: Iterable[tuple[str, str]], secret: str) -> bool:
    """Install and callback queries: hex HMAC-SHA256 of the sorted `key=value` pairs joined by
    `&`, without `hmac` (and the legacy `signature`)."""
    pairs = list(params)
    given = next((value for key, value in pairs if key == "hmac"), "")
    message = "&".join(f"{key}={value}" for key, value in sorted(pairs)
                       if key not in ("hmac", "signature"))
    return bool(secret and given) and hmac.compare_digest(given, _hex_hmac(secret, message))


def proxy_signature_valid(params: Iterable[tuple[str, str]], secret: str) -> bool:
    """App proxy queries: sorted `key=value` (repeated keys' values joined by commas),
    concatenated without a separator, hex HMAC-SHA256."""
    grouped: dict[str, list[str]] = {}
    given = ""
    for key, value in params:
        if key == "signature":
            given = value
        else:
            grouped.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values)}" for key, values in sorted(grouped.items()))
    return bool(secret and given) and hmac.compare_digest(given, _hex_hmac(secret, message))


def _fresh(rt: Runtime, raw: str | None, max_age: timedelta) -> bool:
    try:
        moment = int(raw or "")
    except ValueError:
        return False
    return abs(rt.clock.now().timestamp() - moment) <= max_age.total_seconds()


def _admin_base(rt: Runtime) -> str:
    base = rt.settings.shopify.admin_base_url.rstrip("/")
    return base if base and rt.settings.loopback_http_allowed else ""


def _shop_url(rt: Runtime, shop: str) -> str:
    base = _admin_base(rt)
    return f"{base}/shops/{shop}" if base else f"https://{shop}"


def _serializer(rt: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(rt.settings.security.secret_key or "demo",
                                  salt="droptrack-shopify-oauth-state")


def _problem(title: str, detail: str, status: int) -> ResponseReturnValue:
    return render_template("shopify/install_problem.html", title=title, detail=detail), status


def _configured(rt: Runtime) -> bool:
    return bool(rt.settings.shopify.client_id and rt.settings.shopify.client_secret)


def signed_install_path(rt: Runtime, shop: str) -> str:
    """`/shopify/install?shop&timestamp&hmac`, signed with the app's secret the way Shopify
    signs it: for the signed-in owner's "Connect Shopify" button, so the install starts from
    the dashboard as well as from the Shopify admin. Raises StoreError for a bad shop domain
    and ValueError when the app's credentials are not configured."""
    if not _configured(rt):
        raise ValueError("DropTrack is not set up for Shopify yet: enter the Shopify app's "
                         "client_id and client_secret under [shopify] in config.toml, then "
                         "restart DropTrack.")
    domain = stores.normalize_shop_domain(shop)
    params = {"shop": domain, "timestamp": str(int(rt.clock.now().timestamp()))}
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()))
    params["hmac"] = _hex_hmac(rt.settings.shopify.client_secret, message)
    return f"/shopify/install?{urlencode(params)}"


@blueprint.get("/shopify/install")
def install() -> ResponseReturnValue:
    rt = runtime()
    app = rt.settings.shopify
    if not _configured(rt):
        return _problem("DropTrack is not set up for Shopify yet",
                        "The owner of this DropTrack has not entered the Shopify app's client "
                        "id and secret ([shopify] in config.toml).", 503)
    params = list(request.args.items(multi=True))
    if not oauth_signature_valid(params, app.client_secret):
        return _problem("This install link is not from Shopify",
                        "Start the installation again from your Shopify admin.", 401)
    if not _fresh(rt, request.args.get("timestamp"), INSTALL_LINK_MAX_AGE):
        return _problem("This install link has expired",
                        "Start the installation again from your Shopify admin.", 401)
    try:
        shop = stores.normalize_shop_domain(request.args.get("shop", ""))
    except stores.StoreError:
        return _problem("Not a Shopify store", "The shop must be a name.myshopify.com domain.",
                        400)
    if not may_connect(rt, shop):
        _report_install_request(rt, shop)
        return _problem("This DropTrack is private",
                        f"{shop} is not one of the shops its owner connected. The owner can "
                        "connect it from DropTrack's Stores page, signed in.", 403)
    nonce = secrets.token_urlsafe(24)
    query = urlencode({"client_id": app.client_id, "scope": app.scopes, "state": nonce,
                       "redirect_uri": rt.settings.app.public_url + "/shopify/callback"})
    response = redirect(f"{_shop_url(rt, shop)}/admin/oauth/authorize?{query}")
    response.set_cookie(STATE_COOKIE, _serializer(rt).dumps({"nonce": nonce, "shop": shop}),
                        max_age=STATE_MAX_AGE_SECONDS, httponly=True, samesite="Lax",
                        secure=rt.settings.app.public_url.startswith("https://"),
                        path="/shopify/")
    return response


INSTALL_REQUEST_ALERT = "shopify_install_request"


def may_connect(rt: Runtime, shop: str, *, owner_session: bool = True) -> bool:
    """A self-hosted DropTrack connects only its owner's shops: one on the allow-list, one
    already connected (a reinstall), or one the signed-in owner is installing right now
    (`owner_session=False`: the dashboard's cookie does not count, as in the embedded admin)."""
    from integration.web.admin.auth import load_user  # the admin imports this module

    if rt.settings.demo or shop in {s.strip().lower() for s in rt.settings.shopify.allowed_shops}:
        return True
    with rt.db.read() as session:
        if stores.find_shopify_store(session, shop) is not None:
            return True
    return owner_session and load_user() is not None


def _report_install_request(rt: Runtime, shop: str) -> None:
    now = rt.clock.now()
    with rt.db.write() as session:
        alerts.raise_alert(session, INSTALL_REQUEST_ALERT, f"{shop}:{now:%Y-%m-%d}", (
            f"{shop} tried to install DropTrack and was refused: it is not one of your shops. "
            "If it is yours, connect it from Stores while signed in, or add it to [shopify] "
            "allowed_shops."), now)


@blueprint.get("/shopify/callback")
def callback() -> ResponseReturnValue:
    rt = runtime()
    app = rt.settings.shopify
    if not _configured(rt):
        return _problem("DropTrack is not set up for Shopify yet", "", 503)
    if not oauth_signature_valid(request.args.items(multi=True), app.client_secret):
        return _problem("This answer is not from Shopify", "Start the installation again.", 401)
    try:
        shop = stores.normalize_shop_domain(request.args.get("shop", ""))
    except stores.StoreError:
        return _problem("Not a Shopify store", "The shop must be a name.myshopify.com domain.",
                        400)
    try:
        remembered = _serializer(rt).loads(request.cookies.get(STATE_COOKIE, ""),
                                           max_age=STATE_MAX_AGE_SECONDS)
    except BadSignature:
        remembered = {}
    state = request.args.get("state", "")
    if not (isinstance(remembered, dict) and state
            and hmac.compare_digest(str(remembered.get("nonce", "")), state)
            and remembered.get("shop") == shop):
        return _problem("This installation was not started here",
                        "The security check (state) failed. Start the installation again "
                        "from your Shopify admin, in the same browser.", 403)
    base = _admin_base(rt)
    pending = Credentials.pending(GRANT_AUTHORIZATION_CODE, app.client_id, app.client_secret)
    try:
        with http_client(base) as http:
            credentials = exchange_code(http, shop, pending, request.args.get("code", ""),
                                        rt.clock.now())
    except (PermanentError, RetryableError) as exc:
        return _problem("Shopify did not grant access", str(exc), 502)
    missing = missing_scopes(credentials.scope, tuple(s.strip() for s in app.scopes.split(",")
                                                      if s.strip()))
    if missing:
        return _problem("DropTrack needs more access",
                        "Shopify did not grant: " + ", ".join(missing)
                        + ". Install again and accept every permission.", 403)
    store_id = connect_store(rt, shop, credentials, actor="shopify-install",
                             webhook_secret=app.client_secret,
                             settings={"admin_base_url": base, "api_version": app.api_version})
    response = Response(render_template("shopify/installed.html", shop=shop,
                                        store_id=store_id))
    response.delete_cookie(STATE_COOKIE, path="/shopify/")
    return response


def _liquid(body: str, status: int = 200) -> Response:
    # Shopify renders the answer as Liquid: data from carriers or customers must not be able to
    # inject Liquid tags into the shop's theme.
    safe = body.replace("{{", "{ {").replace("{%", "{ %")
    return Response(safe, status=status, content_type="application/liquid; charset=utf-8")


@blueprint.get(PROXY_PATH)
@blueprint.get(PROXY_PATH + "/<path:_rest>")
def app_proxy(_rest: str = "") -> ResponseReturnValue:
    rt = runtime()
    if not proxy_signature_valid(request.args.items(multi=True),
                                 rt.settings.shopify.client_secret):
        return Response("invalid signature", status=401, content_type="text/plain")
    if not _fresh(rt, request.args.get("timestamp"), PROXY_MAX_AGE):
        return Response("stale request", status=401, content_type="text/plain")
    with rt.db.read() as session:
        store = stores.find_shopify_store(session, request.args.get("shop", ""))
        if store is None or store.state != "active":
            return _liquid(render_template("shopify/proxy_tracking.html", view=None,
                                           asked=False, unavailable=True), 404)
        number = request.args.get("order", "")[:100]
        email = request.args.get("email", "")[:320]
        asked = bool(number or email)
        view = tracking_view(session, store.id, number, email, now=rt.clock.now()) \
            if asked else None
    return _liquid(render_template(
        "shopify/proxy_tracking.html", view=view, asked=asked, unavailable=False,
        number=number, action=request.args.get("path_prefix", PROXY_PATH)),
        404 if asked and view is None else 200)


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


@blueprint.post(FULFILLMENT_SERVICE_PATH.replace("{store_id}", "<int:store_id>")
                + "/fulfillment_order_notification")
def fulfillment_order_notification(store_id: int) -> ResponseReturnValue:
    rt = runtime()
    limit = rt.settings.webhooks.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _plain("payload too large", 413)
    body = request.get_data(cache=False)
    if len(body) > limit:
        return _plain("payload too large", 413)
    signature = request.headers.get(HMAC_HEADER, "")
    if not signature:
        return _plain(f"missing {HMAC_HEADER}", 400)
    with rt.db.read() as session:
        store = stores.find_store(session, stores.SHOPIFY, store_id)
        secrets_ = stores.webhook_secrets(rt, store) if store is not None else []
        domain = store.domain if store is not None else ""
        active = store is not None and store.state == "active"
        mode_on = store is not None and StoreSettings.parse(
            store.settings or {}, allow_override=False).fulfillment_service
    # Same answer for an unknown store and a bad signature: nothing to learn by probing ids.
    if not verify_base64_hmac(body, signature, secrets_):
        log.warning("fulfillment notification for store %d: bad signature", store_id)
        return _plain("invalid signature", 401)
    shop = request.headers.get("X-Shopify-Shop-Domain", "")
    if shop and shop.lower() != domain:  # signed for another shop of the same app
        log.warning("fulfillment notification for store %d came from %s", store_id, shop)
        return _plain("invalid signature", 401)
    try:
        payload = json.loads(body)
    except ValueError:
        return _plain("body is not JSON", 400)
    kind = payload.get("kind") if isinstance(payload, dict) else None
    if kind not in NOTIFICATION_KINDS:
        return _plain("unknown notification kind", 400)
    if not (active and mode_on):
        log.info("fulfillment notification for store %d ignored (inactive or not in "
                 "fulfillment-service mode)", store_id)
        return _plain("ignored", 200)
    if kind == "FULFILLMENT_REQUEST":
        with rt.db.write() as session:
            queue_fulfillment_requests(session, store_id, rt.clock.now())
    else:
        # Cancellation requests are not answered automatically yet: the merchant sees them
        # pending in Shopify; DropTrack's own cancellation path follows orders/cancelled.
        log.info("store %d: cancellation request noted (answered by the merchant)", store_id)
    return _plain("ok", 200)
