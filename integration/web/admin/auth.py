"""Signing in and out: password (argon2), optional TOTP, rate-limited, session cookie.

The session holds the user id, the user's session version (bumped on password change, so old
cookies stop working) and when it was issued; Flask signs it with security.secret_key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from integration.accounts import owners as accounts
from integration.limits import logins as ratelimit
from integration.storage.accounts import User
from integration.web.admin import blueprint
from integration.web.security import client_address, runtime

PUBLIC_ENDPOINTS = frozenset({"admin.login", "admin.login_post", "admin.totp",
                              "admin.totp_post", "admin.static"})
WRONG_LOGIN = "That e-mail and password do not match an account. Check both and try again."
LOCKED = ("Too many failed sign-ins. For your safety sign-in is paused for {minutes} minutes; "
          "try again later.")


@dataclass(frozen=True)
class CurrentUser:
    id: int
    email: str

    @property
    def actor(self) -> str:
        return f"user:{self.email}"


def _issued_at() -> float:
    return runtime().clock.now().timestamp()


def _start_session(user: User) -> None:
    session.clear()  # a fresh session (and CSRF token) on sign-in: no session fixation
    session.permanent = True
    session["uid"], session["ver"], session["iat"] = user.id, user.session_version, _issued_at()


def load_user() -> CurrentUser | None:
    uid, version, issued = session.get("uid"), session.get("ver"), session.get("iat")
    if not isinstance(uid, int) or not isinstance(version, int) or not isinstance(
            issued, int | float):
        return None
    rt = runtime()
    if _issued_at() - issued > rt.settings.admin.session_hours * 3600:
        return None
    with rt.db.read() as db:
        user = db.get(User, uid)
        if user is None or user.disabled or user.session_version != version:
            return None
        return CurrentUser(user.id, user.email)


@blueprint.before_request
def _require_login() -> ResponseReturnValue | None:
    g.user = None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    user = load_user()
    if user is None:
        session.pop("uid", None)
        target = request.full_path if request.method == "GET" else url_for("admin.overview")
        return redirect(url_for("admin.login", next=target.rstrip("?")))
    g.user = user
    return None


# Where sign-in may send the owner on: read-only pages only (a GET there changes nothing; a
# state-changing flow such as connecting a store needs the owner's explicit POST).
NEXT_ENDPOINT_PREFIXES = ("admin.",)
NEXT_ENDPOINTS = frozenset({"woocommerce_connect.connect"})
NEXT_NEVER = PUBLIC_ENDPOINTS


def _safe_next(target: str | None) -> str:
    # Only our own read-only paths: an open redirect would help phishing.
    if target and _is_safe_page(target):
        return target
    return url_for("admin.overview")


def _is_safe_page(target: str) -> bool:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return False
    try:
        endpoint, _ = current_app.url_map.bind("").match(parts.path, method="GET")
    except HTTPException:
        return False
    return endpoint not in NEXT_NEVER and (
        endpoint in NEXT_ENDPOINTS or endpoint.startswith(NEXT_ENDPOINT_PREFIXES))


@blueprint.get("/login")
def login() -> ResponseReturnValue:
    return render_template("admin/login.html", email="", error=None,
                           next=request.args.get("next", ""))


@blueprint.post("/login")
def login_post() -> ResponseReturnValue:
    rt = runtime()
    admin = rt.settings.admin
    email = accounts.normalize_email(request.form.get("email", ""))[:320]
    password = request.form.get("password", "")[:1024]
    next_url = request.form.get("next", "")
    address = client_address()
    # One address + account, one address whatever the account (spraying), one account from
    # any address (guessing from many): the last one backs off instead of locking the owner
    # out, and does not slow a browser that signed in to this account before.
    pair_key, address_key, account_key = (
        f"login:{address}:{email}", f"login-address:{address}", f"login-account:{email}")
    checked = [pair_key, address_key] + ([] if _known_device(email) else [account_key])
    now = rt.clock.now()
    lockout = timedelta(minutes=admin.login_lockout_minutes)

    def fail(message: str, code: int) -> ResponseReturnValue:
        return render_template("admin/login.html", email=email, error=message,
                               next=next_url), code

    with rt.db.write() as db:
        waits = [until for key in checked
                 if (until := ratelimit.blocked_until(db, key, now)) is not None]
        if waits:
            return fail(_paused_message(max(waits) - now), 429)
        user = accounts.verify_password(db, email, password)
        if user is None:
            ratelimit.block_if_exhausted(db, pair_key, now, admin.login_max_failures,
                                         lockout, lockout)
            ratelimit.block_if_exhausted(db, address_key, now,
                                         admin.login_address_max_failures, lockout, lockout)
            ratelimit.back_off(db, account_key, now, admin.login_max_failures,
                               timedelta(seconds=admin.login_backoff_seconds), lockout)
            failed = True
        else:
            ratelimit.clear(db, pair_key)
            ratelimit.clear(db, account_key)
            failed = False
            if user.totp_secret_encrypted is None:
                user.last_login_at = now
            snapshot = (user.id, user.session_version, user.totp_secret_encrypted is not None)
    if failed:
        return fail(WRONG_LOGIN, 401)
    user_id, version, needs_totp = snapshot
    if needs_totp:
        session.clear()
        session["pending_uid"], session["pending_at"] = user_id, time.time()
        return redirect(url_for("admin.totp", next=next_url))
    session.clear()
    session.permanent = True
    session["uid"], session["ver"], session["iat"] = user_id, version, _issued_at()
    return _remember_device(redirect(_safe_next(next_url)), email)


def _paused_message(wait: timedelta) -> str:
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    return LOCKED.format(minutes=minutes)


DEVICE_COOKIE = "droptrack_device"
DEVICE_DAYS = 90


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", "droptrack.known-device")


def _known_device(email: str) -> bool:
    """Whether this browser signed in to `email`'s account before (a signed cookie)."""
    cookie = request.cookies.get(DEVICE_COOKIE, "")
    if not cookie or not current_app.secret_key:
        return False
    try:
        known = _device_serializer().loads(cookie, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return False
    return isinstance(known, list) and email in known


def _remember_device(response: Response, email: str) -> Response:
    if not current_app.secret_key:
        return response
    try:
        known = _device_serializer().loads(request.cookies.get(DEVICE_COOKIE, ""),
                                           max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        known = []
    accounts_seen = [email, *[e for e in known if isinstance(e, str) and e != email][:4]]
    response.set_cookie(DEVICE_COOKIE, _device_serializer().dumps(accounts_seen),
                        max_age=DEVICE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", True),
                        path="/admin")
    return response


@blueprint.get("/login/code")
def totp() -> ResponseReturnValue:
    if not isinstance(session.get("pending_uid"), int):
        return redirect(url_for("admin.login"))
    return render_template("admin/totp.html", error=None, next=request.args.get("next", ""))


@blueprint.post("/login/code")
def totp_post() -> ResponseReturnValue:
    rt = runtime()
    uid, started = session.get("pending_uid"), session.get("pending_at")
    if not isinstance(uid, int) or not isinstance(started, float) or time.time() - started > 300:
        session.clear()
        return redirect(url_for("admin.login"))
    key, account_key = f"totp:{client_address()}:{uid}", f"totp-account:{uid}"
    now = rt.clock.now()
    admin = rt.settings.admin
    lockout = timedelta(minutes=admin.login_lockout_minutes)
    with rt.db.write() as db:
        waits = [until for k in (key, account_key)
                 if (until := ratelimit.blocked_until(db, k, now)) is not None]
        if waits:
            session.clear()
            return render_template("admin/login.html", email="", next="",
                                   error=_paused_message(max(waits) - now)), 429
        ok = accounts.verify_totp(db, rt.secrets, uid, request.form.get("code", "")[:12], now)
        if not ok:
            ratelimit.block_if_exhausted(db, key, now, admin.login_max_failures, lockout,
                                         lockout)
            ratelimit.back_off(db, account_key, now, admin.login_max_failures,
                               timedelta(seconds=admin.login_backoff_seconds), lockout)
        else:
            ratelimit.clear(db, account_key)
        user = db.get_one(User, uid)
        if ok:
            user.last_login_at = now
    if not ok:
        return render_template("admin/totp.html", next=request.form.get("next", ""),
                               error="That code is not right or was already used. Enter the "
                               "current code from your authenticator app."), 401
    _start_session(user)
    return _remember_device(redirect(_safe_next(request.form.get("next"))), user.email)


@blueprint.post("/logout")
def logout() -> Response:
    """Ends the session on the server too: the account's session version moves on, so a
    copy of this cookie (or any other session of the account) no longer signs anyone in."""
    uid = session.get("uid")
    if isinstance(uid, int):
        rt = runtime()
        with rt.db.write() as db:
            user = db.get(User, uid)
            if user is not None and user.session_version == session.get("ver"):
                user.session_version += 1
    session.clear()
    return redirect(url_for("admin.login"))
