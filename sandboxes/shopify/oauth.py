"""Authorization code grant, token refresh and client credentials, as Shopify serves them."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from flask import Blueprint, Response, current_app, jsonify, render_template, request
from werkzeug.utils import redirect
from werkzeug.wrappers import Response as WerkzeugResponse

from sandboxes.shopify.admin_api import shop_from_request
from sandboxes.shopify.sandbox import ShopifySandbox
from sandboxes.shopify.signing import oauth_hmac, signed_query
from sandboxes.shopify.state import (
    AUTHORIZATION_CODE_TTL,
    CLIENT_CREDENTIALS_TOKEN_TTL,
    REFRESH_TOKEN_TTL,
    AccessToken,
    AuthorizationCode,
    scope_set,
)

oauth = Blueprint("shopify_oauth", __name__)

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105
SESSION_TOKEN_TTL = timedelta(seconds=60)
EXTENSION_TOKEN_TTL = timedelta(minutes=5)


def _sandbox() -> ShopifySandbox:
    found: ShopifySandbox = current_app.extensions["sandbox"]
    return found


def _error(status: int, error: str, description: str) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _token_body(token: AccessToken, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": token.token, "scope": ",".join(sorted(token.scopes))}
    if token.expires_at is not None:
        body["expires_in"] = int((token.expires_at - now).total_seconds())
        body["refresh_token"] = token.refresh_token
        body["refresh_token_expires_in"] = int(REFRESH_TOKEN_TTL.total_seconds())
    return body


@oauth.get("/admin/oauth/authorize")
@oauth.get("/shops/<path_shop>/admin/oauth/authorize")
def authorize(path_shop: str | None = None) -> Response | str:
    box = _sandbox()
    shop = shop_from_request(path_shop) or request.args.get("shop", "")
    app = box.state.apps.get(request.args.get("client_id", ""))
    if box.state.shop(shop) is None or app is None:
        return Response("Oauth error invalid_request: The client_id or shop is not valid",
                        status=400)
    redirect_uri = request.args.get("redirect_uri", "")
    if app.redirect_urls and redirect_uri not in app.redirect_urls:
        return Response("Oauth error invalid_request: The redirect_uri is not whitelisted",
                        status=400)
    scopes = scope_set(request.args.get("scope", ""))
    return render_template("sandbox/shopify/consent.html", app=app, shop=shop,
                           scopes=sorted(scopes), query=request.query_string.decode(),
                           action=request.path)


@oauth.post("/admin/oauth/authorize")
@oauth.post("/shops/<path_shop>/admin/oauth/authorize")
def grant(path_shop: str | None = None) -> WerkzeugResponse:
    """The merchant pressed "Install app": issue a code and redirect, signed with the secret."""
    box = _sandbox()
    shop = shop_from_request(path_shop) or request.args.get("shop", "")
    app = box.state.apps[request.args["client_id"]]
    redirect_uri = request.args["redirect_uri"]
    now = box.clock.now()
    code = AuthorizationCode(code=secrets.token_hex(16), shop=shop, client_id=app.client_id,
                             scopes=scope_set(request.args.get("scope", "")),
                             redirect_uri=redirect_uri, expires_at=now + AUTHORIZATION_CODE_TTL)
    with box.state.lock:
        box.state.codes[code.code] = code
        box.state.shops[shop].installed_client_ids.add(app.client_id)
    host = f"admin.shopify.com/store/{shop.split('.')[0]}"
    params = {"code": code.code, "host": base64.b64encode(host.encode()).decode().rstrip("="),
              "shop": shop, "state": request.args.get("state", ""),
              "timestamp": str(int(now.timestamp()))}
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return redirect(f"{redirect_uri}{separator}{signed_query(params, app.client_secret)}")


@oauth.post("/admin/oauth/access_token")
@oauth.post("/shops/<path_shop>/admin/oauth/access_token")
def access_token(path_shop: str | None = None) -> Response:
    box = _sandbox()
    shop = shop_from_request(path_shop) or ""
    data: dict[str, Any] = request.get_json(silent=True) or request.form.to_dict()
    app = box.state.apps.get(str(data.get("client_id", "")))
    if box.state.shop(shop) is None:
        return _error(404, "shop_not_found", "Shop not found")
    if app is None or not secrets.compare_digest(str(data.get("client_secret", "")),
                                                 app.client_secret):
        return _error(400, "invalid_client", "Client authentication failed")
    grant_type = data.get("grant_type")
    now = box.clock.now()
    with box.state.lock:
        if grant_type == "refresh_token":
            old = box.state.refresh_tokens.get(str(data.get("refresh_token", "")))
            if (old is None or old.client_id != app.client_id or old.shop != shop
                    or old.revoked or old.refresh_expires_at is None
                    or now >= old.refresh_expires_at):
                return _error(400, "invalid_grant", "The refresh token is invalid or expired")
            # Rotation: a new refresh token each time; the old one keeps working until the
            # new token is first used (a lost answer can be retried with the old one).
            box.state.retire_predecessor(old)
            token = box.state.issue_token(shop, app.client_id, old.scopes, expiring=True)
            token.replaces = old.refresh_token
            return jsonify(_token_body(token, now))
        if grant_type == TOKEN_EXCHANGE_GRANT:
            return _token_exchange(box, app, shop, data, now)
        if grant_type == "client_credentials":
            if not app.custom:
                return _error(400, "unauthorized_client",
                              "Client credentials grant is only available to apps created "
                              "by the merchant (custom apps)")
            box.state.shops[shop].installed_client_ids.add(app.client_id)
            token = box.state.issue_token(shop, app.client_id, app.scopes, expiring=True,
                                          ttl=CLIENT_CREDENTIALS_TOKEN_TTL)
            box.state.refresh_tokens.pop(str(token.refresh_token), None)
            token.refresh_token = None
            body = _token_body(token, now)
            body.pop("refresh_token", None)
            body.pop("refresh_token_expires_in", None)
            return jsonify(body)
        code = box.state.codes.get(str(data.get("code", "")))
        if (code is None or code.used or code.client_id != app.client_id or code.shop != shop
                or now >= code.expires_at):
            return _error(400, "invalid_request",
                          "The authorization code was not found or was already used")
        code.used = True
        expiring = str(data.get("expiring", "0")) == "1"
        token = box.state.issue_token(shop, app.client_id, code.scopes, expiring=expiring)
        return jsonify(_token_body(token, now))


def signed_install_url(base_url: str, shop: str, secret: str, *, timestamp: int,
                       path: str = "/shopify/install", **extra: str) -> str:
    """What Shopify opens when a merchant installs from the admin: `?hmac&shop&timestamp`."""
    params = {"shop": shop, "timestamp": str(timestamp), **extra}
    return f"{base_url.rstrip('/')}{path}?{signed_query(params, secret)}"


def verify_callback(query: dict[str, str], secret: str) -> bool:
    """Independent check of an OAuth callback's `hmac` (for tests of the sandbox itself)."""
    return secrets.compare_digest(query.get("hmac", ""), oauth_hmac(query, secret))


def authorize_url(base_url: str, shop: str, client_id: str, scopes: str, redirect_uri: str,
                  state: str) -> str:
    query = urlencode({"client_id": client_id, "scope": scopes, "redirect_uri": redirect_uri,
                       "state": state})
    return f"{base_url.rstrip('/')}/shops/{shop}/admin/oauth/authorize?{query}"


# ------------------------------------------------------------------ session tokens (App Bridge)
def _signed_token(box: ShopifySandbox, shop: str, client_id: str, sub: str | None, *,
                  secret: str | None, audience: str | None, lifetime: timedelta) -> str:
    """Shopify's session tokens (App Bridge and UI extensions alike): HS256 JWT signed with the
    app's client secret; `iss` the shop's admin, `dest` the shop, `aud` the client id, `sub`
    when someone is signed in, `exp`/`nbf`/`iat` in seconds, `jti` and `sid` random."""
    app = box.state.apps[client_id]
    issued = int(box.clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": f"https://{shop}/admin", "dest": f"https://{shop}",
        "aud": audience if audience is not None else app.client_id,
        "exp": issued + int(lifetime.total_seconds()), "nbf": issued, "iat": issued,
        "jti": secrets.token_hex(16), "sid": secrets.token_hex(16)}
    if sub is not None:
        claims["sub"] = sub
    return jwt.encode(claims, secret if secret is not None else app.client_secret,
                      algorithm="HS256")


def issue_session_token(box: ShopifySandbox, shop: str, client_id: str, *, user_id: str = "1",
                        secret: str | None = None, audience: str | None = None,
                        lifetime: timedelta = SESSION_TOKEN_TTL) -> str:
    """What App Bridge's `shopify.idToken()` gives the embedded app: an HS256 JWT signed with
    the app's client secret (`secret`/`audience` override it for tests of forgeries)."""
    return _signed_token(box, shop, client_id, user_id, secret=secret, audience=audience,
                         lifetime=lifetime)


def issue_customer_account_token(box: ShopifySandbox, shop: str, client_id: str, *,
                                 customer_id: str | None = None, secret: str | None = None,
                                 audience: str | None = None,
                                 lifetime: timedelta = EXTENSION_TOKEN_TTL) -> str:
    """What a customer account UI extension's `shopify.sessionToken.get()` gives: the same
    claims, `sub` the customer's GID only when the customer is signed in (order status pages
    render before login too; then there is no `sub`), valid 5 minutes."""
    sub = f"gid://shopify/Customer/{customer_id}" if customer_id else None
    return _signed_token(box, shop, client_id, sub, secret=secret, audience=audience,
                         lifetime=lifetime)


@oauth.post("/shops/<path_shop>/admin/apps/<client_id>/session_token")
def session_token(path_shop: str, client_id: str) -> Response:
    """Sandbox only: stands in for App Bridge inside the admin (the merchant is signed in)."""
    box = _sandbox()
    if box.state.shop(path_shop) is None or client_id not in box.state.apps:
        return _error(404, "not_found", "Shop or app not found")
    return jsonify({"token": issue_session_token(box, path_shop, client_id)})


@oauth.post("/shops/<path_shop>/account/apps/<client_id>/session_token")
def customer_account_session_token(path_shop: str, client_id: str) -> Response:
    """Sandbox only: stands in for the customer account host rendering the app's extension
    (`?customer=<id>` for a signed-in customer; without it, the pre-login order status page)."""
    box = _sandbox()
    if box.state.shop(path_shop) is None or client_id not in box.state.apps:
        return _error(404, "not_found", "Shop or app not found")
    return jsonify({"token": issue_customer_account_token(
        box, path_shop, client_id, customer_id=request.args.get("customer") or None)})


def _token_exchange(box: ShopifySandbox, app: Any, shop: str, data: dict[str, Any],
                    now: datetime) -> Response:
    """Token exchange (managed install): a valid session token of this app for this shop
    becomes an offline access token; `expiring=1` gives 60 min + a rotating refresh token."""
    if data.get("subject_token_type") != ID_TOKEN_TYPE:
        return _error(400, "invalid_request", "subject_token_type must be an id_token")
    if data.get("requested_token_type") != OFFLINE_TOKEN_TYPE:
        return _error(400, "invalid_request", "Only offline access tokens are supported here")
    try:
        claims = jwt.decode(str(data.get("subject_token", "")), app.client_secret,
                            algorithms=["HS256"], audience=app.client_id,
                            options={"verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except jwt.PyJWTError:
        return _error(400, "invalid_subject_token", "The session token is invalid")
    moment = now.timestamp()
    if not (int(claims.get("nbf", 0)) - 5 <= moment < int(claims.get("exp", 0)) + 5):
        return _error(400, "invalid_subject_token", "The session token has expired")
    if urlsplit(str(claims.get("dest", ""))).hostname != shop:
        return _error(400, "invalid_subject_token", "The session token is for another shop")
    box.state.shops[shop].installed_client_ids.add(app.client_id)
    expiring = str(data.get("expiring", "0")) == "1"
    token = box.state.issue_token(shop, app.client_id, app.scopes, expiring=expiring)
    return jsonify(_token_body(token, now))
