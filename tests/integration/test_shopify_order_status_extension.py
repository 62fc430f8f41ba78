"""The order status page extension's endpoint over real HTTP: a running DropTrack, the Shopify
sandbox minting the customer account UI extension's session tokens (over HTTP, as the customer
account host hands them to the extension), DropTrack's words for a pending, a processing, an
in-transit and an undelivered order, and a 401 for every token Shopify did not give this app
for a shop DropTrack serves.

The tokens' times are checked on the wall clock (shopifyapp), so both clocks start at the real
now here, not at the sandbox's usual fixed date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from connectors.shopify.mapper import parse_order
from connectors.shopify.tokens import Credentials
from core.clock import FrozenClock
from core.domain import CarrierEvent
from core.status import Reason, Status
from integration.accounts import stores
from integration.base.config import Settings
from integration.engine import bindings
from integration.engine.orders import import_order
from integration.storage.models import Order, Shipment, Store, SupplierOrder
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.oauth import issue_customer_account_token
from sandboxes.shopify.webhooks import order_payload
from tests.conftest import make_settings
from tests.helpers.order_status_extension import (  # noqa: F401  (fixture)
    built_extension_fixture,
    customer_account_host,
)
from tests.helpers.sandbox_shopify import SeededStore
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    shopify_limiter_fixture,
    shopify_link_fixture,
)

CLIENT_ID = "droptrack-extension-app"
CLIENT_SECRET = "shpss_extension_0123456789abcdef0123456789"
PATH = "/shopify/extension/order-status"
SHOPIFY_CDN = "https://extensions.shopifycdn.com"


@pytest.fixture
def shopify_clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True},
                         shopify={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})


@pytest.fixture
def shopify_store(shopify_sandbox: ShopifySandbox) -> SeededStore:
    state = shopify_sandbox.state
    app = state.create_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    shop = state.create_shop("droptrack-test")
    token = state.install(shop.domain, app)
    state.create_shop("other-merchant")
    return SeededStore(shopify_sandbox, shop, app, token)


def host_token(server: BackgroundServer, shop: str, customer: str | None = None) -> str:
    """Over HTTP, as the customer account host gives the extension its session token."""
    answer = httpx.post(f"{server.url}/shops/{shop}/account/apps/{CLIENT_ID}/session_token",
                        params={"customer": customer} if customer else {})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def ask(live_url: str, token: str | None, order: str, **extra: str) -> httpx.Response:
    headers = {"Origin": SHOPIFY_CDN}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}" if token else "Bearer"
    return httpx.get(f"{live_url}{PATH}", params={"order": order, **extra}, headers=headers)


def gid(order_id: int) -> str:
    return f"gid://shopify/Order/{order_id}"


def _set(link: ShopifyLink, order_id: int, status: Status, reason: Reason | None) -> None:
    with link.runtime.db.write() as session:
        order = session.get_one(Order, order_id)
        order.status, order.reason = status.value, reason.value if reason else None


def _forwarded(link: ShopifyLink, order_id: int) -> None:
    """The supplier accepted the order (what forwarding records)."""
    now = link.clock.now()
    with link.runtime.db.write() as session:
        supplier_order = session.scalars(select(SupplierOrder).where(
            SupplierOrder.order_id == order_id)).one()
        supplier_order.forwarded_at = now
        supplier_order.status = "forwarded"
    _set(link, order_id, Status.PROCESSING, None)


def test_the_extension_gets_each_orders_status_in_the_customers_words(
        live_url: str, shopify_link: ShopifyLink, shopify_server: BackgroundServer) -> None:
    state = shopify_link.seeded.sandbox.state
    domain = shopify_link.seeded.domain
    placed = {name: state.place_order(domain, email=f"{name}@example.com")
              for name in ("pending", "processing", "transit", "undelivered")}
    for order in placed.values():
        shopify_link.import_sandbox_order(order)
    with shopify_link.runtime.db.read() as session:
        ids = {name: session.scalars(select(Order.id).where(
            Order.email == f"{name}@example.com")).one() for name in placed}
    _set(shopify_link, ids["pending"], Status.PENDING, Reason.OUT_OF_STOCK)
    _forwarded(shopify_link, ids["processing"])
    now = shopify_link.clock.now()
    with shopify_link.runtime.db.read() as session:
        order_of_supplier_orders = list(session.scalars(
            select(SupplierOrder.order_id).order_by(SupplierOrder.id)))
    shopify_link.ship(CarrierEvent("t1", Status.IN_TRANSIT, now, location="Leipzig"),
                      number="LX000000001CN", parcel="P-transit",
                      supplier_order_index=order_of_supplier_orders.index(ids["transit"]))
    shopify_link.ship(CarrierEvent("u1", Status.UNDELIVERED, now, Reason.INVALID_ADDRESS),
                      number="LX000000002CN", parcel="P-undelivered",
                      supplier_order_index=order_of_supplier_orders.index(ids["undelivered"]))

    token = host_token(shopify_server, domain)  # before login: no `sub`
    answers: dict[str, dict[str, Any]] = {}
    for name, order in placed.items():
        reply = ask(live_url, token, gid(order.id))
        assert reply.status_code == 200, (name, reply.text)
        assert reply.headers["Access-Control-Allow-Origin"] == "*"
        answers[name] = reply.json()

    pending = answers["pending"]
    assert (pending["status"], pending["label"], pending["action_needed"]) == (
        "pending", "Pending", True)
    assert "temporarily out of stock" in pending["note"]
    assert pending["window"] == "" and pending["parcels"] == []

    processing = answers["processing"]
    assert (processing["status"], processing["label"]) == ("processing", "Processing")
    assert "being prepared for shipping" in processing["note"]
    assert processing["window"].startswith("Estimated delivery: ")
    assert processing["eta_from"] < processing["eta_to"]

    transit = answers["transit"]
    assert (transit["status"], transit["label"]) == ("in_transit", "In transit")
    assert transit["note"].startswith("Your parcel is on its way")
    assert transit["window"].startswith("Estimated delivery: ")
    assert [p["label"] for p in transit["parcels"]] == ["In transit"]

    undelivered = answers["undelivered"]
    assert (undelivered["label"], undelivered["action_needed"]) == ("Action needed", True)
    assert "please confirm your delivery address" in undelivered["note"]

    # What the token cannot prove (the order) is not answered: no tracking numbers, places,
    # e-mails or names, for anyone holding a token of this shop.
    for name, answer in answers.items():
        text = str(answer)
        for secret in ("LX000000001CN", "LX000000002CN", "Leipzig", "@example.com",
                       placed[name].name):
            assert secret not in text, (name, secret)

    # The fulfillment DropTrack wrote for a parcel: the per-fulfillment target's answer.
    shipment_gid = f"gid://shopify/Fulfillment/{placed['transit'].id}77"
    with shopify_link.runtime.db.write() as session:
        shipment_id = session.scalars(select(Shipment.id).where(
            Shipment.tracking_number == "LX000000001CN")).one()
        bindings.bind(session, bindings.STORE, shopify_link.store_id, bindings.FULFILLMENT,
                      shipment_gid, shipment_id, now)
    one = ask(live_url, token, gid(placed["transit"].id), fulfillment=shipment_gid).json()
    assert one["fulfillment"]["label"] == "In transit"
    assert one["fulfillment"]["window"].startswith("Estimated delivery: ")
    # Another order's fulfillment id gives no parcel.
    other = ask(live_url, token, gid(placed["pending"].id), fulfillment=shipment_gid).json()
    assert other["fulfillment"] is None

    # A signed-in customer (`sub`) reads the same, nothing more.
    signed_in = ask(live_url, host_token(shopify_server, domain, customer="42"),
                    gid(placed["pending"].id))
    assert signed_in.status_code == 200 and signed_in.json() == pending


def test_missing_expired_forged_and_foreign_tokens_get_401_and_nothing_else(
        live_url: str, shopify_link: ShopifyLink, shopify_server: BackgroundServer) -> None:
    box = shopify_link.seeded.sandbox
    domain = shopify_link.seeded.domain
    order = box.state.place_order(domain, email="ada@example.com")
    shopify_link.import_sandbox_order(order)
    assert ask(live_url, host_token(shopify_server, domain), gid(order.id)).status_code == 200

    clock = shopify_link.clock
    clock.advance(-timedelta(minutes=10))  # minted ten minutes ago, valid five
    expired = issue_customer_account_token(box, domain, CLIENT_ID)
    clock.advance(timedelta(minutes=10))
    refused = {
        "missing": None,
        "empty": "",
        "expired": expired,
        "forged": issue_customer_account_token(
            box, domain, CLIENT_ID, secret="shpss_forged_forged_forged_forged_forged"),
        "another app": issue_customer_account_token(box, domain, CLIENT_ID,
                                                    audience="another-app"),
        "a shop DropTrack does not serve": host_token(shopify_server,
                                                      "other-merchant.myshopify.com"),
        "garbage": "eyJhbGciOiJub25lIn0.e30.",
    }
    for why, token in refused.items():
        answer = ask(live_url, token, gid(order.id))
        assert answer.status_code == 401, (why, answer.text)
        assert answer.headers["Access-Control-Allow-Origin"] == "*", why
        body = answer.json()
        assert body["error"] in ("invalid_session_token", "shop_unknown"), why
        assert "Shopify did not vouch" in body["message"] or \
            body["message"] == "DropTrack does not serve this shop.", why
        assert order.name not in answer.text and "Pending" not in answer.text, why

    # Signed with the right secret but not as Shopify signs: shopifyapp alone would let the
    # first two through (PyJWT checks exp only when present); DropTrack requires the claims.
    issued = int(clock.now().timestamp())
    good = {"iss": f"https://{domain}/admin", "dest": f"https://{domain}", "aud": CLIENT_ID,
            "exp": issued + 300, "nbf": issued, "iat": issued, "jti": "j", "sid": "s"}
    incomplete = {
        "no exp": {k: v for k, v in good.items() if k != "exp"},
        "no dest": {k: v for k, v in good.items() if k != "dest"},
        "iss of another shop": {**good, "iss": "https://other-merchant.myshopify.com/admin"},
        "dest not a shop": {**good, "dest": "https://evil.example",
                            "iss": "https://evil.example/admin"},
        "exp as text": {**good, "exp": str(issued + 300)},
    }
    for why, claims in incomplete.items():
        token = jwt.encode(claims, CLIENT_SECRET, algorithm="HS256")
        assert ask(live_url, token, gid(order.id)).status_code == 401, why
    assert ask(live_url, jwt.encode(good, CLIENT_SECRET, algorithm="HS256"),
               gid(order.id)).status_code == 200

    # A token of this shop asking for an order of no shop, or of another: the same 404.
    token = host_token(shopify_server, domain)
    unknown = ask(live_url, token, gid(999999))
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert ask(live_url, token, "not-an-id").json() == unknown.json()
    assert ask(live_url, token, "").status_code == 400


def test_the_cors_preflight_is_answered_as_shopify_documents(live_url: str,
                                                              shopify_link: ShopifyLink) -> None:
    answer = httpx.options(f"{live_url}{PATH}?order=gid://shopify/Order/1", headers={
        "Origin": SHOPIFY_CDN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in answer.headers["Access-Control-Allow-Headers"]
    assert answer.headers["Access-Control-Max-Age"] == "7200"
    assert answer.content == b""
    # Without an Origin it is no preflight: refused like any request without a token.
    assert httpx.options(f"{live_url}{PATH}").status_code == 401


@pytest.fixture
def account_host(built_extension: Path, shopify_server: BackgroundServer,
                 shopify_link: ShopifyLink) -> Iterator[str]:
    yield from customer_account_host(
        built_extension, lambda: host_token(shopify_server, shopify_link.seeded.domain))


def show(page: Page, host: str, bundle: str, live_url: str, order: str,
         fulfillment: str = "") -> str:
    page.goto(f"{host}/?" + str(httpx.QueryParams({
        "bundle": bundle, "droptrack": live_url, "order": order, "fulfillment": fulfillment})))
    page.locator("html[data-rendered=yes]").wait_for(state="attached")
    page.locator("body s-heading").wait_for()
    lines = [page.locator("body s-heading").inner_text(),
             *page.locator("body s-text").all_inner_texts()]
    return "\n".join(line.strip() for line in lines)


def test_chromium_renders_the_built_extension_before_and_after_a_fulfillment(
        page: Page, live_url: str, account_host: str, shopify_link: ShopifyLink) -> None:
    state = shopify_link.seeded.sandbox.state
    order = state.place_order(shopify_link.seeded.domain, email="ada@example.com")
    order_id = shopify_link.import_sandbox_order(order)
    _forwarded(shopify_link, order_id)

    # Before a fulfillment: the block target alone says what happens.
    text = show(page, account_host, "order-status-block", live_url, gid(order.id))
    heading, note, window = text.splitlines()
    assert heading == "Delivery update: Processing"
    assert note.startswith("Your order is being prepared for shipping.")
    assert window.startswith("Estimated delivery: ")

    # DropTrack wrote the supplier's parcel as a fulfillment: both targets render it.
    now = shopify_link.clock.now()
    shipment_id = shopify_link.ship(CarrierEvent("t1", Status.IN_TRANSIT, now),
                                    number="LX000000003CN")
    fulfillment = f"gid://shopify/Fulfillment/{order.id}9"
    with shopify_link.runtime.db.write() as session:
        bindings.bind(session, bindings.STORE, shopify_link.store_id, bindings.FULFILLMENT,
                      fulfillment, shipment_id, now)
    text = show(page, account_host, "order-status-block", live_url, gid(order.id))
    assert text.splitlines()[:2] == ["Delivery update: In transit", "Your parcel is on its way."]
    text = show(page, account_host, "fulfillment-details", live_url, gid(order.id), fulfillment)
    heading, note, window = text.splitlines()
    assert (heading, note) == ("In transit", "Your parcel is on its way.")
    assert window.startswith("Estimated delivery: ")
    assert "LX000000003CN" not in page.content()


def test_a_self_hosted_stores_own_app_signs_its_extensions_tokens(
        live_url: str, shopify_link: ShopifyLink, shopify_server: BackgroundServer) -> None:
    """A Dev Dashboard app connected by client credentials (`stores add-shopify --client-id
    --client-secret`): its extension's tokens are signed with that app's secret, which DropTrack
    holds in the store's encrypted credentials, not in `[shopify]`."""
    box = shopify_link.seeded.sandbox
    own = box.state.create_app(client_id="merchant-own-app",
                               client_secret="shpss_own_app_0123456789abcdef0123")
    shop = box.state.create_shop("own-merchant").domain
    box.state.install(shop, own)
    runtime = shopify_link.runtime
    store_id = stores.add_shopify_store(runtime, shop, "shpat_unused", own.client_secret)
    with runtime.db.write() as session:
        session.get_one(Store, store_id).credentials_encrypted = runtime.secrets.encrypt_json(
            Credentials(access_token="shpat_unused", client_id=own.client_id,
                        client_secret=own.client_secret).as_dict())
    order = box.state.place_order(shop, email="own@example.com")
    with runtime.db.write() as session:
        parsed, problems = parse_order(order_payload(box.state, box.state.orders[order.id]))
        assert parsed is not None, problems
        import_order(session, store_id, parsed, shopify_link.clock.now())

    token = issue_customer_account_token(box, shop, own.client_id)
    answer = ask(live_url, token, gid(order.id))
    assert answer.status_code == 200, answer.text
    assert answer.json()["label"] == "Pending"
    # The same app's token for the other store (whose app is the public one) proves nothing
    # there; and the other store's order is not this store's.
    box.state.install(shopify_link.seeded.domain, own)
    elsewhere = issue_customer_account_token(box, shopify_link.seeded.domain, own.client_id)
    assert ask(live_url, elsewhere, gid(order.id)).status_code == 401
    theirs = box.state.place_order(shopify_link.seeded.domain, email="ada@example.com")
    shopify_link.import_sandbox_order(theirs)
    assert ask(live_url, token, gid(theirs.id)).status_code == 404


def test_lookups_count_against_the_per_address_limit(
        live_url: str, shopify_link: ShopifyLink, shopify_server: BackgroundServer) -> None:
    """A token proves the shop, not the order: one address cannot walk through the shop's order
    ids faster than `/track` allows (its own budget, `extension` scope)."""
    token = host_token(shopify_server, shopify_link.seeded.domain)
    budget = shopify_link.runtime.settings.admin.tracking_lookups_per_window
    statuses = [ask(live_url, token, gid(1000 + n)).status_code for n in range(budget + 1)]
    assert statuses == [404] * budget + [429]
    limited = ask(live_url, token, gid(1))
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert limited.headers["Access-Control-Allow-Origin"] == "*"
    # The customer's /track page keeps its own budget.
    assert httpx.post(f"{live_url}/track.json", json={"order": "1", "email": "a@b.c"}
                      ).status_code == 404
