"""Installing DropTrack from Shopify (authorization code grant against the sandbox): signed
install link, state cookie, code exchange with expiring tokens, granted scopes, the store row,
webhook subscriptions; and every way a forged or broken install is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connectors.shopify.tokens import OAUTH, Credentials
from core.clock import FrozenClock
from integration.accounts import owners as accounts
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, AuditLog, OutboxJob, Store
from integration.sync.shopify.webhooks import check_webhooks
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.oauth import signed_install_url
from sandboxes.shopify.state import App, Shop
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_connector import shopify_limiter_fixture  # noqa: F401  (fixture)

CLIENT_ID = "droptrack-app"
CLIENT_SECRET = "shpss_droptrack_app_secret"


@pytest.fixture
def settings(database_url: str, shopify_server: BackgroundServer) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True}, shopify={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "admin_base_url": shopify_server.url, "allowed_shops": ["new-merchant.myshopify.com"]})


@dataclass
class Installing:
    runtime: Runtime
    sandbox: ShopifySandbox
    app: App
    shop: Shop
    clock: FrozenClock

    def install_link(self, secret: str = CLIENT_SECRET, shop: str | None = None) -> str:
        url = signed_install_url("", shop or self.shop.domain, secret,
                                 timestamp=int(self.clock.now().timestamp()))
        return url

    def store(self) -> Store | None:
        with self.runtime.db.read() as session:
            row = session.scalars(select(Store)).one_or_none()
            if row is not None:
                session.expunge(row)
            return row


@pytest.fixture
def installing(runtime: Runtime, shopify_sandbox: ShopifySandbox, shopify_clock: FrozenClock,
               shopify_limiter: object) -> Iterator[Installing]:
    runtime.clock = shopify_clock
    state = shopify_sandbox.state
    app = state.create_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    shop = state.create_shop("new-merchant")
    yield Installing(runtime, shopify_sandbox, app, shop, shopify_clock)


def consent(authorize_url: str, *, scope: str | None = None) -> str:
    """The merchant presses "Install app"; returns where Shopify redirects the browser."""
    if scope is not None:
        parts = urlsplit(authorize_url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["scope"] = scope
        authorize_url = parts._replace(query=httpx.QueryParams(query).__str__()).geturl()
    answer = httpx.post(authorize_url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_install_connects_the_store_with_expiring_tokens(client: FlaskClient,
                                                         installing: Installing) -> None:
    started = client.get(installing.install_link())
    assert started.status_code == 302
    authorize = started.headers["Location"]
    assert f"/shops/{installing.shop.domain}/admin/oauth/authorize" in authorize
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [CLIENT_ID] and query["state"][0]
    assert query["redirect_uri"] == ["http://127.0.0.1:8080/shopify/callback"]

    finished = client.get(path_of(consent(authorize)))
    assert finished.status_code == 200, finished.text
    assert "DropTrack is installed on new-merchant.myshopify.com" in finished.text
    store = installing.store()
    assert store is not None and store.state == "active"
    credentials = Credentials.from_dict(
        installing.runtime.secrets.decrypt_json(store.credentials_encrypted or ""))
    assert credentials.kind == OAUTH and credentials.refresh_token
    assert credentials.expires is not None
    assert credentials.access_token not in (store.credentials_encrypted or "")
    assert installing.sandbox.state.authenticate(installing.shop.domain,
                                                 credentials.access_token) is not None
    assert installing.runtime.secrets.decrypt(store.webhook_secret_encrypted or "") == \
        CLIENT_SECRET
    with installing.runtime.db.read() as session:
        assert session.scalars(select(OutboxJob.kind)).all() == ["shopify.webhooks.ensure"]
        assert "store.installed" in session.scalars(select(AuditLog.action)).all()


def test_the_webhook_check_subscribes_and_repairs(client: FlaskClient,
                                                  installing: Installing) -> None:
    started = client.get(installing.install_link())
    client.get(path_of(consent(started.headers["Location"])))
    assert run_jobs(installing.runtime, "shopify.webhooks.ensure") == 1
    state = installing.sandbox.state
    uri = "http://127.0.0.1:8080/webhooks/shopify"
    topics = sorted(s.topic for s in state.subscriptions.values() if s.uri == uri)
    assert topics == ["APP_UNINSTALLED", "ORDERS_CANCELLED", "ORDERS_CREATE", "ORDERS_PAID",
                      "ORDERS_UPDATED"]
    # Shopify dropped one after failed deliveries; another points at an old address.
    paid = next(s for s in state.subscriptions.values() if s.topic == "ORDERS_PAID")
    del state.subscriptions[paid.id]
    updated = next(s for s in state.subscriptions.values() if s.topic == "ORDERS_UPDATED")
    updated.uri = "https://old.example/webhooks/shopify"
    installing.clock.advance(timedelta(hours=1))
    check_webhooks(installing.runtime)
    assert run_jobs(installing.runtime, "shopify.webhooks.ensure") == 1
    assert sorted(s.topic for s in state.subscriptions.values() if s.uri == uri) == topics
    assert len(state.subscriptions) == 5
    with installing.runtime.db.read() as session:
        assert "store.webhooks_repaired" in session.scalars(select(AuditLog.action)).all()


def test_an_install_link_with_a_bad_hmac_is_refused(client: FlaskClient,
                                                    installing: Installing) -> None:
    answer = client.get(installing.install_link(secret="someone-elses-secret"))
    assert answer.status_code == 401
    assert "not from Shopify" in answer.text
    tampered = installing.install_link().replace("new-merchant", "other-shop")
    assert client.get(tampered).status_code == 401


def test_a_shop_that_is_not_myshopify_is_refused(client: FlaskClient,
                                                 installing: Installing) -> None:
    answer = client.get(installing.install_link(shop="evil.example.com"))
    assert answer.status_code == 400 and "myshopify.com" in answer.text
    assert installing.store() is None


def test_a_callback_with_the_wrong_state_is_refused(client: FlaskClient,
                                                    installing: Installing) -> None:
    started = client.get(installing.install_link())
    authorize = started.headers["Location"]
    forged = authorize.replace("state=", "state=forged")
    answer = client.get(path_of(consent(forged)))
    assert answer.status_code == 403 and "state" in answer.text
    fresh_browser = client.application.test_client()  # no state cookie at all
    started = client.get(installing.install_link())
    answer = fresh_browser.get(path_of(consent(started.headers["Location"])))
    assert answer.status_code == 403
    assert installing.store() is None


def test_a_forged_callback_is_refused(client: FlaskClient, installing: Installing) -> None:
    started = client.get(installing.install_link())
    callback = consent(started.headers["Location"])
    answer = client.get(path_of(callback).replace("code=", "code=x"))
    assert answer.status_code == 401
    assert installing.store() is None


def test_missing_scopes_are_refused(client: FlaskClient, installing: Installing) -> None:
    started = client.get(installing.install_link())
    answer = client.get(path_of(consent(started.headers["Location"], scope="read_orders")))
    assert answer.status_code == 403
    assert "write_merchant_managed_fulfillment_orders" in answer.text
    assert installing.store() is None


def test_a_strangers_shop_cannot_install_itself(client: FlaskClient,
                                                installing: Installing) -> None:
    """Self-hosted: a shop that is neither allow-listed nor started by the signed-in owner is
    refused before Shopify is even asked, and the owner hears of it."""
    stranger = installing.sandbox.state.create_shop("stranger")
    refused = client.get(installing.install_link(shop=stranger.domain))
    assert refused.status_code == 403 and "This DropTrack is private" in refused.text
    assert "Location" not in refused.headers
    assert installing.store() is None
    with installing.runtime.db.read() as session:
        alert = session.scalars(select(Alert)).one()
    assert alert.kind == "shopify_install_request" and stranger.domain in alert.message


def test_the_signed_in_owner_approves_a_new_shop_by_installing_it(
        client: FlaskClient, installing: Installing) -> None:
    stranger = installing.sandbox.state.create_shop("owners-second-shop")
    with installing.runtime.db.write() as session:
        accounts.create_user(session, "owner@example.com", "correct horse battery",
                             installing.clock.now())
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    assert client.post("/admin/login", data={
        "email": "owner@example.com", "password": "correct horse battery",
        "csrf_token": token.group(1)}).status_code == 302
    started = client.get(installing.install_link(shop=stranger.domain))
    assert started.status_code == 302
    finished = client.get(path_of(consent(started.headers["Location"])))
    assert finished.status_code == 200, finished.text
    store = installing.store()
    assert store is not None and store.domain == stranger.domain
