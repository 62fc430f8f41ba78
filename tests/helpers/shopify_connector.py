"""DropTrack connected to the Shopify sandbox: one clock for both, the connector's limiter on
that clock (waiting advances it), and a store row whose credentials are the sandbox's token.

Import the fixture functions into a test module (`from tests.helpers.shopify_connector import
loopback_settings, shopify_limiter_fixture, shopify_link_fixture`; they register as `settings`,
`shopify_limiter` and `shopify_link`), or list this module in tests/conftest.py's
`pytest_plugins`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.shopify import connector
from connectors.shopify.mapper import parse_order
from connectors.shopify.ratelimit import InProcessLimiter
from connectors.shopify.tokens import OAUTH, Credentials
from core.clock import FrozenClock
from core.domain import CarrierEvent, StoreOrder
from integration.accounts import stores
from integration.base.config import Settings
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime
from integration.storage.models import SkuMapping, Store, Supplier, SupplierOrder
from sandboxes.server import BackgroundServer
from sandboxes.shopify.state import Order as SandboxOrder
from sandboxes.shopify.state import UsageCounter
from sandboxes.shopify.webhooks import order_payload
from tests.conftest import make_settings
from tests.helpers.sandbox_shopify import SeededStore


@dataclass
class ShopifyLink:
    """DropTrack's store row for the sandbox's `droptrack-test.myshopify.com`."""

    runtime: Runtime
    store_id: int
    seeded: SeededStore
    limiter: InProcessLimiter
    clock: FrozenClock

    @property
    def sandbox_usage(self) -> UsageCounter:
        return self.seeded.sandbox.usage(self.seeded.domain, self.seeded.app.client_id)

    def store(self) -> Store:
        with self.runtime.db.read() as session:
            row = session.get_one(Store, self.store_id)
            session.expunge(row)
            return row

    def credentials(self) -> Credentials:
        return Credentials.from_dict(self.runtime.secrets.decrypt_json(
            self.store().credentials_encrypted or ""))

    def import_sandbox_order(self, order: SandboxOrder) -> int:
        """What the orders/* webhook of `order` does to DropTrack (mapper + engine)."""
        state = self.seeded.sandbox.state
        parsed, problems = parse_order(order_payload(state, state.orders[order.id]))
        assert parsed is not None, problems
        return self.import_order(parsed)

    def import_order(self, parsed: StoreOrder) -> int:
        with self.runtime.db.write() as session:
            return import_order(session, self.store_id, parsed, self.clock.now()).order_id

    def ship(self, *events: CarrierEvent, number: str = "LX123456785CN",
             parcel: str = "P1", supplier_order_index: int = 0,
             url: str | None = None) -> int:
        with self.runtime.db.write() as session:
            supplier_order = list(session.scalars(
                select(SupplierOrder).order_by(SupplierOrder.id)))[supplier_order_index]
            change = apply_parcel_update(session, ParcelUpdate(
                supplier_order.id, parcel, number, tracking_url=url, events=events),
                self.clock.now())
            return change.shipment_id


@pytest.fixture(name="settings")
def loopback_settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture(name="shopify_limiter")
def shopify_limiter_fixture(shopify_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
                    ) -> Iterator[InProcessLimiter]:
    """The connector's limiter on the sandbox's clock: a wait advances the clock, so the
    sandbox's bucket refills exactly as much as DropTrack waited."""
    def sleep(seconds: float) -> None:
        shopify_clock.advance(timedelta(seconds=seconds))

    limiter = InProcessLimiter(clock=shopify_clock, sleep=sleep)
    monkeypatch.setattr(connector, "ENVIRONMENT",
                        connector.Environment(clock=shopify_clock, limiter=limiter))
    yield limiter


@pytest.fixture(name="shopify_link")
def shopify_link_fixture(runtime: Runtime, shopify_store: SeededStore,
                         shopify_server: BackgroundServer, shopify_clock: FrozenClock,
                         shopify_limiter: InProcessLimiter) -> ShopifyLink:
    """The seeded sandbox store connected to DropTrack, with a supplier mapped for CASE-1."""
    runtime.clock = shopify_clock
    token = shopify_store.token
    store_id = stores.add_shopify_store(runtime, shopify_store.domain, token.token,
                                        shopify_store.app.client_secret)
    credentials = Credentials(
        access_token=token.token, kind=OAUTH, scope=",".join(sorted(token.scopes)),
        expires_at=token.expires_at.isoformat() if token.expires_at else "",
        refresh_token=token.refresh_token or "", client_id=shopify_store.app.client_id,
        client_secret=shopify_store.app.client_secret)
    now = shopify_clock.now()
    with runtime.db.write() as session:
        row = session.get_one(Store, store_id)
        row.credentials_encrypted = runtime.secrets.encrypt_json(credentials.as_dict())
        row.settings = {"admin_base_url": shopify_server.url}
        supplier = Supplier(name="Reference", kind="rest", created_at=now)
        session.add(supplier)
        session.flush()
        for sku in ("CASE-1", "CABLE-2"):
            session.add(SkuMapping(store_id=store_id, sku=sku, supplier_id=supplier.id,
                                   created_at=now))
    return ShopifyLink(runtime, store_id, shopify_store, shopify_limiter, shopify_clock)


def let_live_server_settle() -> None:
    """Give waitress (the `live_url` fixture) a moment to finish the connections the sandbox
    just closed: `live_url` closes the server without draining its task threads, and a task
    still finishing then fails on the closed trigger (Errno 9), which pytest reports as an
    unhandled thread exception. Fixing `live_url` itself is the real cure."""
    time.sleep(0.3)
