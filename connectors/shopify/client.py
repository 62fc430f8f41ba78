"""The only code that talks HTTP to Shopify: Admin GraphQL calls and the OAuth token endpoint.

GraphQL goes through `shopify_app.admin_graphql_request` (with its retries off: this client
owns retrying, so a throttled or expired call is retried exactly as DropTrack decides), the
token refresh and client-credentials exchange through shopifyapp's helpers. shopifyapp has no
authorization-code helper, so `exchange_code` posts to the token endpoint itself.

Every answer's `extensions.cost.throttleStatus` feeds the store's `CostLimiter`; THROTTLED is
waited out (bounded), a 401 refreshes the token once, and failures become RetryableError or
PermanentError with Shopify's own message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import shopify_app
from shopify_app.graphql.admin_graphql import admin_graphql_request

from connectors.http import USER_AGENT, parse_retry_after
from connectors.shopify.graphql import Operation
from connectors.shopify.ratelimit import CostLimiter, ThrottleStatus
from connectors.shopify.session_tokens import SessionToken
from connectors.shopify.tokens import CLIENT_CREDENTIALS, Credentials
from core import budget
from core.clock import Clock
from core.errors import CredentialsRefused, PermanentError, RetryableError

log = logging.getLogger(__name__)

MAX_THROTTLED_RETRIES = 5
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
RETRYABLE_CODES = frozenset({"THROTTLED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE",
                             "TIMEOUT"})


class ShopifyAuthError(CredentialsRefused):
    """The token is invalid or revoked and could not be renewed (e.g. the app was removed)."""


class AdminBaseTransport(httpx.BaseTransport):
    """Tests and demo: sends `https://<shop>.myshopify.com/<path>` to `<base>/shops/<shop>/<path>`
    (the sandbox serves every shop under its own path prefix)."""

    def __init__(self, base_url: str) -> None:
        self.base = httpx.URL(base_url.rstrip("/"))
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host or ""
        if host.endswith(".myshopify.com"):
            path = f"{self.base.path.rstrip('/')}/shops/{host}{request.url.path}"
            url = self.base.copy_with(path=path, query=request.url.query or None)
            request = httpx.Request(request.method, url, headers=[
                (k, v) for k, v in request.headers.multi_items() if k.lower() != "host"],
                content=request.read(), extensions=request.extensions)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def http_client(admin_base_url: str = "") -> httpx.Client:
    transport = AdminBaseTransport(admin_base_url) if admin_base_url else None
    return httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False,
                        headers={"User-Agent": USER_AGENT})


def shop_handle(domain: str) -> str:
    """`name.myshopify.com` -> `name` (shopifyapp adds the suffix itself)."""
    return domain.removesuffix(".myshopify.com")


def _expiry(now: datetime, seconds: Any) -> datetime | None:
    try:
        return now + timedelta(seconds=int(seconds)) if seconds else None
    except (TypeError, ValueError):
        return None


def _lib_expiry(now: datetime, lib_iso: str | None) -> datetime | None:
    # shopifyapp turns expires_in into a wall-clock timestamp; keep the remaining lifetime and
    # anchor it on DropTrack's clock (tests and the demo run on a different one).
    if not lib_iso:
        return None
    moment = datetime.fromisoformat(lib_iso.replace("Z", "+00:00"))
    return now + timedelta(seconds=round((moment - datetime.now(UTC)).total_seconds()))


def exchange_code(http: httpx.Client, shop: str, pending: Credentials, code: str,
                  now: datetime) -> Credentials:
    """Authorization code grant (non-embedded install), asking for an expiring offline token
    (`expiring=1`: 60 min + a rotating refresh token, renewed by `renew`)."""
    try:
        response = http.post(f"https://{shop}/admin/oauth/access_token", json={
            "client_id": pending.client_id, "client_secret": pending.client_secret,
            "code": code, "expiring": "1"}, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise RetryableError(f"{shop}: token request failed ({type(exc).__name__})") from exc
    if response.status_code >= 500:
        raise RetryableError(f"{shop}: token request answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not body.get("access_token"):
        reason = body.get("error_description") or body.get("error") or response.status_code
        raise PermanentError(f"{shop}: Shopify refused the authorization code: {reason}")
    return pending.renewed(str(body["access_token"]), _expiry(now, body.get("expires_in")),
                           scope=str(body.get("scope") or ""),
                           refresh_token=str(body.get("refresh_token") or ""),
                           refresh_expires_at=_expiry(now, body.get("refresh_token_expires_in")))


def renew(http: httpx.Client, domain: str, credentials: Credentials, now: datetime
          ) -> Credentials:
    """A new access token: refresh grant (OAuth, the refresh token rotates) or a new
    client-credentials exchange (also the first one: `Credentials.pending`)."""
    shop = shop_handle(domain)
    if not credentials.refreshable:
        raise ShopifyAuthError(f"{domain}: the access token cannot be renewed; reinstall the app")
    app = shopify_app.ShopifyApp(credentials.client_id, credentials.client_secret)
    if credentials.kind == CLIENT_CREDENTIALS:
        exchanged = app.exchange_using_client_credentials(shop, http_client=http)
        token = exchanged.access_token
        if not exchanged.ok or token is None:
            raise _exchange_failure(domain, exchanged.log.code, exchanged.log.detail,
                                    _shopify_status(exchanged.http_logs))
        return credentials.renewed(token.token, _lib_expiry(now, token.expires), scope=token.scope)
    refreshed = app.refresh_token_exchanged_access_token({
        "shop": shop, "refresh_token": credentials.refresh_token, "expires": "",
        "refresh_token_expires": "", "access_mode": "offline"}, http_client=http)
    new = refreshed.access_token
    if not refreshed.ok or new is None:
        raise _exchange_failure(domain, refreshed.log.code, refreshed.log.detail,
                                _shopify_status(refreshed.http_logs))
    return credentials.renewed(new.token, _lib_expiry(now, new.expires), scope=new.scope,
                               refresh_token=new.refresh_token or "",
                               refresh_expires_at=_lib_expiry(now, new.refresh_token_expires))


def exchange_session_token(http: httpx.Client, session: SessionToken, pending: Credentials,
                           now: datetime) -> Credentials:
    """Token exchange (embedded app, managed install): a verified session token becomes an
    expiring offline token (60 min) with a rotating refresh token, renewed by `renew` like an
    authorization-code install's."""
    app = shopify_app.ShopifyApp(pending.client_id, pending.client_secret)
    exchanged = app.exchange_using_token_exchange(
        "offline", id_token={"exchangeable": True, "token": session.raw,
                             "claims": session.claims}, expiring=True, http_client=http)
    token = exchanged.access_token
    if not exchanged.ok or token is None:
        raise _exchange_failure(session.shop, exchanged.log.code, exchanged.log.detail,
                                _shopify_status(exchanged.http_logs))
    return pending.renewed(token.token, _lib_expiry(now, token.expires), scope=token.scope,
                           refresh_token=token.refresh_token or "",
                           refresh_expires_at=_lib_expiry(now, token.refresh_token_expires))


def _shopify_status(http_logs: Sequence[Any]) -> int:
    """The token endpoint's own HTTP status (0: no answer). The result's `response.status` is
    the library's advice for *our* answer to an embedded request (500 for invalid_client),
    not Shopify's."""
    res = getattr(http_logs[-1], "res", None) if http_logs else None
    return int(getattr(res, "status", 0) or 0)


def _exchange_failure(domain: str, code: str, detail: str, status: int) -> Exception:
    """No answer, a 5xx or a 429 is retried; any other refusal (400/401 invalid_client,
    invalid_grant, app uninstalled) is for good: the owner has to connect again."""
    message = f"{domain}: token renewal failed ({code}): {detail.split('. Respond ')[0]}"
    if code in ("network_error", "server_error") or status == 429 or status >= 500:
        return RetryableError(message)
    return ShopifyAuthError(message)


class ShopifyClient:
    """Admin GraphQL for one store: budgeted, throttle-aware, renewing its token on 401."""

    def __init__(self, domain: str, credentials: Credentials, *, api_version: str,
                 http: httpx.Client, limiter: CostLimiter, clock: Clock,
                 save_credentials: Callable[[dict[str, str]], None]) -> None:
        self.domain = domain
        self.credentials = credentials
        self.api_version = api_version
        self.http = http
        self.limiter = limiter
        self.clock = clock
        self.save_credentials = save_credentials
        self._requested: dict[str, int] = {}

    def close(self) -> None:
        self.http.close()

    def renew_token(self) -> None:
        self.credentials = renew(self.http, self.domain, self.credentials, self.clock.now())
        self.save_credentials(self.credentials.as_dict())
        log.info("%s: access token renewed", self.domain)

    def execute(self, operation: Operation, variables: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
        """Run one operation and return its `data`; raise RetryableError / PermanentError.
        An expired token is renewed before the call (no 401 spent on it), a rejected one once
        after it; a token that cannot be renewed raises ShopifyAuthError."""
        renewed = self.credentials.needs_refresh(self.clock.now(), margin=timedelta(0))
        if renewed:
            self.renew_token()
        throttled = 0
        while True:
            cost = self._requested.get(operation.name, operation.estimated_cost)
            self._reserve(cost)
            result = admin_graphql_request(
                operation.text, shop=shop_handle(self.domain),
                access_token=self.credentials.access_token, api_version=self.api_version,
                variables=dict(variables or {}), max_retries=0, http_client=self.http)
            status = result.response.status
            if status == 401:
                if renewed or not self.credentials.refreshable:
                    raise ShopifyAuthError(f"{self.domain}: access token rejected (401)")
                self.renew_token()
                renewed = True
                continue
            if status == 0:
                raise RetryableError(f"{self.domain} {operation.name}: network error")
            if status == 429 or status >= 500:
                raise RetryableError(
                    f"{self.domain} {operation.name}: HTTP {status}",
                    parse_retry_after(result.response.headers.get("Retry-After")),
                    throttled=status == 429)
            if status != 200:
                raise PermanentError(f"{self.domain} {operation.name}: HTTP {status}: "
                                     f"{result.response.body[:300]}")
            body = self._json(operation, result.response.body)
            errors = body.get("errors") or []
            codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors
                     if isinstance(e, dict)}
            self._observe(operation, body, throttled="THROTTLED" in codes, reserved=cost)
            if "THROTTLED" in codes and throttled < MAX_THROTTLED_RETRIES:
                throttled += 1  # the limiter now knows the bucket; acquire waits for it
                continue
            if errors:
                messages = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
                text = f"{self.domain} {operation.name}: {messages or errors}"
                if codes & RETRYABLE_CODES:
                    raise RetryableError(text, throttled="THROTTLED" in codes)
                raise PermanentError(text)
            data = body.get("data")
            if not isinstance(data, dict):
                raise RetryableError(f"{self.domain} {operation.name}: answer without data")
            return data

    def _reserve(self, cost: float) -> None:
        """Set `cost` points aside before a call. A job that may be handed back (nothing sent
        yet, core.budget) does not wait for them: it raises `NotReady` and its thread takes
        other work; any later call of the job waits for its points in the limiter."""
        if budget.may_defer():
            wait = self.limiter.try_acquire(self.domain, cost)
            if wait > 0:
                raise budget.NotReady(self.domain, wait)
        else:
            self.limiter.acquire(self.domain, cost)
        budget.spend()

    def _json(self, operation: Operation, text: str) -> dict[str, Any]:
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise RetryableError(f"{self.domain} {operation.name}: answer is not JSON") from exc
        if not isinstance(body, dict):
            raise RetryableError(f"{self.domain} {operation.name}: answer is not an object")
        return body

    def _observe(self, operation: Operation, body: dict[str, Any], *, throttled: bool,
                 reserved: float) -> None:
        cost = (body.get("extensions") or {}).get("cost")
        status = ThrottleStatus.parse(cost)
        if status is None:
            return
        assert isinstance(cost, dict)
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int):
            self._requested[operation.name] = requested
        actual = cost.get("actualQueryCost")
        self.limiter.observe(self.domain, status, actual=actual if isinstance(actual, int)
                             else None, throttled=throttled, reserved=reserved)


def user_errors(payload: Any) -> list[str]:
    """The `userErrors` of a mutation payload as readable messages."""
    if not isinstance(payload, dict):
        return ["no payload in the answer"]
    found = payload.get("userErrors") or []
    return [f"{'.'.join(e.get('field') or []) or 'input'}: {e.get('message')}"
            for e in found if isinstance(e, dict)]
