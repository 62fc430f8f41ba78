"""The embedded admin: DropTrack's owner pages inside Shopify admin (public app, managed install).

Shopify's admin frames `/embedded/...` with App Bridge. Every request carries a session token
(the first document load as `?id_token=`, App Bridge fetches as `Authorization: Bearer`); it is
verified on every request (`connectors.shopify.session_tokens`: signature with the app's secret,
audience, time with a small leeway) and names the one shop whose data the page may show. A
missing, expired, forged or wrong-audience token gets 401 (with Shopify's
`X-Shopify-Retry-Invalid-Session-Request` so App Bridge retries with a fresh token); a shop
DropTrack does not know (not allowed, never connected) gets 403.

The first request for a shop without a usable token exchanges the session token for an expiring
offline token (token exchange, 60 min + rotating refresh token) and connects the store through
`connect_store` (encrypted, same row and same renewal sweep as an authorization-code install).

Pages answer with `frame-ancestors https://<shop> https://admin.shopify.com` (the shop of the
token only), never the standalone `/admin`'s policy. Links carry the current `id_token` (valid
about a minute; Shopify's own first load does the same), so navigation inside the frame keeps
its proof; an expired one is refused like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, g, render_template, request
from flask.typing import ResponseReturnValue

from connectors.shopify.client import exchange_session_token, http_client
from connectors.shopify.session_tokens import (
    SessionToken,
    SessionTokenError,
    verify_session_token,
)
from connectors.shopify.tokens import GRANT_TOKEN_EXCHANGE, Credentials
from core import wording
from core.errors import CredentialsRefused, RetryableError
from integration.accounts import stores
from integration.kernel.runtime import Runtime
from integration.sync.shopify.install import connect_store
from integration.web.admin import queries, stats
from integration.web.security import content_security_policy, csp_nonce, runtime
from integration.web.shopify_app import may_connect

log = logging.getLogger(__name__)

blueprint = Blueprint("embedded", __name__, url_prefix="/embedded")

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
SHOPIFY_ADMIN = "https://admin.shopify.com"
APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    if header:
        return header[7:].strip() if header.startswith("Bearer ") else ""
    return request.args.get("id_token", "")


def _refused(status: int, message: str) -> Response:
    response = Response(render_template("embedded/refused.html", message=message),
                        status=status, content_type="text/html; charset=utf-8")
    if status == 401:
        response.headers[RETRY_HEADER] = "1"
    return response


def _ensure_connected(rt: Runtime, session: SessionToken) -> int | Response:
    """The shop's store id; exchanges the session token first when DropTrack holds no usable
    token for it (first open after a managed install, or after a disconnect/uninstall)."""
    with rt.db.read() as db:
        store = stores.find_shopify_store(db, session.shop)
        if store is not None and store.state == stores.ACTIVE and store.credentials_encrypted:
            return store.id
    app = rt.settings.shopify
    base = app.admin_base_url.rstrip("/") if rt.settings.loopback_http_allowed else ""
    try:
        with http_client(base) as http:
            credentials = exchange_session_token(http, session, Credentials.pending(
                GRANT_TOKEN_EXCHANGE, app.client_id, app.client_secret), rt.clock.now())
    except (CredentialsRefused, RetryableError) as exc:
        log.warning("token exchange for %s failed: %s", session.shop, exc)
        return _refused(502, wording.EMBEDDED_EXCHANGE_FAILED.format(
            shop=session.shop, problem=str(exc).split(": ", 1)[-1]))
    return connect_store(rt, session.shop, credentials, actor="shopify-embedded",
                         webhook_secret=app.client_secret,
                         settings={"admin_base_url": base, "api_version": app.api_version})


def session_required(view: F) -> F:
    """Verify the session token, resolve (or connect) its shop, then run the page with
    `g.embedded_shop` and `g.embedded_store_id` set. Nothing else picks the shop."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        rt = runtime()
        app = rt.settings.shopify
        try:
            session = verify_session_token(_bearer(), app.client_id, [app.client_secret],
                                           rt.clock.now())
        except SessionTokenError as exc:
            log.info("embedded request refused: %s", exc)
            return _refused(401, wording.EMBEDDED_SESSION_REFUSED)
        if not may_connect(rt, session.shop):
            return _refused(403, wording.EMBEDDED_SHOP_UNKNOWN.format(shop=session.shop))
        store_id = _ensure_connected(rt, session)
        if isinstance(store_id, Response):
            return store_id
        g.embedded_shop = session.shop
        g.embedded_store_id = store_id
        g.embedded_query = {"id_token": session.raw, "shop": session.shop,
                            **({"host": request.args["host"]} if "host" in request.args
                               else {})}
        return view(*args, **kwargs)
    return cast(F, wrapped)


@blueprint.after_request
def _frame_ancestors(response: Response) -> Response:
    """Framed by this shop's admin only: `frame-ancestors https://<shop> admin.shopify.com`
    (set before the app-wide headers, which keep what is already set)."""
    shop = g.get("embedded_shop")
    ancestors = [f"https://{shop}", SHOPIFY_ADMIN] if shop else [SHOPIFY_ADMIN]
    policy = content_security_policy([], csp_nonce(), script_extra=[APP_BRIDGE],
                                     ancestors_only=ancestors)
    response.headers["Content-Security-Policy"] = policy
    response.headers.pop("X-Frame-Options", None)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _page(template: str, **context: Any) -> str:
    rt = runtime()
    return render_template(template, shop=g.embedded_shop, query=g.embedded_query,
                           api_key=rt.settings.shopify.client_id, app_bridge=APP_BRIDGE,
                           **context)


@blueprint.get("/")
@session_required
def overview() -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as db:
        numbers = stats.overview(db, rt.clock.now(), rt.settings.admin.eta_max_days,
                                 store_id=g.embedded_store_id)
        attention = len(queries.attention_items(db, g.embedded_store_id))
    return _page("embedded/overview.html", numbers=numbers, attention=attention,
                 section="overview")


@blueprint.get("/orders")
@session_required
def orders() -> ResponseReturnValue:
    rt = runtime()
    filters = queries.OrderFilters(store_id=g.embedded_store_id,
                                   q=request.args.get("q", "")[:320])
    with rt.db.read() as db:
        page = queries.list_orders(db, filters, None, rt.settings.admin.page_size)
    return _page("embedded/orders.html", page=page, section="orders")
