"""Sessions, CSRF and security headers for DropTrack's HTML pages (dashboard, tracking page).

`protect(blueprint)` wires all three onto a blueprint, so app.py needs no change;
`configure_security(app)` is the app-wide step it runs once (idempotent).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Blueprint, Flask, Request, abort, current_app, g, request, session
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Response

from integration.kernel.runtime import Runtime
from integration.web import proxies

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SESSION_CSRF = "_csrf"
F = TypeVar("F", bound=Callable[..., Any])
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_HTTP = ("http://127.0.0.1", "http://localhost", "http://[::1]")


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["droptrack"]
    return rt


def configure_security(app: Flask | App) -> None:
    """Session cookie flags: HttpOnly, SameSite, and Secure unless served on loopback http."""
    settings: Runtime = app.extensions["droptrack"]
    admin = settings.settings.admin
    public_url = settings.settings.app.public_url
    app.config.update(
        SESSION_COOKIE_NAME="droptrack_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=not public_url.startswith(_LOOPBACK_HTTP),
        SESSION_COOKIE_SAMESITE=admin.cookie_samesite,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=admin.session_hours),
    )
    app.session_interface = CookieSessions()  # type: ignore[union-attr]


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus the work for requests that carry no cookie at all
    (webhooks, API calls): those get a new empty session without a signing serializer."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def csrf_token() -> str:
    """The session's CSRF token (made on first use); every form posts it back."""
    token = session.get(_SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_SESSION_CSRF] = token
    return token


def csrf_valid() -> bool:
    expected = session.get(_SESSION_CSRF)
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    return isinstance(expected, str) and hmac.compare_digest(expected.encode(), given.encode())


def _check_csrf() -> None:
    if request.method in _SAFE_METHODS:
        return
    if getattr(current_app.view_functions.get(request.endpoint or ""), "csrf_exempt", False):
        return
    if not csrf_valid():
        abort(400, description="csrf")


def csp_nonce() -> str:
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return str(nonce)


def allow_form_redirects_to_stores() -> None:
    """For pages whose forms end on a store's own site (connect Shopify / WooCommerce, and
    signing in on the way there): browsers apply `form-action` to every redirect after a
    submit, so these pages also allow https (and loopback http where the sandboxes run)."""
    extra = ["https:"]
    if runtime().settings.loopback_http_allowed:
        extra += ["http://127.0.0.1:*", "http://localhost:*"]
    g.form_action_extra = extra


def content_security_policy(frame_ancestors: list[str], nonce: str,
                            form_action_extra: list[str] | None = None, *,
                            script_extra: list[str] | None = None,
                            ancestors_only: list[str] | None = None) -> str:
    """`ancestors_only` replaces `'self' + frame_ancestors` (the embedded admin: exactly the
    shop's admin origins)."""
    ancestors = " ".join(ancestors_only if ancestors_only is not None
                         else ["'self'", *frame_ancestors])
    form_action = " ".join(["'self'", *(form_action_extra or [])])
    scripts = " ".join(["'self'", f"'nonce-{nonce}'", *(script_extra or [])])
    return "; ".join([
        "default-src 'none'",
        f"script-src {scripts}",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        f"form-action {form_action}",
        "base-uri 'none'",
        f"frame-ancestors {ancestors}",
    ])


def _add_headers(response: Response) -> Response:
    admin = runtime().settings.admin
    headers = response.headers
    headers.setdefault("Content-Security-Policy",
                       content_security_policy(admin.frame_ancestors, csp_nonce(),
                                               g.get("form_action_extra")))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint and not request.endpoint.endswith(".static"):
        # Pages show personal data: never keep them in a shared or back-button cache.
        headers.setdefault("Cache-Control", "no-store")
    return response


def csrf_exempt(view: F) -> F:
    """For endpoints that take no cookies (token or anonymous JSON APIs)."""
    view.csrf_exempt = True  # type: ignore[attr-defined]
    return view


def protect(blueprint: Blueprint) -> None:
    """Cookie flags (once per app), CSRF on every unsafe request, headers on every answer."""

    def _setup(state: BlueprintSetupState) -> None:
        configure_security(state.app)

    blueprint.record_once(_setup)
    blueprint.before_request(_check_csrf)
    blueprint.after_request(_add_headers)
    blueprint.context_processor(lambda: {"csrf_token": csrf_token, "csp_nonce": csp_nonce,
                                         "csrf_field": CSRF_FIELD})


def client_address() -> str:
    """The caller's address, through the trusted reverse proxies (integration/web/proxies.py)."""
    return proxies.client_address(request.environ, runtime().settings)
