"""OAuth on the sandbox: consent, signed redirect, code exchange, refresh, client credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
from jwt import decode
from playwright.sync_api import Page, Route
from shopify_app.exchange.client_credentials import exchange_using_client_credentials
from shopify_app.exchange.refresh_token import refresh_access_token

from core.clock import FrozenClock
from sandboxes.server import BackgroundServer
from sandboxes.shopify.oauth import (
    ID_TOKEN_TYPE,
    OFFLINE_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
    authorize_url,
    issue_session_token,
    signed_install_url,
    verify_callback,
)
from sandboxes.shopify.signing import oauth_hmac
from tests.helpers.sandbox_shopify import SeededStore, graphql

CALLBACK = "https://droptrack.example/shopify/callback"


def consent_and_redirect(store: SeededStore, server: BackgroundServer,
                         http: httpx.Client, state: str = "nonce-1") -> dict[str, str]:
    url = authorize_url(server.url, store.domain, store.app.client_id,
                        "read_orders,write_fulfillments", CALLBACK, state)
    page = http.get(url)
    assert page.status_code == 200 and "Install app" in page.text
    granted = http.post(url, follow_redirects=False)
    assert granted.status_code in (302, 303)
    location = granted.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return dict(parse_qsl(urlsplit(location).query))


def exchange(store: SeededStore, http: httpx.Client, code: str, *,
             expiring: bool = True) -> httpx.Response:
    body = {"client_id": store.app.client_id, "client_secret": store.app.client_secret,
            "code": code}
    if expiring:
        body["expiring"] = "1"
    return http.post(f"https://{store.domain}/admin/oauth/access_token", json=body)


def test_authorization_code_grant_issues_an_expiring_token(
        shopify_store: SeededStore, shopify_server: BackgroundServer,
        shopify_http: httpx.Client) -> None:
    query = consent_and_redirect(shopify_store, shopify_server, shopify_http)
    assert set(query) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert query["shop"] == shopify_store.domain and query["state"] == "nonce-1"
    assert verify_callback(query, shopify_store.app.client_secret)
    assert not verify_callback({**query, "shop": "evil.myshopify.com"},
                               shopify_store.app.client_secret)
    response = exchange(shopify_store, shopify_http, query["code"])
    token = response.json()
    assert response.status_code == 200
    assert token["expires_in"] == 3600 and token["refresh_token"]
    assert token["scope"] == "read_orders,write_fulfillments"
    assert graphql(shopify_http, shopify_store, "{ shop { name } }",
                   token=token["access_token"]).status_code == 200


def test_code_is_single_use(shopify_store: SeededStore, shopify_server: BackgroundServer,
                            shopify_http: httpx.Client) -> None:
    code = consent_and_redirect(shopify_store, shopify_server, shopify_http)["code"]
    assert exchange(shopify_store, shopify_http, code).status_code == 200
    reused = exchange(shopify_store, shopify_http, code)
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_request", "error_description":
                             "The authorization code was not found or was already used"}


def test_without_expiring_the_token_never_expires(
        shopify_store: SeededStore, shopify_server: BackgroundServer,
        shopify_http: httpx.Client, shopify_clock: FrozenClock) -> None:
    code = consent_and_redirect(shopify_store, shopify_server, shopify_http)["code"]
    token = exchange(shopify_store, shopify_http, code, expiring=False).json()
    assert "expires_in" not in token and "refresh_token" not in token
    shopify_clock.advance(timedelta(days=400))
    assert graphql(shopify_http, shopify_store, "{ shop { name } }",
                   token=token["access_token"]).status_code == 200


def test_wrong_client_secret_is_invalid_client(shopify_store: SeededStore,
                                               shopify_http: httpx.Client) -> None:
    response = shopify_http.post(f"https://{shopify_store.domain}/admin/oauth/access_token",
                                 json={"client_id": shopify_store.app.client_id,
                                       "client_secret": "wrong", "code": "x"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


def test_refresh_with_the_official_library_rotates_tokens(
        shopify_store: SeededStore, shopify_http: httpx.Client,
        shopify_clock: FrozenClock) -> None:
    config = {"client_id": shopify_store.app.client_id,
              "client_secret": shopify_store.app.client_secret}
    shopify_clock.advance(timedelta(minutes=61))
    assert graphql(shopify_http, shopify_store, "{ shop { name } }").status_code == 401
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stored = {"shop": shopify_store.handle, "refresh_token": shopify_store.token.refresh_token,
              "expires": past, "refresh_token_expires": later, "access_mode": "offline"}
    result = refresh_access_token(stored, config, http_client=shopify_http)  # type: ignore[arg-type]
    assert result.ok, result.log
    assert result.access_token is not None
    new_token = result.access_token.token
    assert graphql(shopify_http, shopify_store, "{ shop { name } }",
                   token=new_token).status_code == 200
    again = refresh_access_token(stored, config, http_client=shopify_http)  # type: ignore[arg-type]
    assert not again.ok and again.log.code == "invalid_grant"


def test_client_credentials_for_a_custom_app(shopify_store: SeededStore,
                                             shopify_http: httpx.Client) -> None:
    state = shopify_store.sandbox.state
    custom = state.create_app(name="Merchant app", custom=True, scopes="read_orders")
    result = exchange_using_client_credentials(
        shop=shopify_store.handle,
        app_config={"client_id": custom.client_id, "client_secret": custom.client_secret,
                    "old_client_secret": None},
        http_client=shopify_http)
    assert result.ok, result.log
    assert result.access_token is not None
    assert graphql(shopify_http, shopify_store, "{ orders(first: 1) { nodes { id } } }",
                   token=result.access_token.token).status_code == 200
    public = exchange_using_client_credentials(
        shop=shopify_store.handle,
        app_config={"client_id": shopify_store.app.client_id,
                    "client_secret": shopify_store.app.client_secret, "old_client_secret": None},
        http_client=shopify_http)
    assert not public.ok


def test_signed_install_url_carries_shopifys_hmac(shopify_store: SeededStore) -> None:
    url = signed_install_url("https://droptrack.example", shopify_store.domain,
                             shopify_store.app.client_secret, timestamp=1_790_000_000)
    query = dict(parse_qsl(urlsplit(url).query))
    assert urlsplit(url).path == "/shopify/install"
    assert query["shop"] == shopify_store.domain and query["timestamp"] == "1790000000"
    assert query["hmac"] == oauth_hmac(query, shopify_store.app.client_secret)
    assert len(query["hmac"]) == 64


def test_merchant_clicks_install_in_a_browser(shopify_store: SeededStore,
                                              shopify_server: BackgroundServer,
                                              page: Page) -> None:
    landed: list[str] = []

    def capture(route: Route) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, body="installed")

    page.route(CALLBACK + "*", capture)
    page.goto(authorize_url(shopify_server.url, shopify_store.domain,
                            shopify_store.app.client_id, "read_orders", CALLBACK, "n-2"))
    assert "read_orders" in page.locator("#scopes").inner_text()
    page.click("#install")
    page.wait_for_url(CALLBACK + "*")
    query = dict(parse_qsl(urlsplit(landed[0]).query))
    assert query["state"] == "n-2"
    assert verify_callback(query, shopify_store.app.client_secret)


def test_token_exchange_and_refresh_rotation(shopify_store: SeededStore,
                                             shopify_http: httpx.Client,
                                             shopify_clock: FrozenClock) -> None:
    """Token exchange as Shopify serves it (the session token must be this app's, for this
    shop, unexpired); each refresh rotates, the old refresh token working until the new
    token is first used."""
    box, app = shopify_store.sandbox, shopify_store.app
    other = box.state.create_shop("someone-else")
    url = f"https://{shopify_store.domain}/admin/oauth/access_token"

    def exchange_(subject: str, **extra: str) -> httpx.Response:
        return shopify_http.post(url, json={
            "client_id": app.client_id, "client_secret": app.client_secret,
            "grant_type": TOKEN_EXCHANGE_GRANT, "subject_token": subject,
            "subject_token_type": ID_TOKEN_TYPE, "requested_token_type": OFFLINE_TOKEN_TYPE,
            "expiring": "1", **extra})

    stale = issue_session_token(box, shopify_store.domain, app.client_id)
    shopify_clock.advance(timedelta(seconds=90))
    refused = [
        exchange_(stale),
        exchange_(issue_session_token(box, other.domain, app.client_id)),
        exchange_(issue_session_token(box, shopify_store.domain, app.client_id,
                                      secret="shpss_forged_forged_forged_forged_forged")),
        exchange_(issue_session_token(box, shopify_store.domain, app.client_id),
                  requested_token_type="urn:shopify:params:oauth:token-type:online-token"),
    ]
    assert [(r.status_code, r.json()["error"]) for r in refused] == [
        (400, "invalid_subject_token"), (400, "invalid_subject_token"),
        (400, "invalid_subject_token"), (400, "invalid_request")]
    issued = exchange_(issue_session_token(box, shopify_store.domain, app.client_id)).json()
    assert issued["expires_in"] == 3600 and issued["refresh_token"]
    session = decode(issue_session_token(box, shopify_store.domain, app.client_id),
                     app.client_secret, algorithms=["HS256"], audience=app.client_id,
                     options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})
    assert session["iss"] == f"https://{shopify_store.domain}/admin"
    assert session["dest"] == f"https://{shopify_store.domain}"
    assert session["exp"] - session["iat"] == 60 and session["jti"] and session["sid"]

    def refresh(token: str) -> httpx.Response:
        return shopify_http.post(url, json={"client_id": app.client_id,
                                            "client_secret": app.client_secret,
                                            "grant_type": "refresh_token",
                                            "refresh_token": token})

    first = refresh(issued["refresh_token"]).json()
    retried = refresh(issued["refresh_token"])  # the answer was lost: the old one still works
    assert retried.status_code == 200
    newest = retried.json()
    assert newest["refresh_token"] not in (first["refresh_token"], issued["refresh_token"])
    assert graphql(shopify_http, shopify_store, "{ shop { name } }",
                   token=newest["access_token"]).status_code == 200
    assert refresh(issued["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(newest["refresh_token"]).status_code == 200


def test_customer_account_extension_tokens_carry_shopifys_claims(
        shopify_store: SeededStore, shopify_server: BackgroundServer) -> None:
    """What `shopify.sessionToken.get()` gives a customer account UI extension: `sub` only for a
    signed-in customer, 5 minutes, unique `jti`; an unknown shop or app gets a 404."""
    app, shop = shopify_store.app, shopify_store.domain
    url = f"{shopify_server.url}/shops/{shop}/account/apps/{app.client_id}/session_token"

    def claims(**params: str) -> dict[str, object]:
        answer = httpx.post(url, params=params)
        assert answer.status_code == 200, answer.text
        decoded: dict[str, object] = decode(
            answer.json()["token"], app.client_secret, algorithms=["HS256"],
            audience=app.client_id,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})
        return decoded

    before_login, signed_in = claims(), claims(customer="7")
    assert "sub" not in before_login
    assert signed_in["sub"] == "gid://shopify/Customer/7"
    for token in (before_login, signed_in):
        assert token["iss"] == f"https://{shop}/admin" and token["dest"] == f"https://{shop}"
        assert token["aud"] == app.client_id and token["nbf"] == token["iat"]
        assert token["exp"] == token["iat"] + 300  # type: ignore[operator]
    assert before_login["jti"] != signed_in["jti"] and before_login["sid"]
    assert httpx.post(url.replace(shop, "nobody.myshopify.com")).status_code == 404
    assert httpx.post(url.replace(app.client_id, "another-app")).status_code == 404
