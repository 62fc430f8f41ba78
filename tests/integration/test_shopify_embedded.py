"""The public app, embedded: session tokens from the sandbox (App Bridge's part) verified on
every /embedded request, token exchange on the first open, the shop's pages only, framed only
by that shop's admin, and the expiring token renewed by the usual sweep with rotation."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from flask.testing import FlaskClient
from playwright.sync_api import BrowserContext, Frame, Page
from sqlalchemy import select

from connectors.shopify.tokens import OAUTH, Credentials
from core.clock import FrozenClock
from integration.accounts.owners import create_user
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    AuditLog,
    Order,
    OutboxJob,
    Shipment,
    SkuMapping,
    Store,
    Supplier,
    SupplierOrder,
)
from integration.sync.shopify.tokens import RENEW_TOKEN_JOB, queue_token_renewals
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.oauth import issue_session_token
from tests.conftest import make_settings
from tests.helpers.axe import axe_context, axe_script, check  # noqa: F401  (fixtures)
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_admin import APP_ORIGIN, admin_frame
from tests.helpers.shopify_connector import shopify_limiter_fixture  # noqa: F401  (fixture)

CLIENT_ID = "droptrack-public-app"
CLIENT_SECRET = "shpss_0123456789abcdef0123456789abcdef"
SHOP_A = "alpha-merchant.myshopify.com"
SHOP_B = "beta-merchant.myshopify.com"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(database_url: str, shopify_server: BackgroundServer) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True},
                         app={"public_url": APP_ORIGIN}, shopify={
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


def test_missing_expired_forged_and_foreign_tokens_are_refused(client: FlaskClient,
                                                               embedded: Embedded) -> None:
    """A document load without a valid token goes to the bounce page (App Bridge reloads it
    with a fresh token; without App Bridge it stays refused, showing nothing); the marked
    reload, a fetch (Bearer) and an action are refused outright, with Shopify's retry header."""
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
        query = {"shop": SHOP_A, "host": "aG9zdA", "q": "#1001"} | (
            {"id_token": token} if token else {})
        answer = client.get("/embedded/orders", query_string=query)
        assert answer.status_code == 302, why
        bounce = answer.headers["Location"]
        assert bounce.startswith("/embedded/session-token?"), why
        reload_url = httpx.URL(bounce).params["shopify-reload"]
        assert reload_url.startswith(f"{APP_ORIGIN}/embedded/orders?"), why
        assert "id_token" not in reload_url and "bounced=1" in reload_url, why
        assert httpx.URL(reload_url).params["q"] == "#1001"
        page = client.get(bounce)
        assert page.status_code == 401, why
        assert page.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
        body = page.get_data(as_text=True)
        assert "open DropTrack again from your Shopify admin" in body and "app-bridge.js" in body
        assert f"frame-ancestors https://{SHOP_A} https://admin.shopify.com" in \
            page.headers["Content-Security-Policy"]
        again = client.get("/embedded/orders", query_string={**query, "bounced": "1"})
        assert again.status_code == 401, why
        assert "Shopify did not vouch" in again.get_data(as_text=True)
        bearer = client.get("/embedded/orders", headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 401, why
        assert bearer.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
        action = client.post("/embedded/mappings", data={"sku": "X", "supplier": "1"},
                             headers={"Authorization": f"Bearer {token}"})
        assert action.status_code == 401, why
    stranger = client.get("/embedded/", query_string={
        "id_token": issue_session_token(box, "stranger.myshopify.com", CLIENT_ID)})
    assert stranger.status_code == 403
    with embedded.runtime.db.read() as session:
        assert session.scalars(select(Store)).all() == []  # nothing connected by any of them


@dataclass(frozen=True)
class Seeded:
    store_id: int
    order_id: int
    alert_id: int
    job_id: int
    shipment_id: int
    mapping_id: int
    supplier_id: int
    markers: tuple[str, ...]


def seed_shop(embedded: Embedded, shop: str, tag: str) -> Seeded:
    """One order needing attention (a stuck parcel), a dead job, a supplier only this shop uses,
    a SKU mapping and a write-back setting: each with text found nowhere else."""
    store_id = embedded.store_id(shop)
    now = embedded.clock.now()
    with embedded.runtime.db.write() as session:
        supplier = Supplier(name=f"Supplier-{tag}", kind="rest", created_at=now,
                            settings={"base_url": f"https://supplier-{tag.lower()}.example"})
        order = Order(store_id=store_id, number=f"#{tag}-1", email=f"{tag.lower()}@x.example",
                      customer_name=f"Customer {tag}", status="in_transit", created_at=now,
                      updated_at=now, ship_country="US", ship_city=f"City-{tag}")
        session.add_all([supplier, order])
        session.flush()
        supplier_order = SupplierOrder(order_id=order.id, supplier_id=supplier.id,
                                       idempotency_key=f"forward:{store_id}:{order.id}:x",
                                       status="shipped", created_at=now)
        session.add(supplier_order)
        session.flush()
        shipment = Shipment(order_id=order.id, supplier_order_id=supplier_order.id,
                            tracking_number=f"TRK{tag}1", status="in_transit", created_at=now,
                            updated_at=now)
        mapping = SkuMapping(store_id=store_id, sku=f"SKU-{tag}", supplier_id=supplier.id,
                             created_at=now)
        session.add_all([shipment, mapping])
        session.flush()
        alert = Alert(store_id=store_id, order_id=order.id, shipment_id=shipment.id,
                      kind="stuck_in_transit", dedupe_key=f"stuck:{tag}",
                      message=f"Alert {tag}: no scan for days", created_at=now)
        job = OutboxJob(kind="shopify.writeback", idempotency_key=f"job-{tag}",
                        payload={"order_id": order.id}, store_id=store_id, state="dead",
                        next_run_at=now, last_error=f"Job {tag} failed", created_at=now,
                        updated_at=now, finished_at=now)
        session.add_all([alert, job])
        session.flush()
        store = session.get(Store, store_id)
        assert store is not None
        store.name = f"Shop {tag}"
        return Seeded(store_id, order.id, alert.id, job.id, shipment.id, mapping.id,
                      supplier.id, (f"#{tag}-1", f"Customer {tag}", f"Supplier-{tag}",
                                    f"SKU-{tag}", f"TRK{tag}1", f"Alert {tag}",
                                    f"Job {tag}", f"Shop {tag}", shop))


PAGES = {
    "overview": ("/embedded/", ('id="total-orders">1<', 'id="attention">2<')),
    "attention": ("/embedded/attention", ("Alert A", "Job A", "#A-1", "TRKA1")),
    "orders": ("/embedded/orders", ("#A-1", "Customer A", "TRKA1", "Supplier-A")),
    "suppliers": ("/embedded/suppliers", ("Supplier-A",)),
    "mappings": ("/embedded/mappings", ("SKU-A", "Supplier-A")),
    "settings": ("/embedded/settings", ("Shop A",)),
    "export": ("/embedded/mappings/export.csv", ("SKU-A", "Supplier-A")),
}


def bearer(embedded: Embedded, shop: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {embedded.session_token(shop)}"}


def test_a_token_for_another_shop_sees_nothing_of_this_one(client: FlaskClient,
                                                           embedded: Embedded) -> None:
    for shop in (SHOP_A, SHOP_B):
        assert open_app(client, embedded.session_token(shop))[0] == 200
    a = seed_shop(embedded, SHOP_A, "A")
    seed_shop(embedded, SHOP_B, "B")
    with embedded.runtime.db.write() as session:  # no store uses it yet: both may map to it
        session.add(Supplier(name="Supplier-Free", kind="rest", created_at=embedded.clock.now(),
                             settings={"base_url": "https://free.example"}))
    expired = issue_session_token(embedded.sandbox, SHOP_A, CLIENT_ID,
                                  lifetime=timedelta(seconds=-10))
    for name, (path, shown_to_a) in PAGES.items():
        refused = client.get(path, headers={"Authorization": f"Bearer {expired}"})
        assert refused.status_code == 401, name
        assert not [m for m in shown_to_a if m in refused.get_data(as_text=True)], name
        for shop, own, foreign in ((SHOP_A, shown_to_a, "B"), (SHOP_B, (), "A")):
            answer = client.get(path, headers=bearer(embedded, shop),
                                query_string={"shop": SHOP_A if shop == SHOP_B else SHOP_B})
            body = answer.get_data(as_text=True)
            assert answer.status_code == 200, (name, shop, body[:300])
            for marker in own:
                assert marker in body, (name, shop, marker)
            leaked = [m for m in ("#X-1", "Customer X", "Supplier-X", "SKU-X", "TRKX1",
                                  "Alert X", "Job X", "Shop X")
                      if m.replace("X", foreign) in body]
            assert leaked == [], (name, shop, leaked)
            other = SHOP_A if foreign == "A" else SHOP_B
            assert other not in body, (name, shop)
            if name != "export":
                assert f"frame-ancestors https://{shop} https://admin.shopify.com" in \
                    answer.headers["Content-Security-Policy"], name
    for shop in (SHOP_A, SHOP_B):
        listed = client.get("/embedded/suppliers", headers=bearer(embedded, shop))
        assert "Supplier-Free" in listed.get_data(as_text=True), shop
    # A's order page and A's subjects by id: not found for B, and nothing changes.
    assert client.get(f"/embedded/orders/{a.order_id}", headers=bearer(embedded, SHOP_A)
                      ).status_code == 200
    page = client.get(f"/embedded/orders/{a.order_id}", headers=bearer(embedded, SHOP_B))
    assert page.status_code == 404 and "#A-1" not in page.get_data(as_text=True)
    attempts = [
        (f"/embedded/orders/{a.order_id}/forward", {}),
        (f"/embedded/orders/{a.order_id}/address", {"ship_city": "Elsewhere"}),
        (f"/embedded/alerts/{a.alert_id}/dismiss", {"note": "by B"}),
        (f"/embedded/jobs/{a.job_id}/replay", {}),
        (f"/embedded/shipments/{a.shipment_id}/tracking", {"tracking_number": "BNEW1"}),
        (f"/embedded/mappings/{a.mapping_id}/delete", {}),
        (f"/embedded/settings/stores/{a.store_id}", {"notify_customer": "yes"}),
        (f"/embedded/settings/tracking/store/{a.store_id}", {"tracking_source": "default"}),
        (f"/embedded/settings/tracking/supplier/{a.supplier_id}", {"tracking_source": "default"}),
    ]
    for path, data in attempts:
        answer = client.post(path, data=data, headers=bearer(embedded, SHOP_B))
        assert answer.status_code in (303, 404), path
        if answer.status_code == 303:  # the mapping: "does not exist any more", nothing done
            assert "notice=" in answer.headers["Location"]
        assert "#A-1" not in answer.get_data(as_text=True)
    with embedded.runtime.db.read() as session:
        alert = session.get(Alert, a.alert_id)
        job = session.get(OutboxJob, a.job_id)
        shipment = session.get(Shipment, a.shipment_id)
        assert alert is not None and alert.resolved_at is None
        assert job is not None and job.state == "dead"
        assert shipment is not None and shipment.tracking_number == "TRKA1"
        assert session.get(SkuMapping, a.mapping_id) is not None
        assert session.scalars(select(AuditLog.action).where(
            AuditLog.store_id == a.store_id, AuditLog.action != "store.installed")).all() == []
    # B cannot map its SKUs to A's supplier either (it is unknown to B), by form or by file.
    form = client.post("/embedded/mappings", data={"sku": "SKU-B2", "supplier": str(
        a.supplier_id)}, headers=bearer(embedded, SHOP_B))
    body = form.get_data(as_text=True)
    assert form.status_code == 400 and "unknown supplier" in body and 'value="SKU-B2"' in body
    upload = client.post("/embedded/mappings/import", headers=bearer(embedded, SHOP_B), data={
        "file": (io.BytesIO(b"sku,supplier\nSKU-B3,Supplier-A\n"), "m.csv")})
    assert upload.status_code == 200 and "unknown supplier" in upload.get_data(as_text=True)


def test_actions_take_the_session_token_only_and_the_admin_login_is_no_token(
        client: FlaskClient, embedded: Embedded) -> None:
    """The dashboard's cookie never authorizes an embedded request, a session token never an
    /admin one; an action by its token runs, is audited as the shop's staff user, and answers
    with the page it came from and what was done."""
    assert open_app(client, embedded.session_token(SHOP_A))[0] == 200
    a = seed_shop(embedded, SHOP_A, "A")
    with embedded.runtime.db.write() as session:
        create_user(session, "owner@example.com", "correct horse battery staple",
                    embedded.clock.now())
    login = client.get("/admin/login").get_data(as_text=True)
    csrf = CSRF.search(login)
    assert csrf is not None
    assert client.post("/admin/login", data={
        "email": "owner@example.com", "password": "correct horse battery staple",
        "csrf_token": csrf.group(1)}).status_code == 302
    assert client.get("/admin/attention").status_code == 200  # signed in
    cookie_only = client.post(f"/embedded/alerts/{a.alert_id}/dismiss", data={"note": "x"})
    assert cookie_only.status_code == 401
    by_query = client.post(f"/embedded/alerts/{a.alert_id}/dismiss?id_token="
                           + embedded.session_token(SHOP_A), data={"note": "x"})
    assert by_query.status_code == 401  # actions: the Authorization header only
    assert client.get("/embedded/attention").status_code == 302  # to the bounce page

    other = client.application.test_client()  # no cookie, only a session token
    admin = other.post(f"/admin/alerts/{a.alert_id}/dismiss", data={"note": "x"},
                       headers=bearer(embedded, SHOP_A))
    assert admin.status_code == 400  # no session: its CSRF check fails before anything runs
    page = other.get("/admin/attention", headers=bearer(embedded, SHOP_A))
    assert page.status_code == 302 and "/admin/login" in page.headers["Location"]
    with embedded.runtime.db.read() as session:
        alert = session.get(Alert, a.alert_id)
        assert alert is not None and alert.resolved_at is None

    back = f"/embedded/attention?shop={SHOP_A}&embedded=1"
    done = other.post(f"/embedded/alerts/{a.alert_id}/dismiss", headers=bearer(
        embedded, SHOP_A), data={"note": "carrier found it", "back": back})
    assert done.status_code == 303
    assert "Set-Cookie" not in done.headers  # no session of any kind inside the frame
    assert done.headers["Location"].startswith(back + "&notice=")
    shown = other.get(done.headers["Location"], headers=bearer(embedded, SHOP_A))
    assert "Marked as resolved." in shown.get_data(as_text=True)
    forged = other.get(back + "&notice=bm90IHNpZ25lZA", headers=bearer(embedded, SHOP_A))
    assert 'id="notice"' not in forged.get_data(as_text=True)
    elsewhere = other.post(f"/embedded/jobs/{a.job_id}/replay", headers=bearer(
        embedded, SHOP_A), data={"back": "https://evil.example/embedded/"})
    assert elsewhere.headers["Location"].startswith("/embedded/attention?")
    with embedded.runtime.db.read() as session:
        alert = session.get(Alert, a.alert_id)
        assert alert is not None and alert.resolved_at is not None
        actors = session.scalars(select(AuditLog.actor).where(
            AuditLog.action == "alert.resolved")).all()
    assert actors == [f"shopify:{SHOP_A}:user:1"]

    # Bad input: a clear error, the form comes back with what was typed, nothing saved.
    bad = other.post("/embedded/mappings", headers=bearer(embedded, SHOP_A), data={
        "sku": "SKU-NEW", "supplier": str(a.supplier_id), "destination_country": "USA"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "two-letter country code" in body
    assert 'value="SKU-NEW"' in body and 'value="USA"' in body
    empty = other.post("/embedded/mappings/import", headers=bearer(embedded, SHOP_A), data={})
    assert empty.status_code == 400 and "Choose a CSV file" in empty.get_data(as_text=True)
    with embedded.runtime.db.read() as session:
        assert session.scalars(select(SkuMapping.sku)).all() == ["SKU-A"]


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



HOST_A = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYWxwaGEtbWVyY2hhbnQ"
ADMIN = "https://admin.shopify.com"


def framed_app(embedded: Embedded, token: str) -> str:
    return f"{APP_ORIGIN}/embedded/?" + str(httpx.QueryParams(
        {"id_token": token, "shop": SHOP_A, "embedded": "1", "host": HOST_A}))


def token_url(embedded: Embedded, shop: str) -> str:
    return f"{embedded.server.url}/shops/{shop}/admin/apps/{CLIENT_ID}/session_token"


def app_frame(page: Page) -> Frame:
    frame = page.frame(name="app-iframe")
    assert frame is not None
    return frame


def test_chromium_walks_every_embedded_page_inside_shopify_admin_with_fresh_tokens(
        axe_context: BrowserContext, axe_script: Path, live_url: str,  # noqa: F811
        embedded: Embedded) -> None:
    """Shopify admin (a page framing the app, with App Bridge) opens DropTrack with a session
    token; every later page and action happens after the token before it expired (the sandbox
    signs with the app's secret on the shared clock): links bounce through App Bridge for a
    fresh token, forms post with one. No page shows shop B's data; axe finds nothing serious."""
    for shop in (SHOP_A, SHOP_B):
        assert httpx.get(f"{live_url}/embedded/", params={
            "id_token": embedded.session_token(shop)}).status_code == 200
    a = seed_shop(embedded, SHOP_A, "A")
    seed_shop(embedded, SHOP_B, "B")
    first = embedded.session_token(SHOP_A)
    page = axe_context.new_page()
    admin_frame(page, ADMIN, framed_app(embedded, first), live_url,
                token_url=token_url(embedded, SHOP_A))
    page.goto(f"{ADMIN}/store/alpha-merchant/apps/droptrack")
    frame = page.frame_locator("#app")
    frame.locator("h1").filter(has_text=f"DropTrack for {SHOP_A}").wait_for()
    found = {"overview": check(app_frame(page), axe_script)}

    def expire() -> None:
        embedded.clock.advance(timedelta(seconds=70))  # every token minted so far is dead

    def shows_nothing_of_b() -> str:
        text = frame.locator("main").inner_text()
        assert [m for m in ("#B-1", "Customer B", "Supplier-B", "SKU-B", "TRKB1", "Alert B",
                            "Job B", "Shop B") if m in text] == []
        return text

    for link, heading, shown in (("Needs attention", "Needs attention", "Alert A"),
                                 ("Orders", "Orders", "TRKA1"),
                                 ("Suppliers", "Suppliers", "Supplier-A"),
                                 ("SKU mappings", "SKU mappings", "SKU-A"),
                                 ("Settings", "Settings", "Shop A")):
        expire()
        frame.get_by_role("link", name=link, exact=True).click()
        frame.locator("h1").filter(has_text=heading).wait_for()
        assert shown in shows_nothing_of_b(), link
        url = app_frame(page).url
        assert "id_token=" in url and first not in url, link  # reloaded with a fresh token
        found[link] = check(app_frame(page), axe_script)

    expire()  # a GET form (the orders search) bounces the same way and keeps its query
    frame.get_by_role("link", name="Orders", exact=True).click()
    frame.locator("#q").fill("TRKA1")
    frame.get_by_role("button", name="Filter").click()
    app_frame(page).wait_for_url(lambda url: "q=TRKA1" in url and "id_token=" in url)
    frame.locator("h1").filter(has_text="Orders").wait_for()
    assert frame.locator("#q").input_value() == "TRKA1"
    frame.get_by_role("link", name="#A-1").click()
    frame.locator("h1").filter(has_text="Order #A-1").wait_for()
    shows_nothing_of_b()
    found["order"] = check(app_frame(page), axe_script)

    expire()  # the action's fetch gets a fresh token from App Bridge too
    frame.locator("summary", has_text="Mark resolved").click()
    frame.get_by_label("What was done").fill("Carrier found the parcel")
    frame.locator("button[type=submit]", has_text="Mark resolved").click()
    frame.locator("#notice").filter(has_text="Marked as resolved.").wait_for()
    assert frame.locator("h1").inner_text().startswith("Order #A-1")
    with embedded.runtime.db.read() as session:
        alert = session.get(Alert, a.alert_id)
        assert alert is not None and alert.resolved_at is not None

    expire()
    frame.get_by_role("link", name="SKU mappings", exact=True).click()
    frame.locator("#m-sku").fill("SKU-A2")
    frame.locator("#m-supplier").select_option(label="Supplier-A")
    frame.locator("#m-country").fill("1X")
    frame.get_by_role("button", name="Save mapping").click()
    frame.locator("#mapping-error").filter(has_text="two-letter country code").wait_for()
    assert frame.locator("#m-sku").input_value() == "SKU-A2"  # nothing typed is lost
    found["mapping error"] = check(app_frame(page), axe_script)
    expire()
    frame.locator("#m-country").fill("DE")
    frame.get_by_role("button", name="Save mapping").click()
    frame.locator("#notice").filter(has_text="Mapping for SKU SKU-A2 saved.").wait_for()
    assert "SKU-A2" in frame.locator("#mappings").inner_text()
    with embedded.runtime.db.read() as session:
        assert session.scalars(select(SkuMapping.destination_country).where(
            SkuMapping.sku == "SKU-A2", SkuMapping.store_id == a.store_id)).all() == ["DE"]
    assert {name: [str(v) for v in found_] for name, found_ in found.items() if found_} == {}


def test_chromium_refuses_other_framers_and_an_expired_token_without_app_bridge(
        page: Page, live_url: str, embedded: Embedded) -> None:
    assert httpx.get(f"{live_url}/embedded/", params={
        "id_token": embedded.session_token(SHOP_A)}).status_code == 200
    seed_shop(embedded, SHOP_A, "A")
    app_url = framed_app(embedded, embedded.session_token(SHOP_A))

    # Framed by anyone else, the browser refuses to show it (frame-ancestors).
    admin_frame(page, "https://evil.example", app_url, live_url,
                token_url=token_url(embedded, SHOP_A))
    page.goto("https://evil.example/", wait_until="load")  # load waits for the frame
    child = next(f for f in page.frames if f != page.main_frame)
    # The URL that loads inside Shopify admin ends on Chromium's error page here: the
    # answer's frame-ancestors does not name this parent.
    child.wait_for_url(lambda url: url.startswith("chrome-error://"))
    assert "DropTrack for" not in child.content()

    # Inside the admin but without App Bridge (Shopify's script did not run), an expired token
    # ends on the bounce page, which says what to do and shows nothing of the shop.
    embedded.clock.advance(timedelta(seconds=70))
    bare = page.context.new_page()
    admin_frame(bare, ADMIN, app_url, live_url, app_bridge=False)
    bare.goto(f"{ADMIN}/store/alpha-merchant/apps/droptrack")
    refused = bare.frame_locator("#app").locator("#refused")
    refused.wait_for()
    assert "open DropTrack again from your Shopify admin" in refused.inner_text()
    content = app_frame(bare).content()
    assert "#A-1" not in content and "DropTrack for" not in content and "Alert A" not in content


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
