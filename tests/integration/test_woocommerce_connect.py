"""The wc-auth callback: keys stored encrypted, exactly 200, single-use, bound to DropTrack's
own request; anything else is refused (and WooCommerce then deletes the keys)."""

from __future__ import annotations

import re
from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from connectors.url_safety import check_outbound_url
from integration.accounts import owners as accounts
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.storage.models import AuditLog, Store
from integration.web import woocommerce_connect
from tests.conftest import make_settings

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
PUBLIC = "https://droptrack.example.test"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """DropTrack published over https, as WooCommerce's key request needs."""
    return make_settings(database_url, app={"public_url": PUBLIC})


@pytest.fixture
def client(app: Flask, runtime: Runtime) -> FlaskClient:
    """A signed-in owner: only owners may start a connection."""
    owner = app.test_client()
    sign_in_owner(owner, runtime)
    return owner


def sign_in_owner(client: FlaskClient, runtime: Runtime) -> None:
    with runtime.db.write() as session:
        accounts.create_user(session, OWNER, PASSWORD, runtime.clock.now())
    page = client.get("/admin/login").get_data(as_text=True)
    answer = client.post("/admin/login", data={"email": OWNER, "password": PASSWORD,
                                               "csrf_token": csrf_of(page)})
    assert answer.status_code == 302


@pytest.fixture(autouse=True)
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """shop.example.com resolves to a public address (no DNS in the test)."""
    monkeypatch.setattr(woocommerce_connect, "check_outbound_url",
                        partial(check_outbound_url, resolver=lambda host, port: ["93.184.215.14"]))


def csrf_of(page: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return token.group(1)


def start(client: FlaskClient, store_url: str = "https://shop.example.com") -> dict[str, str]:
    """Open the confirmation page, then confirm it (a POST with the CSRF token)."""
    page = client.get(f"/woocommerce/connect?store_url={store_url}")
    assert page.status_code == 200
    answer = client.post("/woocommerce/connect", data={
        "store_url": store_url, "confirm": "yes", "csrf_token": csrf_of(page.get_data(True))})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        "https://shop.example.com/wc-auth/v1/authorize")
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def keys(user_id: str, permissions: str = "read_write") -> dict[str, object]:
    return {"key_id": 7, "user_id": user_id, "consumer_key": "ck_abc",
            "consumer_secret": "cs_def", "key_permissions": permissions}


def test_the_key_request_and_its_callback(client: FlaskClient, runtime: Runtime) -> None:
    params = start(client)
    assert params["scope"] == "read_write" and params["app_name"] == "DropTrack"
    assert params["callback_url"] == f"{PUBLIC}/woocommerce/connect/callback"
    assert params["return_url"] == f"{PUBLIC}/woocommerce/connect/return"
    answer = client.post("/woocommerce/connect/callback", json=keys(params["user_id"]))
    assert (answer.status_code, answer.data) == (200, b"ok")
    with runtime.db.read() as session:
        store = session.scalars(select(Store)).one()
        assert store.domain == "https://shop.example.com"
        assert "cs_def" not in (store.credentials_encrypted or "")
        assert runtime.secrets.decrypt_json(store.credentials_encrypted or "") == {
            "consumer_key": "ck_abc", "consumer_secret": "cs_def"}
    page = client.get(f"/woocommerce/connect/return?success=1&user_id={params['user_id']}")
    assert b"Your store is connected" in page.data


def test_a_replayed_callback_is_refused(client: FlaskClient) -> None:
    user_id = start(client)["user_id"]
    assert client.post("/woocommerce/connect/callback", json=keys(user_id)).status_code == 200
    assert client.post("/woocommerce/connect/callback", json=keys(user_id)).status_code == 400


def test_unknown_or_forged_requests_are_refused(client: FlaskClient, runtime: Runtime) -> None:
    user_id = start(client)["user_id"]
    for body in (keys("1"), keys(user_id[:-2] + "xx"), keys(user_id, "read"), {"user_id": user_id},
                 "not json"):
        answer = client.post("/woocommerce/connect/callback", json=body)
        assert answer.status_code == 400, body
    with runtime.db.read() as session:
        assert session.scalars(select(Store)).all() == []


def test_a_declined_request_says_so(client: FlaskClient) -> None:
    user_id = start(client)["user_id"]
    page = client.get(f"/woocommerce/connect/return?success=0&user_id={user_id}")
    assert b"not connected" in page.data


def test_an_unsafe_store_address_is_refused_in_plain_words(client: FlaskClient) -> None:
    answer = client.get("/woocommerce/connect?store_url=http://shop.example.com")
    assert answer.status_code == 400
    assert b"only https:// URLs are allowed" in answer.data
    assert client.get("/woocommerce/connect").status_code == 200


def test_only_a_signed_in_owner_may_start_a_connection(app: Flask, runtime: Runtime) -> None:
    visitor = app.test_client()
    answer = visitor.get("/woocommerce/connect?store_url=https://shop.example.com")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/login?next=/woocommerce/connect")
    # The confirmation is a read-only page: sign-in may go on to it.
    sign_in_owner(visitor, runtime)
    assert start(visitor)["scope"] == "read_write"
    # The callback stays public: WooCommerce itself calls it, without the owner's cookie.
    assert app.test_client().post("/woocommerce/connect/callback", json={}).status_code == 400


def test_a_cross_site_get_starts_nothing(client: FlaskClient, runtime: Runtime) -> None:
    """A link (or an <img>) opened by a signed-in owner only shows a confirmation naming the
    store; starting needs the POST with the session's CSRF token and the explicit confirm."""
    page = client.get("/woocommerce/connect?store_url=https://attacker.example.com")
    assert page.status_code == 200 and "Location" not in page.headers
    assert "https://attacker.example.com" in page.get_data(as_text=True)
    forged = {"store_url": "https://attacker.example.com", "confirm": "yes"}
    assert client.post("/woocommerce/connect", data=forged).status_code == 400  # no CSRF token
    unconfirmed = {"store_url": "https://attacker.example.com",
                   "csrf_token": csrf_of(page.get_data(True))}
    assert client.post("/woocommerce/connect", data=unconfirmed).status_code == 400
    with runtime.db.read() as session:
        assert session.scalars(select(AuditLog).where(
            AuditLog.action == woocommerce_connect.CONNECT_REQUESTED)).all() == []


def test_the_callback_binds_to_the_latest_attempt(client: FlaskClient) -> None:
    older = start(client)["user_id"]
    newer = start(client)["user_id"]
    assert client.post("/woocommerce/connect/callback", json=keys(older)).status_code == 400
    assert client.post("/woocommerce/connect/callback", json=keys(newer)).status_code == 200


@pytest.mark.parametrize("target", [
    "/woocommerce/connect/callback", "/admin/logout", "/admin/login", "//evil.example/admin",
    "/admin\\..", "https://evil.example/admin", "/admin/%0d%0aSet-Cookie:x", "/track",
])
def test_sign_in_only_goes_on_to_read_only_pages(app: Flask, runtime: Runtime,
                                                  target: str) -> None:
    visitor = app.test_client()
    with runtime.db.write() as session:
        accounts.create_user(session, OWNER, PASSWORD, runtime.clock.now())
    page = visitor.get("/admin/login").get_data(as_text=True)
    answer = visitor.post("/admin/login", data={"email": OWNER, "password": PASSWORD,
                                                "csrf_token": csrf_of(page), "next": target})
    assert answer.headers["Location"] == "/admin/", target


# -- https: WooCommerce refuses a callback_url that is not https (loopback included) ----------

def served_as(runtime: Runtime, public_url: str, **server: object) -> None:
    """DropTrack published at `public_url` with these [server] proxy settings (demo mode: no
    sign-in, so a test client can come in on any address)."""
    runtime.settings = runtime.settings.model_copy(update={
        "app": runtime.settings.app.model_copy(update={"public_url": public_url,
                                                        "mode": "demo"}),
        "server": runtime.settings.server.model_copy(update=server)})


def start_at(app: Flask, environ: dict[str, str]) -> FlaskClient:
    visitor = app.test_client()
    visitor.environ_base.update(environ)
    return visitor


@pytest.mark.parametrize(("public", "server", "base_url", "environ", "expected"), [
    # DropTrack's own TLS, on another port of public_url's host (as the demo serves it)
    ("http://127.0.0.1:8080", {}, "https://127.0.0.1:8443", {}, "https://127.0.0.1:8443"),
    # a trusted proxy serving https says so; it passes the public host on
    ("http://droptrack.example.test", {"trusted_proxies": ["10.0.0.0/8"]},
     "http://droptrack.example.test", {"REMOTE_ADDR": "10.0.0.2",
                                       "HTTP_X_FORWARDED_PROTO": "https"},
     "https://droptrack.example.test"),
    # a proxy passing its upstream's address: public_url's host, https's own port
    ("http://droptrack.example.test:8080", {"proxy_hops": 1}, "http://127.0.0.1:8080",
     {"HTTP_X_FORWARDED_PROTO": "http, https"}, "https://droptrack.example.test"),
    # a Host header naming another host never becomes the address the keys are sent to
    ("http://droptrack.example.test", {}, "https://attacker.example", {},
     "https://droptrack.example.test"),
])
def test_the_callback_is_https_where_droptrack_is_reached_over_https(
        app: Flask, runtime: Runtime, public: str, server: dict[str, object], base_url: str,
        environ: dict[str, str], expected: str) -> None:
    served_as(runtime, public, **server)
    visitor = start_at(app, environ)
    page = visitor.get("/woocommerce/connect?store_url=https://shop.example.com",
                       base_url=base_url)
    assert page.status_code == 200, page.get_data(True)
    answer = visitor.post("/woocommerce/connect", base_url=base_url, data={
        "store_url": "https://shop.example.com", "confirm": "yes",
        "csrf_token": csrf_of(page.get_data(True))})
    assert answer.status_code == 302
    params = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert params["callback_url"] == [f"{expected}/woocommerce/connect/callback"]


@pytest.mark.parametrize(("public", "server", "environ"), [
    ("http://127.0.0.1:8080", {}, {}),  # loopback: WooCommerce makes no exception for it
    ("http://droptrack.example.test", {}, {"HTTP_X_FORWARDED_PROTO": "https"}),  # no proxy set
    ("http://droptrack.example.test", {"trusted_proxies": ["10.0.0.0/8"]},
     {"REMOTE_ADDR": "192.0.2.9", "HTTP_X_FORWARDED_PROTO": "https"}),  # not our proxy
    ("http://droptrack.example.test", {"trusted_proxies": ["10.0.0.0/8"]},
     {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_PROTO": "https, http"}),  # ours says http
])
def test_over_plain_http_the_owner_is_told_what_to_do_and_the_store_is_not_asked(
        app: Flask, runtime: Runtime, public: str, server: dict[str, object],
        environ: dict[str, str]) -> None:
    served_as(runtime, public, **server)
    visitor = start_at(app, environ)
    form = visitor.get("/woocommerce/connect")
    assert form.status_code == 200
    text = form.get_data(as_text=True)
    assert "WooCommerce sends its API keys only to an https address" in text
    assert "[app] public_url" in text and 'name="store_url"' not in text
    confirm = visitor.get("/woocommerce/connect?store_url=https://shop.example.com")
    assert confirm.status_code == 400 and "csrf_token" not in confirm.get_data(True)
    answer = visitor.post("/woocommerce/connect", data={
        "store_url": "https://shop.example.com", "confirm": "yes",
        "csrf_token": csrf_of(visitor.get("/admin/login").get_data(True))})
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "only to an https address" in answer.get_data(as_text=True)
    with runtime.db.read() as session:
        assert session.scalars(select(AuditLog).where(
            AuditLog.action == woocommerce_connect.CONNECT_REQUESTED)).all() == []
