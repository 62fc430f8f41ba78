"""The three ways a Shopify store connects, end to end over real HTTP, one table:

* client credentials: the owner's own Dev Dashboard app (`droptrack stores add-shopify
  --client-id --client-secret`, the Stores page: both call `connect_custom_app`);
* token exchange: the public app, embedded, managed install (the first open of `/embedded/`
  with App Bridge's session token);
* authorization code: the non-embedded install (signed install link, consent, callback).

Each runs against the Shopify sandbox and the reference supplier sandbox with DropTrack served
on a loopback port: connect → webhooks registered → a paid orders/create webhook → forwarded to
the supplier → parcel with tracking → fulfillment in Shopify → fulfillment events as the
carrier moves; the access token expires in the middle and is renewed through the one token path
(`ShopifyClient.renew_token`). The second test breaks each way's access for good and proves the
store then waits (webhooks kept, nothing written, nothing dead-lettered, one alert with the
way's own action) and that reconnecting the same way runs everything that waited exactly once.
No sleeps: the sandbox's clock (also DropTrack's) and the supplier's are advanced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from connectors.shopify.tokens import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_TOKEN_EXCHANGE,
    Credentials,
)
from core.clock import FrozenClock
from integration.accounts import stores
from integration.accounts.suppliers import add_rest_supplier
from integration.base.config import Settings
from integration.jobs.dispatcher import DEAD_JOB_ALERT
from integration.jobs.outbox import enqueue
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    InboxDelivery,
    Order,
    OutboxJob,
    Shipment,
    SkuMapping,
    Store,
)
from integration.sync.connection import STORE_ACCESS_ALERT
from integration.sync.shopify.install import connect_custom_app
from integration.sync.shopify.reconcile import RECONCILE_JOB
from integration.sync.shopify.store import ENSURE_WEBHOOKS_JOB
from integration.sync.shopify.tokens import RENEW_TOKEN_JOB, queue_token_renewals
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify.oauth import signed_install_url
from sandboxes.shopify.state import App, Fulfillment
from sandboxes.shopify.state import Order as SandboxOrder
from tests.conftest import make_settings
from tests.helpers.jobs import poll_supplier_orders, run_jobs
from tests.helpers.sandbox_supplier import SupplierSandbox
from tests.helpers.shopify_connector import (  # noqa: F401  (fixture)
    let_live_server_settle,
    shopify_limiter_fixture,
)

PUBLIC_ID = "droptrack-public"
PUBLIC_SECRET = "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"
SHOP = "three-ways.myshopify.com"
DAY = timedelta(days=1)
ORDER_TOPICS = {"orders/create", "orders/paid"}


@pytest.fixture
def settings(database_url: str, shopify_server: BackgroundServer) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True}, shopify={
        "client_id": PUBLIC_ID, "client_secret": PUBLIC_SECRET,
        "admin_base_url": shopify_server.url, "allowed_shops": [SHOP]})


@dataclass
class World:
    """DropTrack at `live_url`, the Shopify sandbox (one clock for both) and the supplier."""

    runtime: Runtime
    sandbox: ShopifySandbox
    clock: FrozenClock
    live_url: str
    supplier: SupplierSandbox
    public_app: App
    custom_app: App
    supplier_id: int
    browser: httpx.Client  # the merchant's browser: keeps DropTrack's cookies

    @property
    def app(self) -> App:
        """The app whose tokens this store holds (set by the way that connected it)."""
        client_id = self.credentials().client_id
        return self.custom_app if client_id == self.custom_app.client_id else self.public_app

    def store(self) -> Store:
        with self.runtime.db.read() as session:
            row = session.scalars(select(Store).where(Store.domain == SHOP)).one()
            session.expunge(row)
            return row

    def credentials(self) -> Credentials:
        return Credentials.from_dict(self.runtime.secrets.decrypt_json(
            self.store().credentials_encrypted or ""))

    def calls(self) -> int:
        return self.sandbox.usage(SHOP, self.app.client_id).calls

    def deliver_webhooks(self) -> list[str]:
        """Shopify sends what is due; DropTrack's answers, by topic."""
        delivered = self.sandbox.webhooks.deliver_due()
        let_live_server_settle()
        return [f"{d.topic}:{d.attempts[-1].status}" for d in delivered]

    def place_order(self) -> SandboxOrder:
        order = self.sandbox.state.place_order(SHOP)
        self.supplier.state.seed_scenario("normal", order_number=order.name)
        return order

    def refresh_directly(self, refresh_token: str) -> httpx.Response:
        """The token endpoint's refresh grant, called as any client of the app would."""
        return httpx.post(f"{self.sandbox.public_url}/shops/{SHOP}/admin/oauth/access_token",
                          json={"client_id": self.public_app.client_id,
                                "client_secret": self.public_app.client_secret,
                                "grant_type": "refresh_token", "refresh_token": refresh_token})

    def open_embedded_app(self) -> None:
        """The merchant opens DropTrack in Shopify admin: App Bridge's session token on the
        first document load."""
        issued = httpx.post(f"{self.sandbox.public_url}/shops/{SHOP}/admin/apps/"
                            f"{PUBLIC_ID}/session_token")
        assert issued.status_code == 200, issued.text
        page = self.browser.get(f"{self.live_url}/embedded/", params={
            "id_token": issued.json()["token"], "shop": SHOP, "embedded": "1"})
        assert page.status_code == 200, page.text
        assert f"DropTrack for {SHOP}" in page.text

    def install_with_consent(self) -> None:
        """Shopify's signed install link → DropTrack → consent screen → "Install app" →
        DropTrack's callback, every hop over HTTP."""
        start = self.browser.get(signed_install_url(
            self.live_url, SHOP, PUBLIC_SECRET, timestamp=int(self.clock.now().timestamp())))
        assert start.status_code == 302, start.text
        consent = httpx.post(start.headers["Location"])  # the merchant presses "Install app"
        assert consent.status_code == 302, consent.text
        callback = consent.headers["Location"]
        assert urlsplit(callback).path == "/shopify/callback"
        done = self.browser.get(callback)
        assert done.status_code == 200, done.text
        assert f"DropTrack is installed on {SHOP}" in done.text

    def connect_custom_app(self) -> None:
        connect_custom_app(self.runtime, SHOP, self.custom_app.client_id,
                           self.custom_app.client_secret)

    def run_everything(self) -> None:
        """Every job due now, until none is left (inbox, forwarding, polls, write-backs)."""
        for _ in range(10):
            if run_jobs(self.runtime) == 0:
                return
        raise AssertionError("jobs keep coming")

    def move_parcel(self, days: float) -> None:
        """The carrier moves: the supplier's clock goes on (DropTrack's a little: each poll
        is a new one), DropTrack polls, writes back."""
        self.supplier.clock.advance(timedelta(days=days))
        self.clock.advance(timedelta(minutes=2))
        poll_supplier_orders(self.runtime)
        self.run_everything()
        self.deliver_webhooks()  # orders/updated after each fulfillment change
        self.run_everything()

    def reconcile(self) -> None:
        """The scheduler's reconciliation run (orders modified since the watermark)."""
        now = self.clock.now()
        with self.runtime.db.write() as session:
            enqueue(session, RECONCILE_JOB, f"reconcile:{now.isoformat()}",
                    {"store_id": self.store().id}, now)
        assert run_jobs(self.runtime, RECONCILE_JOB) == 1

    def fulfillments(self, order: SandboxOrder) -> list[Fulfillment]:
        state = self.sandbox.state
        return [state.fulfillments[f] for f in state.orders[order.id].fulfillment_ids]

    def dead_jobs_and_open_alerts(self) -> tuple[list[str], list[str]]:
        """Jobs that failed at all (an attempt burned, or dead-lettered), and open alerts."""
        with self.runtime.db.read() as session:
            dead = list(session.scalars(select(OutboxJob.kind).where(
                (OutboxJob.state == "dead") | OutboxJob.last_error.is_not(None))))
            alerts = list(session.scalars(select(Alert.kind).where(
                Alert.resolved_at.is_(None))))
        return dead, alerts


@pytest.fixture
def world(runtime: Runtime, live_url: str, shopify_sandbox: ShopifySandbox,
          shopify_clock: FrozenClock, shopify_limiter: object,
          supplier_sandbox: SupplierSandbox) -> Iterator[World]:
    runtime.clock = shopify_clock
    runtime.settings = runtime.settings.model_copy(update={
        "app": runtime.settings.app.model_copy(update={"public_url": live_url})})
    state = shopify_sandbox.state
    public = state.create_app(client_id=PUBLIC_ID, client_secret=PUBLIC_SECRET,
                              redirect_urls=[live_url + "/shopify/callback"])
    custom = state.create_app(name="The owner's Dev Dashboard app", custom=True)
    state.create_shop("three-ways")
    supplier_id = add_rest_supplier(runtime, "Reference Supplier", supplier_sandbox.url,
                                    supplier_sandbox.api_key)
    with httpx.Client(timeout=10.0) as browser:
        yield World(runtime, shopify_sandbox, shopify_clock, live_url, supplier_sandbox,
                    public, custom, supplier_id, browser)
    let_live_server_settle()


def map_the_sku(world: World) -> None:
    """The owner maps the shop's CASE-1 to the supplier's mug (once the store exists)."""
    with world.runtime.db.write() as session:
        store = session.scalars(select(Store).where(Store.domain == SHOP)).one()
        session.add(SkuMapping(store_id=store.id, sku="CASE-1", supplier_sku="MUG-CERAMIC-11OZ",
                               supplier_id=world.supplier_id, created_at=world.clock.now()))


# ---------------------------------------------------------------------------------- the ways
def expire_client_credentials(world: World) -> None:
    """~24 h tokens, fetched again 10 minutes before they expire (the sweep), no refresh
    token; the old token keeps working until its own expiry."""
    old = world.credentials()
    assert old.refresh_token == "" and old.expires is not None
    world.clock.advance(timedelta(hours=23, minutes=51))
    assert queue_token_renewals(world.runtime) == 1
    assert run_jobs(world.runtime, RENEW_TOKEN_JOB) == 1
    new = world.credentials()
    assert new.access_token != old.access_token and new.grant == GRANT_CLIENT_CREDENTIALS
    assert new.expires is not None and new.expires - world.clock.now() > timedelta(hours=23)
    assert world.sandbox.state.authenticate(SHOP, old.access_token) is not None
    world.clock.advance(timedelta(minutes=10))  # past the old token's 86,399 s
    assert world.sandbox.state.authenticate(SHOP, old.access_token) is None


def expire_token_exchange(world: World) -> None:
    """60 min tokens with a rotating refresh token. A renewal whose answer never reached
    DropTrack (the worker died after Shopify answered) is harmless: the old refresh token
    stays valid until its replacement is first used, so DropTrack's own renewal with it
    works; once the new token is used, the old refresh token is refused."""
    old = world.credentials()
    assert old.refresh_token and old.expires is not None
    world.clock.advance(timedelta(minutes=52))
    assert queue_token_renewals(world.runtime) == 1
    lost = world.refresh_directly(old.refresh_token)  # the answer nobody saved
    assert lost.status_code == 200 and lost.json()["refresh_token"] != old.refresh_token
    assert run_jobs(world.runtime, RENEW_TOKEN_JOB) == 1
    new = world.credentials()
    assert new.access_token not in (old.access_token, lost.json()["access_token"])
    assert new.refresh_token not in (old.refresh_token, lost.json()["refresh_token"])
    assert new.grant == GRANT_TOKEN_EXCHANGE
    assert old.refresh_token in world.sandbox.state.refresh_tokens  # new token not used yet
    world.reconcile()  # the next call uses the new token...
    refused = world.refresh_directly(old.refresh_token)  # ...so the old refresh token is gone
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def expire_authorization_code(world: World) -> None:
    """The install asked for an expiring offline token (`expiring=1`, mandatory for public
    apps): nobody renews it in time here (no sweep ran), so the next call finds it expired and
    refreshes it first, with rotation, instead of spending a 401."""
    old = world.credentials()
    assert old.refresh_token and old.expires is not None
    world.clock.advance(timedelta(minutes=61))
    assert world.sandbox.state.authenticate(SHOP, old.access_token) is None
    calls = world.calls()
    world.reconcile()
    assert world.calls() > calls
    new = world.credentials()
    assert new.access_token != old.access_token and new.refresh_token != old.refresh_token
    assert new.grant == GRANT_AUTHORIZATION_CODE


@dataclass(frozen=True)
class Way:
    grant: str
    connect: Callable[[World], None]
    expire_mid_run: Callable[[World], None]
    break_access: Callable[[World], None]  # renewal (or the token itself) refused for good
    reconnect: Callable[[World], None]
    action: str  # what the owner's one alert asks for


def rotate_dev_dashboard_secret(world: World) -> None:
    world.custom_app.client_secret = "shpss_rotated_in_the_dev_dashboard"
    world.clock.advance(timedelta(hours=24))  # the 86,399 s token has expired


def stop_for_longer_than_the_refresh_token(world: World) -> None:
    world.clock.advance(timedelta(days=91))  # DropTrack was off: the 90-day refresh token died


def uninstall_before_its_webhook_arrives(world: World) -> None:
    """Shopify revokes the tokens at once; its app/uninstalled delivery comes an hour late."""
    webhooks = world.sandbox.webhooks
    usual, webhooks.delay = webhooks.delay, timedelta(hours=1)
    world.sandbox.state.uninstall(SHOP, PUBLIC_ID)
    webhooks.delay = usual
    world.clock.advance(timedelta(minutes=1))


WAYS = {
    "client_credentials": Way(GRANT_CLIENT_CREDENTIALS, World.connect_custom_app,
                              expire_client_credentials, rotate_dev_dashboard_secret,
                              World.connect_custom_app, "Dev Dashboard"),
    "token_exchange": Way(GRANT_TOKEN_EXCHANGE, World.open_embedded_app, expire_token_exchange,
                          stop_for_longer_than_the_refresh_token, World.open_embedded_app,
                          "Open DropTrack from your Shopify admin"),
    "authorization_code": Way(GRANT_AUTHORIZATION_CODE, World.install_with_consent,
                              expire_authorization_code, uninstall_before_its_webhook_arrives,
                              World.install_with_consent, "Install DropTrack on the store again"),
}


def connect_and_take_an_order(world: World, way: Way) -> SandboxOrder:
    way.connect(world)
    map_the_sku(world)
    store = world.store()
    assert store.state == stores.ACTIVE and world.credentials().grant == way.grant
    assert run_jobs(world.runtime, ENSURE_WEBHOOKS_JOB) == 1
    uri = world.live_url + "/webhooks/shopify"
    assert len([s for s in world.sandbox.state.subscriptions.values()
                if s.uri == uri and s.shop == SHOP]) == 5
    order = world.place_order()
    answers = world.deliver_webhooks()
    assert sorted(answers) == ["orders/create:200", "orders/paid:200"]
    world.run_everything()
    [forwarded] = world.supplier.state.orders.values()
    assert forwarded.request.order_number == order.name
    return order


@pytest.mark.parametrize("way_name", list(WAYS))
def test_each_way_runs_end_to_end_with_a_token_expiring_mid_run(world: World,
                                                                way_name: str) -> None:
    way = WAYS[way_name]
    order = connect_and_take_an_order(world, way)
    world.move_parcel(4)  # processed, shipped: the fulfillment is created with tracking
    [fulfillment] = world.fulfillments(order)
    [tracking] = fulfillment.tracking
    assert tracking.number
    before = [e.status for e in fulfillment.events]

    way.expire_mid_run(world)
    for _ in range(20):  # the carrier moves on until the parcel is delivered
        world.move_parcel(2)
        if fulfillment.events and fulfillment.events[-1].status == "DELIVERED":
            break
    statuses = [e.status for e in fulfillment.events]
    assert statuses[:len(before)] == before and statuses[-1] == "DELIVERED"
    assert len(statuses) == len(set(statuses)) > len(before)  # each status once, in order
    assert world.fulfillments(order) == [fulfillment]
    assert [t.number for t in fulfillment.tracking] == [tracking.number]
    assert len(world.supplier.state.orders) == 1
    assert world.dead_jobs_and_open_alerts() == ([], [])
    assert world.store().state == stores.ACTIVE
    # The store's current token is the renewed one, and it works.
    assert world.sandbox.state.authenticate(SHOP, world.credentials().access_token) is not None


@pytest.mark.parametrize("way_name", list(WAYS))
def test_a_refused_store_waits_and_everything_runs_once_when_it_reconnects(
        world: World, way_name: str) -> None:
    way = WAYS[way_name]
    first = connect_and_take_an_order(world, way)
    world.move_parcel(4)
    [fulfillment] = world.fulfillments(first)
    written = [e.status for e in fulfillment.events]

    way.break_access(world)
    world.reconcile()  # the next call meets the refusal: disconnected, the job is done
    store = world.store()
    assert store.state == stores.DISCONNECTED
    with world.runtime.db.read() as session:
        [alert] = session.scalars(select(Alert).where(Alert.resolved_at.is_(None))).all()
    assert alert.kind == STORE_ACCESS_ALERT and way.action in alert.message
    assert world.dead_jobs_and_open_alerts() == ([], [STORE_ACCESS_ALERT])
    assert [e.status for e in fulfillment.events] == written

    # While disconnected: nothing is sent to Shopify, nothing fails, no second alert.
    calls, tokens = world.calls(), len(world.sandbox.state.tokens)
    second = world.place_order()  # a new paid order meanwhile
    answers = world.deliver_webhooks()
    world.move_parcel(30)  # the first parcel is delivered meanwhile: its write-back waits
    with world.runtime.db.read() as session:
        [waiting] = session.scalars(select(Shipment)).all()
    assert waiting.status == "delivered" != waiting.written_status
    with world.runtime.db.write() as session:  # a reconcile that was already queued
        enqueue(session, RECONCILE_JOB, "queued-before", {"store_id": store.id},
                world.clock.now())
    assert queue_token_renewals(world.runtime) == 0
    world.run_everything()
    assert (world.calls(), len(world.sandbox.state.tokens)) == (calls, tokens)
    assert world.dead_jobs_and_open_alerts() == ([], [STORE_ACCESS_ALERT])
    assert [e.status for e in fulfillment.events] == written
    assert len(world.supplier.state.orders) == 1  # the new order waits too
    with world.runtime.db.read() as session:
        kept = list(session.scalars(select(InboxDelivery).where(
            InboxDelivery.topic.in_(ORDER_TOPICS), InboxDelivery.state == "received")))
    if way.grant == GRANT_TOKEN_EXCHANGE:  # same secret: verified, stored, waiting
        assert sorted(answers) == ["orders/create:200", "orders/paid:200"]
        assert len(kept) == 2
    elif way.grant == GRANT_CLIENT_CREDENTIALS:  # signed with the new secret: refused
        assert sorted(answers) == ["orders/create:401", "orders/paid:401"]  # Shopify retries
        assert kept == []
    else:  # uninstalled: no order webhooks; reconciliation brings the order after reinstall
        assert answers == [] and kept == []

    way.reconnect(world)
    assert world.store().state == stores.ACTIVE
    assert "disconnected_at" not in world.store().settings
    world.run_everything()
    world.clock.advance(timedelta(hours=2))
    world.deliver_webhooks()  # Shopify's retries (and, uninstalled, the late app/uninstalled)
    world.run_everything()
    assert world.store().state == stores.ACTIVE  # a late app/uninstalled is checked: ignored

    # Everything that waited ran once: the write-back, the new order (forwarded once).
    statuses = [e.status for e in fulfillment.events]
    assert statuses[:len(written)] == written and statuses[-1] == "DELIVERED"
    assert len(statuses) == len(set(statuses))
    assert world.fulfillments(first) == [fulfillment]
    assert sorted(o.request.order_number for o in world.supplier.state.orders.values()) == \
        sorted([first.name, second.name])
    with world.runtime.db.read() as session:
        assert sorted(session.scalars(select(Order.number))) == sorted([first.name,
                                                                        second.name])
        assert session.scalars(select(InboxDelivery).where(
            InboxDelivery.state == "received")).all() == []
        assert session.get_one(Alert, alert.id).resolved_at is not None
    assert world.dead_jobs_and_open_alerts() == ([], [])
    world.move_parcel(30)  # the new order's parcel is fulfilled once too
    assert len(world.fulfillments(second)) == 1
    with world.runtime.db.read() as session:
        assert len(session.scalars(select(Shipment)).all()) == 2
    assert DEAD_JOB_ALERT not in world.dead_jobs_and_open_alerts()[1]
