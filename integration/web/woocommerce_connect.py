"""WooCommerce connect routes: the /wc-auth/v1 key request and its callback.

`GET /woocommerce/connect?store_url=...` only shows a confirmation naming the store; nothing
starts on a GET (a link opened by a signed-in owner must not connect a stranger's store). The
confirmation's form POSTs back with the session's CSRF token, and only then is the owner sent
to the store's consent page. The request is bound to the callback by `user_id`: a token signed
with DropTrack's secret key, carrying the store URL and a random nonce, valid for
`[woocommerce] connect_request_minutes` and usable once (the nonce becomes the idempotency key
of the store's setup job). Each start is audited with a digest of its nonce, and a callback is
taken only for the latest attempt started for that store: an older link is dead once a newer
one exists. The callback stores the keys encrypted and answers exactly 200; anything else makes
WooCommerce delete the keys. No call to the store happens in the request: the setup job
creates the webhooks.

WooCommerce refuses a `callback_url` that does not start with https:// (class-wc-auth.php,
"The callback_url needs to be over SSL"; no exception for loopback), so the callback is
DropTrack's https address: `public_url` when it is https, else the address this request came
to when it came over https (DropTrack's own TLS, or a trusted proxy's X-Forwarded-Proto) on
`public_url`'s host. With neither, the owner is told what to do before the store is asked.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.url_safety import UnsafeURLError, check_outbound_url
from core.wording import woocommerce_needs_https
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.storage.models import AuditLog, Store
from integration.sync.woocommerce.store import resume_store_jobs
from integration.sync.woocommerce.webhooks import WEBHOOK_HEALTH_JOB
from integration.web.admin.auth import load_user
from integration.web.proxies import reached_over_https
from integration.web.security import allow_form_redirects_to_stores, csrf_exempt, protect

blueprint = Blueprint("woocommerce_connect", __name__)
protect(blueprint)
CONNECT_REQUESTED = "store.connect_requested"

SIGNING_CONTEXT = "droptrack.woocommerce.connect"
SCOPE = "read_write"
# Demo mode may run without security.secret_key: requests then last as long as the process.
_PROCESS_KEY = secrets.token_urlsafe(32)


class ConnectRefused(Exception):
    """The callback is not one DropTrack asked for; WooCommerce will delete the keys."""


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["droptrack"]
    return runtime


def _serializer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime.settings.security.secret_key or _PROCESS_KEY,
                                  SIGNING_CONTEXT)


def _read_token(runtime: Runtime, token: str) -> dict[str, str]:
    max_age = runtime.settings.woocommerce.connect_request_minutes * 60
    try:
        data: Any = _serializer(runtime).loads(token, max_age=max_age)
    except BadSignature:
        raise ConnectRefused("unknown or expired connect request") from None
    if not isinstance(data, dict) or not {"url", "nonce"} <= set(data):
        raise ConnectRefused("malformed connect request")
    return {"url": str(data["url"]), "nonce": str(data["nonce"])}


def _owner_or_login() -> tuple[str | None, ResponseReturnValue | None]:
    """The actor starting a connection, or the redirect to sign in. Only a signed-in owner may
    start one (it adds a store to this DropTrack); demo mode, which has no owner accounts,
    connects its sandbox store without signing in."""
    if _runtime().settings.demo:
        return "demo", None
    user = load_user()
    if user is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else (
            "/woocommerce/connect")
        return None, redirect(url_for("admin.login", next=target))
    return user.actor, None


def _checked_store_url(raw_url: str) -> str:
    url = stores.normalize_store_url(raw_url)
    check_outbound_url(url, allow_loopback_http=_runtime().settings.loopback_http_allowed)
    return url


def https_base() -> str | None:
    """DropTrack's https address for WooCommerce's callback, or None when there is none.

    `public_url` when it is https. Otherwise, when this request came over https, the same
    host as `public_url` over https: the port this request came to when it named that host
    (DropTrack's own TLS on another port), none when it named another (a proxy passing its
    upstream's address). Another host never comes from the request: the store posts the keys
    to this address."""
    settings = _runtime().settings
    public = urlsplit(settings.app.public_url)
    if public.scheme == "https":
        return settings.app.public_url
    if not reached_over_https(request.environ, settings) or not public.hostname:
        return None
    asked = urlsplit(f"//{request.host}")
    netloc = request.host if asked.hostname == public.hostname else (
        f"[{public.hostname}]" if ":" in public.hostname else public.hostname)
    return urlunsplit(("https", netloc, public.path, "", ""))


def _needs_https() -> str:
    return woocommerce_needs_https(_runtime().settings.app.public_url)


def _attempt_digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()[:32]


@blueprint.get("/woocommerce/connect")
def connect() -> ResponseReturnValue:
    """The address form, or with `store_url` the confirmation naming the store. Read-only."""
    _, login = _owner_or_login()
    if login is not None:
        return login
    raw_url = request.args.get("store_url", "").strip()
    if https_base() is None:
        return render_template("woocommerce/connect.html", error=_needs_https(),
                               store_url=raw_url, needs_https=True), 400 if raw_url else 200
    if not raw_url:
        return render_template("woocommerce/connect.html", error=None, store_url="")
    try:
        url = _checked_store_url(raw_url)
    except (stores.StoreError, UnsafeURLError) as bad:
        return render_template("woocommerce/connect.html", error=str(bad),
                               store_url=raw_url), 400
    allow_form_redirects_to_stores()
    return render_template("woocommerce/confirm.html", store_url=url)


@blueprint.post("/woocommerce/connect")
def connect_post() -> ResponseReturnValue:
    """The confirmed start (CSRF-checked by `protect`): record the attempt, go to the store."""
    runtime = _runtime()
    actor, login = _owner_or_login()
    if login is not None or actor is None:
        return login or redirect(url_for("admin.login"))
    raw_url = request.form.get("store_url", "").strip()
    if request.form.get("confirm") != "yes":
        return render_template("woocommerce/connect.html", store_url=raw_url,
                               error="Confirm the store address to connect it."), 400
    base = https_base()
    if base is None:
        return render_template("woocommerce/connect.html", error=_needs_https(),
                               store_url=raw_url, needs_https=True), 400
    try:
        url = _checked_store_url(raw_url)
    except (stores.StoreError, UnsafeURLError) as bad:
        return render_template("woocommerce/connect.html", error=str(bad),
                               store_url=raw_url), 400
    nonce = secrets.token_urlsafe(24)
    with runtime.db.write() as session:
        record_audit(session, runtime.clock.now(), actor, CONNECT_REQUESTED,
                     subject=f"{stores.WOOCOMMERCE}:{url}",
                     details={"attempt": _attempt_digest(nonce)})
    token = _serializer(runtime).dumps({"url": url, "nonce": nonce})
    query = urlencode({
        "app_name": runtime.settings.woocommerce.app_name, "scope": SCOPE, "user_id": token,
        "return_url": f"{base}/woocommerce/connect/return",
        "callback_url": f"{base}/woocommerce/connect/callback",
    })
    return redirect(f"{url}/wc-auth/v1/authorize?{query}")


@blueprint.post("/woocommerce/connect/callback")
@csrf_exempt  # WooCommerce's server calls it; the signed, single-use user_id is the check
def callback() -> ResponseReturnValue:
    runtime = _runtime()
    body = request.get_json(silent=True)
    try:
        if not isinstance(body, dict):
            raise ConnectRefused("the callback body is not a JSON object")
        request_data = _read_token(runtime, str(body.get("user_id") or ""))
        key, secret = str(body.get("consumer_key") or ""), str(body.get("consumer_secret") or "")
        if not key or not secret:
            raise ConnectRefused("the callback carries no keys")
        if body.get("key_permissions") != SCOPE:
            raise ConnectRefused(f"keys with {body.get('key_permissions')!r} permissions, "
                                 f"not {SCOPE}")
        store_id = _save_keys(runtime, request_data, key, secret)
    except ConnectRefused as refused:
        current_app.logger.warning("woocommerce connect callback refused: %s", refused)
        return "refused", 400
    current_app.logger.info("woocommerce store %d connected", store_id)
    return "ok", 200


def _save_keys(runtime: Runtime, request_data: dict[str, str], key: str, secret: str) -> int:
    now = runtime.clock.now()
    credentials = runtime.secrets.encrypt_json({"consumer_key": key, "consumer_secret": secret})
    with runtime.db.write() as session:
        _require_latest_attempt(session, request_data)
        store = session.scalar(select(Store).where(Store.platform == stores.WOOCOMMERCE,
                                                   Store.domain == request_data["url"]))
        if store is None:
            store = Store(platform=stores.WOOCOMMERCE, domain=request_data["url"],
                          name=request_data["url"], state="active", settings={},
                          webhook_secret_encrypted=runtime.secrets.encrypt(
                              secrets.token_urlsafe(32)),
                          created_at=now, updated_at=now)
            session.add(store)
        store.credentials_encrypted, store.state, store.updated_at = credentials, "active", now
        session.flush()
        # The nonce's setup job exists once: a replayed callback is refused and rolled back.
        if not outbox.enqueue(session, WEBHOOK_HEALTH_JOB,
                              f"woocommerce.connect:{request_data['nonce']}",
                              {"store_id": store.id}, now, store_id=store.id,
                              serial_key=f"{WEBHOOK_HEALTH_JOB}:{store.id}"):
            raise ConnectRefused("this connect request was already used")
        record_audit(session, now, "wc-auth", "store.connected", store_id=store.id,
                     subject=f"{stores.WOOCOMMERCE}:{store.domain}")
        resume_store_jobs(session, store.id, now)  # new keys: what the old ones stopped
        return store.id


def _require_latest_attempt(session: Session, request_data: dict[str, str]) -> None:
    latest = session.scalar(
        select(AuditLog.details).where(
            AuditLog.action == CONNECT_REQUESTED,
            AuditLog.subject == f"{stores.WOOCOMMERCE}:{request_data['url']}")
        .order_by(AuditLog.id.desc()).limit(1))
    if not latest or latest.get("attempt") != _attempt_digest(request_data["nonce"]):
        raise ConnectRefused("not the pending connect request for this store")


@blueprint.get("/woocommerce/connect/return")
def connect_return() -> ResponseReturnValue:
    runtime = _runtime()
    store_id = None
    if request.args.get("success") == "1":
        try:
            url = _read_token(runtime, request.args.get("user_id", ""))["url"]
        except ConnectRefused:
            url = ""
        with runtime.db.read() as session:
            store_id = session.scalar(select(Store.id).where(
                Store.platform == stores.WOOCOMMERCE, Store.domain == url,
                Store.credentials_encrypted.is_not(None)))
    return render_template("woocommerce/connected.html", store_id=store_id)
