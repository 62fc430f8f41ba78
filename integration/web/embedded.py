"""The embedded admin: DropTrack's owner pages inside Shopify admin (public app, managed install).

Shopify's admin frames `/embedded/...` with App Bridge. Every request carries a session token
and is verified (`connectors.shopify.session_tokens`: signature with the app's secret,
audience, time with a small leeway); the token names the one shop whose data the page may
show. Nothing else picks the shop (no query parameter, no cookie: the standalone `/admin`'s
login never authorizes anything here, and a session token authorizes nothing there).

How the token arrives, as Shopify documents for embedded apps:
- a document load (the admin's first open, a link, a GET form) carries it as `?id_token=`.
  Links never carry one (it lives about a minute): a load without a valid token is sent to the
  session-token bounce page (`/embedded/session-token?shopify-reload=<the page>`), which only
  loads App Bridge; App Bridge gets a fresh token and reloads the page with it. The reload is
  marked (`bounced=1`) and a marked load that still fails is refused, so a token Shopify keeps
  minting wrongly (a rotated secret) cannot loop. Without App Bridge (opened outside the
  admin) the bounce page only says what to do, with 401.
- fetch requests (every form: `static/embedded.js` posts them with `fetch`) carry it as
  `Authorization: Bearer`, added by App Bridge's fetch interceptor. Actions (POST) accept only
  that header: a page elsewhere cannot make the browser send it, which is also the protection
  against cross-site requests (no cookie, no CSRF token). A refused fetch gets 401 with
  `X-Shopify-Retry-Invalid-Session-Request`, so App Bridge retries with a fresh token.
A shop DropTrack does not know (not allowed, never connected) gets 403.

The first request for a shop without a usable token exchanges the session token for an expiring
offline token (token exchange, 60 min + rotating refresh token) and connects the store through
`connect_store` (encrypted, same row and same renewal sweep as an authorization-code install).

The pages are the standalone admin's (`admin/owner_pages.py` for their data, scoped to the
token's store; `admin/owner_actions.py` for the actions; the same templates in this layout).
After an action the answer is a 303 to the page it came from with a signed notice (no session to
flash into); bad input renders the form again with its values and the error (400).

Pages answer with `frame-ancestors https://<shop> https://admin.shopify.com` (the shop of the
token only), never the standalone `/admin`'s policy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from itsdangerous import BadData, URLSafeTimedSerializer
from markupsafe import Markup

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
from integration.engine.actions import ActionError
from integration.engine.mappings import export_csv
from integration.kernel.runtime import Runtime
from integration.sync.shopify.install import connect_store
from integration.web.admin import owner_actions, owner_pages, queries, stats
from integration.web.security import content_security_policy, csp_nonce, runtime
from integration.web.shopify_app import may_connect

log = logging.getLogger(__name__)

blueprint = Blueprint("embedded", __name__, url_prefix="/embedded")

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
SHOPIFY_ADMIN = "https://admin.shopify.com"
APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
BOUNCED = "bounced"
NOTICE_MAX_AGE = 600  # seconds a notice after an action stays readable

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def _token() -> tuple[str, bool]:
    """The session token and whether it came as `Authorization: Bearer` (a fetch)."""
    header = request.headers.get("Authorization", "")
    if header:
        return (header[7:].strip() if header.startswith("Bearer ") else ""), True
    if request.method != "GET":
        return "", False  # actions: the header only
    return request.args.get("id_token", ""), False


def _refused(status: int, message: str) -> Response:
    response = Response(render_template("embedded/refused.html", message=message),
                        status=status, content_type="text/html; charset=utf-8")
    if status == 401:
        response.headers[RETRY_HEADER] = "1"
    return response


def _shop_arg() -> str:
    try:
        return stores.normalize_shop_domain(request.args.get("shop", ""))
    except stores.StoreError:
        return ""


def _bounce() -> Response:
    """To the session-token bounce page, which reloads this page through App Bridge with a
    fresh `id_token` (Shopify's app templates do the same)."""
    rt = runtime()
    kept = [(key, value) for key, value in request.args.items(multi=True)
            if key not in ("id_token", BOUNCED)]
    reload_url = (rt.settings.app.public_url.rstrip("/") + request.path + "?"
                  + urlencode([*kept, (BOUNCED, "1")]))
    nav = [(key, value) for key, value in kept if key in ("shop", "host", "embedded")]
    target = "/embedded/session-token?" + urlencode([*nav, ("shopify-reload", reload_url)])
    return cast(Response, redirect(target, code=302))


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
    `g.embedded_shop`, `g.embedded_store_id` and `g.embedded_actor` set."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        rt = runtime()
        app = rt.settings.shopify
        raw, from_header = _token()
        try:
            session = verify_session_token(raw, app.client_id, [app.client_secret],
                                           rt.clock.now())
        except SessionTokenError as exc:
            log.info("embedded request refused: %s", exc)
            if not from_header and request.method == "GET" and BOUNCED not in request.args:
                return _bounce()
            return _refused(401, wording.EMBEDDED_SESSION_REFUSED)
        if not may_connect(rt, session.shop, owner_session=False):
            return _refused(403, wording.EMBEDDED_SHOP_UNKNOWN.format(shop=session.shop))
        store_id = _ensure_connected(rt, session)
        if isinstance(store_id, Response):
            return store_id
        g.embedded_shop = session.shop
        g.embedded_store_id = store_id
        g.embedded_actor = f"shopify:{session.shop}:user:{session.user_id}"
        g.embedded_query = {"shop": session.shop, "embedded": "1",
                            **({"host": request.args["host"]} if "host" in request.args
                               else {})}
        return view(*args, **kwargs)
    return cast(F, wrapped)


@blueprint.after_request
def _frame_ancestors(response: Response) -> Response:
    """Framed by this shop's admin only: `frame-ancestors https://<shop> admin.shopify.com`
    (set before the app-wide headers, which keep what is already set). The bounce page, before
    any token, names the shop of its query: it shows nothing of any shop."""
    shop = g.get("embedded_shop") or (_shop_arg() if request.endpoint ==
                                      "embedded.session_token_bounce" else "")
    ancestors = [f"https://{shop}", SHOPIFY_ADMIN] if shop else [SHOPIFY_ADMIN]
    policy = content_security_policy([], csp_nonce(), script_extra=[APP_BRIDGE],
                                     ancestors_only=ancestors)
    response.headers["Content-Security-Policy"] = policy
    response.headers.pop("X-Frame-Options", None)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def link(endpoint: str, **values: Any) -> str:
    """A page of the embedded admin for this shop: shop, host and embedded, never a token."""
    return url_for(f"embedded.{endpoint}", **{**g.embedded_query, **values})


@blueprint.context_processor
def _shared() -> dict[str, object]:
    """What the shared owner templates ask of the dashboard serving them (see admin's)."""
    from integration.engine.actions import OUTCOMES

    if "embedded_shop" not in g:
        return {}

    def nav_fields() -> Markup:
        """A GET form replaces its action's query: it carries shop, host and embedded."""
        return Markup("").join(Markup('<input type="hidden" name="{}" value="{}">').format(
            key, value) for key, value in g.embedded_query.items())

    return {"page_url": link, "form_auth": lambda: Markup(""), "nav_fields": nav_fields,
            "layout": "embedded/layout.html",
            "embedded": True, "outcomes": OUTCOMES, "shop": g.embedded_shop,
            "api_key": runtime().settings.shopify.client_id, "app_bridge": APP_BRIDGE,
            "notice": _read_notice()}


# --- notices after an action (there is no session to flash into) -----------------------------

def _notices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key), salt="droptrack-embedded-notice")


def _read_notice() -> tuple[str, str] | None:
    raw = request.args.get("notice", "")
    if not raw:
        return None
    try:
        category, message, shop = _notices().loads(raw, max_age=NOTICE_MAX_AGE)
    except (BadData, ValueError, TypeError):
        return None
    return (str(category), str(message)) if shop == g.embedded_shop else None


def _back_with(category: str, message: str, default: str) -> ResponseReturnValue:
    """303 to the page the form came from (one of ours), with the signed notice."""
    target = request.form.get("back", "")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/embedded/"):
        target = default
    notice = _notices().dumps([category, message, g.embedded_shop])
    target = target + ("&" if "?" in target else "?") + urlencode({"notice": notice})
    return redirect(target, code=303)


# --- pages -------------------------------------------------------------------------------------

def _page(template: str, code: int = 200, **context: Any) -> ResponseReturnValue:
    return render_template(template, **context), code


@blueprint.get("/session-token")
def session_token_bounce() -> ResponseReturnValue:
    """The bounce page: loads App Bridge, which reloads `shopify-reload` with a fresh token."""
    response = Response(render_template(
        "embedded/bounce.html", api_key=runtime().settings.shopify.client_id,
        app_bridge=APP_BRIDGE, message=wording.EMBEDDED_BOUNCE), status=401,
        content_type="text/html; charset=utf-8")
    response.headers[RETRY_HEADER] = "1"
    return response


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


@blueprint.get("/attention")
@session_required
def attention() -> ResponseReturnValue:
    return _page("admin/attention.html", **owner_pages.attention(runtime(),
                                                                 g.embedded_store_id))


@blueprint.get("/orders")
@session_required
def orders() -> ResponseReturnValue:
    return _page("admin/orders.html", **owner_pages.orders(runtime(), request.args, link,
                                                           store_id=g.embedded_store_id))


@blueprint.get("/orders/<int:order_id>")
@session_required
def order(order_id: int) -> ResponseReturnValue:
    context = owner_pages.order(runtime(), order_id, g.embedded_store_id)
    if context is None:
        return _refused(404, wording.EMBEDDED_NOT_FOUND.format(shop=g.embedded_shop))
    return _page("admin/order.html", **context)


@blueprint.get("/suppliers")
@session_required
def suppliers() -> ResponseReturnValue:
    return _page("admin/suppliers.html", **owner_pages.suppliers(runtime(), g.embedded_store_id),
                 error=None, form={}, which="",
                 suppliers_note=wording.EMBEDDED_SUPPLIERS_NOTE.format(shop=g.embedded_shop))


def _mappings(code: int = 200, report: Any = None, form: dict[str, str] | None = None,
              error: str | None = None) -> ResponseReturnValue:
    context = owner_pages.mappings(runtime(), "", request.args.get("q", "")[:255],
                                   store_id=g.embedded_store_id, report=report)
    return _page("admin/mappings.html", code, **context, form=form or {}, error=error)


@blueprint.get("/mappings")
@session_required
def mappings() -> ResponseReturnValue:
    return _mappings()


@blueprint.get("/mappings/export.csv")
@session_required
def export_mappings() -> ResponseReturnValue:
    with runtime().db.read() as db:
        text = export_csv(db, g.embedded_store_id)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="sku-mappings.csv"'})


@blueprint.post("/mappings/import")
@session_required
def import_mappings() -> ResponseReturnValue:
    try:
        report = owner_pages.import_mapping_file(runtime(), g.embedded_store_id,
                                                 request.files.get("file"), g.embedded_actor,
                                                 own_suppliers=True)
    except owner_pages.FormProblem as exc:
        return _mappings(exc.code, error=str(exc))
    return _mappings(report=report)


@blueprint.post("/mappings")
@session_required
def save_mapping() -> ResponseReturnValue:
    try:
        done = owner_pages.save_one_mapping(runtime(), g.embedded_store_id, request.form,
                                            g.embedded_actor, own_suppliers=True)
    except owner_pages.FormProblem as exc:
        return _mappings(exc.code, form=exc.form, error=str(exc))
    return _back_with("ok", done, link("mappings"))


@blueprint.post("/mappings/<int:mapping_id>/delete")
@session_required
def delete_mapping(mapping_id: int) -> ResponseReturnValue:
    try:
        done = owner_pages.delete_one_mapping(runtime(), mapping_id, g.embedded_actor,
                                              store_id=g.embedded_store_id)
    except ActionError as exc:
        return _back_with("error", str(exc), link("mappings"))
    return _back_with("ok", done, link("mappings"))


@blueprint.get("/settings")
@session_required
def settings_page() -> ResponseReturnValue:
    return _page("admin/settings.html", **owner_pages.settings(runtime(), g.embedded_store_id))


@blueprint.post("/settings/stores/<int:store_id>")
@session_required
def save_store_settings(store_id: int) -> ResponseReturnValue:
    if store_id != g.embedded_store_id:
        abort(404)
    try:
        done = owner_pages.save_write_back(runtime(), store_id, request.form, g.embedded_actor)
    except ActionError as exc:
        return _back_with("error", str(exc), link("settings_page"))
    return _back_with("ok", done, link("settings_page"))


@blueprint.post("/settings/tracking/<kind>/<int:holder_id>")
@session_required
def save_tracking_source(kind: str, holder_id: int) -> ResponseReturnValue:
    if kind != "store" or holder_id != g.embedded_store_id:
        abort(404)  # a supplier's source applies to every store: /admin only
    try:
        done = owner_pages.save_tracking_source(runtime(), kind, holder_id,
                                                request.form.get("tracking_source", ""),
                                                g.embedded_actor)
    except ValueError as exc:
        return _back_with("error", wording.SETTINGS_NOT_CHANGED.format(problem=exc) + ".",
                          link("settings_page"))
    return _back_with("ok", done, link("settings_page"))


# --- the owner's actions (the table shared with /admin) ---------------------------------------

def _action_view(action: owner_actions.OwnerAction) -> Callable[..., ResponseReturnValue]:
    def view(subject_id: int) -> ResponseReturnValue:
        rt = runtime()
        try:
            with rt.db.write() as db:
                if owner_actions.store_of(db, action.subject, subject_id) != \
                        g.embedded_store_id:
                    return _refused(404, wording.EMBEDDED_NOT_FOUND.format(
                        shop=g.embedded_shop))
                result = action.run(db, subject_id, request.form, rt.clock.now(),
                                    g.embedded_actor)
        except ActionError as exc:
            return _back_with("error", str(exc), link("attention"))
        return _back_with("ok", action.message(result, rt), link("attention"))
    view.__name__ = action.name
    return session_required(view)


for _action in owner_actions.ACTIONS:
    blueprint.add_url_rule(_action.rule, _action.name, _action_view(_action), methods=["POST"])


@blueprint.errorhandler(404)
def _not_found(_error: Exception) -> ResponseReturnValue:
    return _refused(404, wording.EMBEDDED_NOT_FOUND.format(shop=g.get("embedded_shop", "")))
