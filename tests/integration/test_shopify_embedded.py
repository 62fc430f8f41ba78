"""The public app, embedded: session tokens from the sandbox (App Bridge's part) verified on
every /embedded request, token exchange on the first open, the shop's pages only, framed only
by that shop's admin, and the expiring token renewed by the usual sweep with rotation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from flask.testing import FlaskClient
from playwright.sync_api import Page, Route
from sqlalchemy import select

from connectors.shopify.tokens import OAUTH, Credentials
from core.clock import FrozenClock
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, AuditLog, Order, Store
from integration.sync.shopify.tokens import RENEW_TOKEN_JOB, queue_token_renewals
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.oauth import issue_session_token
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_connector import shopify_limiter_fixture  # noqa: F401  (fixture)

CLIENT_ID = "droptrack-public-app"
CLIENT_SECRET = "shpss_0123456789abcdef0123456789abcdef"
SHOP_A = "alpha-merchant.myshopify.com"
SHOP_B = "beta-merchant.myshopify.com"


@pytest.fixture
def settings(database_url: str, shopify_server: BackgroundServer) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True}, shopify={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "admin_base_url": shopify_server.url, "allowed_shops": [SHOP_A, SHOP_B]})


@dataclass
class Embedded:
    runtime: Runtime
    sandbox: ShopifySandbox
    server: BackgroundServer
    clock: FrozenClock

    def session_token(self, shop: str) -> str:
        """Over HTTP, as App Bridge asks the admin for one."""
        answer = httpx.post(f"{self.server.url}/shops/{shop}/admin/apps/{CLIENT_ID}/"
                            "session_token")
        assert answer.status_code == 200, answer.text
        return str(answer.json()["token"])

    def credentials(self, shop: str) -> Credentials:
        with self.runtime.db.read() as session:
            store = session.scalars(select(Store).where(Store.domain == shop)).one()
            return Credentials.from_dict(
                self.runtime.secrets.decrypt_json(store.credentials_encrypted or ""))

    def store_id(self, shop: str) -> int:
        with self.runtime.db.read() as session:
            return session.scalars(select(Store.id).where(Store.domain == shop)).one()


@pytest.fixture
def embedded(runtime: Runtime, shopify_sandbox: ShopifySandbox, shopify_server: BackgroundServer,
             shopify_clock: FrozenClock, shopify_limiter: object) -> Embedded:
    runtime.clock = shopify_clock
    state = shopify_sandbox.state
    state.create_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    state.create_shop("alpha-merchant")
    state.create_shop("beta-merchant")
    state.create_shop("stranger")
    return Embedded(runtime, shopify_sandbox, shopify_server, shopify_clock)


def open_app(client: FlaskClient, token: str, path: str = "/embedded/") -> tuple[int, str, dict[
        str, str]]:
    answer = client.get(path, query_string={"id_token": token, "embedded": "1"})
    return answer.status_code, answer.get_data(as_text=True), dict(answer.headers)


def test_first_open_exchanges_the_session_token_and_frames_only_for_that_shop(
        client: FlaskClient, embedded: Embedded) -> None:
    status, body, headers = open_app(client, embedded.session_token(SHOP_A))
    assert status == 200, body
    assert f"DropTrack for {SHOP_A}" in body
    policy = headers["Content-Security-Policy"]
    assert f"frame-ancestors https://{SHOP_A} https://admin.shopify.com" in policy
    assert "'self'" not in policy.split("frame-ancestors")[1]
    assert "X-Frame-Options" not in headers

    credentials = embedded.credentials(SHOP_A)
    assert credentials.kind == OAUTH and credentials.refresh_token
    now = embedded.clock.now()
    assert credentials.expires is not None
    assert timedelta(minutes=59) <= credentials.expires - now <= timedelta(minutes=60)
    assert embedded.sandbox.state.authenticate(SHOP_A, credentials.access_token) is not None
    with embedded.runtime.db.read() as session:
        store = session.scalars(select(Store).where(Store.domain == SHOP_A)).one()
        assert credentials.access_token not in (store.credentials_encrypted or "")
        assert credentials.refresh_token not in (store.credentials_encrypted or "")
        actions = session.scalars(select(AuditLog.action)).all()
    assert actions.count("store.installed") == 1

    # A second open reuses the stored token: no second exchange, same credentials.
    status, _, _ = open_app(client, embedded.session_token(SHOP_A), "/embedded/orders")
    assert status == 200
    assert embedded.credentials(SHOP_A) == credentials


def test_missing_expired_forged_and_foreign_tokens_get_401(client: FlaskClient,
                                                           embedded: Embedded) -> None:
    box = embedded.sandbox
    expired = issue_session_token(box, SHOP_A, CLIENT_ID)
    embedded.clock.advance(timedelta(seconds=70))
    refused = {
        "missing": "",
        "expired": expired,
        "forged": issue_session_token(box, SHOP_A, CLIENT_ID,
                                      secret="shpss_forged_forged_forged_forged_forged"),
        "wrong audience": issue_session_token(box, SHOP_A, CLIENT_ID, audience="another-app"),
        "garbage": "eyJhbGciOiJub25lIn0.e30.",
    }
    for why, token in refused.items():
        answer = client.get("/embedded/", query_string={"id_token": token} if token else {})
        assert answer.status_code == 401, why
        assert answer.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
        assert "Shopify did not vouch" in answer.get_data(as_text=True)
        bearer = client.get("/embedded/orders", headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 401, why
    stranger = client.get("/embedded/", query_string={
        "id_token": issue_session_token(box, "stranger.myshopify.com", CLIENT_ID)})
    assert stranger.status_code == 403
    with embedded.runtime.db.read() as session:
        assert session.scalars(select(Store)).all() == []  # nothing connected by any of them


def test_a_token_for_another_shop_sees_nothing_of_this_one(client: FlaskClient,
                                                           embedded: Embedded) -> None:
    for shop in (SHOP_A, SHOP_B):
        assert open_app(client, embedded.session_token(shop))[0] == 200
    now = embedded.clock.now()
    with embedded.runtime.db.write() as session:
        session.add_all([Order(store_id=embedded.store_id(SHOP_A), number=f"#A-{n}",
                               email="alice@example.com", customer_name=f"Alice {n}",
                               created_at=now, updated_at=now) for n in range(3)])
    status, body, _ = open_app(client, embedded.session_token(SHOP_A), "/embedded/orders")
    assert status == 200 and body.count('class="number"') == 3 and "#A-2" in body
    status, body, headers = open_app(client, embedded.session_token(SHOP_B), "/embedded/orders")
    assert status == 200 and "#A-" not in body and "Alice" not in body
    assert "No orders from beta-merchant.myshopify.com yet" in body
    assert f"frame-ancestors https://{SHOP_B} https://admin.shopify.com" in \
        headers["Content-Security-Policy"]
    status, body, _ = open_app(client, embedded.session_token(SHOP_B))
    assert 'id="total-orders">0<' in body
    status, body, _ = open_app(client, embedded.session_token(SHOP_A))
    assert 'id="total-orders">3<' in body
    # A shop name in the query changes nothing: only the token's shop counts.
    answer = client.get("/embedded/orders", query_string={
        "id_token": embedded.session_token(SHOP_B), "shop": SHOP_A})
    assert "#A-" not in answer.get_data(as_text=True)


def test_the_sweep_renews_the_exchanged_token_with_rotation(client: FlaskClient,
                                                            embedded: Embedded) -> None:
    assert open_app(client, embedded.session_token(SHOP_A))[0] == 200
    first = embedded.credentials(SHOP_A)
    embedded.clock.advance(timedelta(minutes=55))
    assert queue_token_renewals(embedded.runtime) == 1
    assert run_jobs(embedded.runtime, RENEW_TOKEN_JOB) == 1
    second = embedded.credentials(SHOP_A)
    assert second.access_token != first.access_token
    assert second.refresh_token and second.refresh_token != first.refresh_token
    assert second.expires is not None and second.expires - embedded.clock.now() >= \
        timedelta(minutes=59)

    # Rotation: until the new token is used, the old refresh token still works (a refresh
    # whose answer was lost can be retried); once the new one is used, the old one is dead.
    state = embedded.sandbox.state
    old = state.refresh_tokens.get(first.refresh_token)
    assert old is not None and not old.revoked
    assert state.authenticate(SHOP_A, second.access_token) is not None
    assert first.refresh_token not in state.refresh_tokens
    # The store stays active and its pages keep working with the renewed token.
    status, _body, _ = open_app(client, embedded.session_token(SHOP_A))
    assert status == 200 and embedded.credentials(SHOP_A) == second


APP_ORIGIN = "https://droptrack.example"


def admin_frame(page: Page, parent: str, app_url: str, live_url: str) -> None:
    """Serve `parent` (Shopify admin, or a stranger's site) as a page that frames `app_url`,
    and an empty App Bridge script (the CDN is not reachable from the tests). DropTrack is
    reached as `https://droptrack.example`, each request passed over HTTP to the live server
    (Chromium refuses a public page framing a loopback address)."""
    def serve_app(route: Route) -> None:
        url = route.request.url.replace(APP_ORIGIN, live_url, 1)
        route.fulfill(response=route.fetch(url=url))

    page.route(f"{APP_ORIGIN}/**", serve_app)
    def serve_parent(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=(
            f'<!doctype html><title>Shopify admin</title>'
            f'<iframe id="app" name="app-iframe" src="{app_url}" width="900" height="700">'
            f'</iframe>'))

    page.route(f"{parent}/**", serve_parent)
    page.route("https://cdn.shopify.com/**", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=""))


def test_chromium_shows_the_embedded_pages_inside_a_shopify_admin_frame(
        page: Page, live_url: str, embedded: Embedded) -> None:
    now = embedded.clock.now()
    assert httpx.get(f"{live_url}/embedded/", params={
        "id_token": embedded.session_token(SHOP_B)}).status_code == 200
    with embedded.runtime.db.write() as session:
        session.add(Order(store_id=embedded.store_id(SHOP_B), number="#B-1", email="b@x.example",
                          created_at=now, updated_at=now))
    app_url = f"{APP_ORIGIN}/embedded/?" + str(httpx.QueryParams(
        {"id_token": embedded.session_token(SHOP_A), "embedded": "1",
         "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWxwaGEtbWVyY2hhbnQ"}))
    admin_frame(page, "https://admin.shopify.com", app_url, live_url)
    page.goto("https://admin.shopify.com/store/alpha-merchant/apps/droptrack")
    frame = page.frame_locator("#app")
    frame.locator("h1").filter(has_text=f"DropTrack for {SHOP_A}").wait_for()
    assert frame.locator("#total-orders").inner_text() == "0"
    frame.get_by_role("link", name="Orders").click()  # the link carries the session token
    frame.locator("#no-orders").wait_for()
    assert "#B-1" not in frame.locator("main").inner_text()

    # Framed by anyone else, the browser refuses to show it (frame-ancestors).
    stranger = page.context.new_page()
    admin_frame(stranger, "https://evil.example", app_url, live_url)
    stranger.goto("https://evil.example/", wait_until="load")  # load waits for the frame
    child = next(f for f in stranger.frames if f != stranger.main_frame)
    # The same URL that loaded inside Shopify admin above ends on Chromium's error page here:
    # the answer's frame-ancestors does not name this parent.
    child.wait_for_url(lambda url: url.startswith("chrome-error://"))
    assert "DropTrack for" not in child.content()


def test_a_disconnected_store_is_connected_again_by_the_next_embedded_open(
        client: FlaskClient, embedded: Embedded) -> None:
    """A refresh refused for good disconnects the store (the usual sweep); the merchant opening
    DropTrack in the admin again exchanges a new session token and the store is active again,
    its access alert resolved."""
    assert open_app(client, embedded.session_token(SHOP_A))[0] == 200
    first = embedded.credentials(SHOP_A)
    embedded.sandbox.state.refresh_tokens.clear()  # Shopify no longer knows the refresh token
    embedded.clock.advance(timedelta(minutes=55))
    assert queue_token_renewals(embedded.runtime) == 1
    run_jobs(embedded.runtime, RENEW_TOKEN_JOB)
    with embedded.runtime.db.read() as session:
        assert session.scalars(select(Store.state).where(Store.domain == SHOP_A)).one() == \
            "disconnected"
        assert session.scalars(select(Alert).where(Alert.resolved_at.is_(None))).all()

    status, body, _ = open_app(client, embedded.session_token(SHOP_A))
    assert status == 200, body
    renewed = embedded.credentials(SHOP_A)
    assert renewed.access_token != first.access_token and renewed.refresh_token
    with embedded.runtime.db.read() as session:
        assert session.scalars(select(Store.state).where(Store.domain == SHOP_A)).one() == \
            "active"
        assert session.scalars(select(Alert).where(Alert.resolved_at.is_(None))).all() == []
        assert len(session.scalars(select(Store)).all()) == 1


def test_a_refused_token_exchange_stores_nothing_and_says_what_to_do(
        client: FlaskClient, embedded: Embedded) -> None:
    token = issue_session_token(embedded.sandbox, SHOP_A, CLIENT_ID)
    embedded.sandbox.state.apps[CLIENT_ID].client_secret = "shpss_" + "9" * 32  # rotated there
    status, body, _ = open_app(client, token)
    assert status == 502
    assert "Shopify did not give DropTrack access to alpha-merchant.myshopify.com" in body
    assert CLIENT_SECRET not in body
    with embedded.runtime.db.read() as session:
        assert session.scalars(select(Store)).all() == []
