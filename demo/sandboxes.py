"""The sandboxes on loopback, all on the demo's one clock.

* Shopify: admin API, OAuth and the customer's order status page, plain HTTP.
* WooCommerce: its REST API over HTTPS (a throwaway CA written to the workspace), because over
  plain HTTP WooCommerce signs requests with OAuth 1.0a whose timestamps are wall-clock seconds
  that a fast simulated clock would reject as 15 minutes off. The same site is also served over
  plain HTTP for the customer's browser (no certificate warning on My Account > View order).
* The reference supplier (REST, with push).
* CJdropshipping (Open API 2.0; ships paid orders a simulated day later).
* AliExpress (the DS APIs, OAuth, signatures), shipping paid orders a simulated day later.
* 17TRACK (the tracking service that follows the spreadsheet supplier's parcels), pushing
  signed updates to DropTrack's /webhooks/tracking/17track as each parcel's life moves on.

Ports: the ones after DropTrack's (8081..8087 for 8080; its https listener on 8088), so a
resumed demo finds the same store URLs; a busy port falls back to any free one.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from core.clock import Clock
from sandboxes import aliexpress as aliexpress_sandbox
from sandboxes import cj as cj_sandbox
from sandboxes import seventeen_track as seventeen_track_sandbox
from sandboxes import shopify as shopify_sandbox
from sandboxes import supplier as supplier_sandbox
from sandboxes import woocommerce as woocommerce_sandbox
from sandboxes.aliexpress import AliExpressState
from sandboxes.cj import DEFAULT_API_KEY as CJ_API_KEY
from sandboxes.cj import CJState
from sandboxes.server import BackgroundServer
from sandboxes.seventeen_track import SeventeenTrackState
from sandboxes.shopify import ShopifySandbox
from sandboxes.supplier import SupplierState
from sandboxes.tls import SandboxTLS, make_tls
from sandboxes.woocommerce import WebhookDispatcher, WooCommerceStore

LOOPBACK = "127.0.0.1"
WEBHOOK_INTERVAL_SECONDS = 0.5
TRACKING_PUSH_PATH = "/webhooks/tracking/17track"
TRACKING_CREDITS = 5000  # a paid 17TRACK plan: the demo registers many parcels


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers bind (SO_REUSEADDR): a port whose last connections linger in
        # TIME_WAIT is free; one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def preferred_port(port: int) -> int:
    """`port` when it is free, else 0 (the server then picks a free one)."""
    return port if 0 < port <= 65535 and port_is_free(port) else 0


@dataclass
class Sandboxes:
    shopify: ShopifySandbox
    shopify_server: BackgroundServer
    woocommerce: WooCommerceStore
    woocommerce_webhooks: WebhookDispatcher
    woocommerce_api_server: BackgroundServer  # https: what DropTrack talks to
    woocommerce_shop_server: BackgroundServer  # http: what the customer's browser opens
    supplier: SupplierState
    supplier_server: BackgroundServer
    tracker: SeventeenTrackState
    tracker_server: BackgroundServer
    ca_file: Path
    tls: SandboxTLS  # its CA is in ca_file; DropTrack's own https listener uses it too
    aliexpress: AliExpressState | None = None
    aliexpress_server: BackgroundServer | None = None
    cj: CJState | None = None  # CJdropshipping (its API key: CJ_API_KEY)
    cj_server: BackgroundServer | None = None

    @property
    def aliexpress_url(self) -> str:
        assert self.aliexpress_server is not None
        return self.aliexpress_server.url

    @property
    def cj_url(self) -> str:
        assert self.cj_server is not None
        return f"{self.cj_server.url}/api2.0/v1"

    @property
    def shopify_url(self) -> str:
        return self.shopify_server.url

    @property
    def woocommerce_url(self) -> str:
        return self.woocommerce_api_server.url

    @property
    def woocommerce_shop_url(self) -> str:
        return self.woocommerce_shop_server.url

    @property
    def supplier_url(self) -> str:
        return self.supplier_server.url

    @property
    def tracker_url(self) -> str:
        """17TRACK's API base, as DropTrack's tracking.seventeen_track_url."""
        return f"{self.tracker_server.url}/track/v2.2"

    def stop(self) -> None:
        """Stop the background senders first, then the servers (each closes its socket)."""
        self.shopify.webhooks.stop_background()
        self.woocommerce_webhooks.stop()
        self.supplier.close()
        self.tracker.close()
        for server in (self.shopify_server, self.woocommerce_api_server,
                       self.woocommerce_shop_server, self.supplier_server, self.cj_server,
                       self.aliexpress_server, self.tracker_server):
            if server is not None:
                server.stop()


def start_sandboxes(clock: Clock, *, first_port: int, ca_file: Path,
                    supplier_api_key: str, droptrack_url: str, speed: float) -> Sandboxes:
    """Every sandbox, started; `speed` is how much faster than real time the clock will run."""
    started: list[BackgroundServer] = []
    try:
        shopify_app = shopify_sandbox.build(clock, public_url=f"http://{LOOPBACK}",
                                            background_webhooks=False)
        shopify_server = BackgroundServer(shopify_app, port=preferred_port(first_port))
        started.append(shopify_server.start())
        box: ShopifySandbox = shopify_app.extensions["sandbox"]
        box.public_url = box.state.public_url = shopify_server.url
        box.webhooks.start_background(WEBHOOK_INTERVAL_SECONDS)

        tls = make_tls("localhost", LOOPBACK)
        ca_file.write_bytes(tls.ca_pem)
        woo_app = woocommerce_sandbox.build(clock, public_url=f"https://{LOOPBACK}",
                                            tracking_mode="shipment_tracking",
                                            webhook_delivery="background")
        woo_api = BackgroundServer(woo_app, port=preferred_port(first_port + 1),
                                   ssl_context=tls.server_context)
        started.append(woo_api.start())
        woo_shop = BackgroundServer(woo_app, port=preferred_port(first_port + 2))
        started.append(woo_shop.start())
        store: WooCommerceStore = woo_app.extensions["sandbox"]
        store.set_site_url(woo_api.url)

        supplier_app = supplier_sandbox.build(
            clock, public_url=f"http://{LOOPBACK}", api_keys=(supplier_api_key,),
            seed="droptrack-demo", rate_limit_per_second=None,
            push_interval_seconds=WEBHOOK_INTERVAL_SECONDS)
        supplier_server = BackgroundServer(supplier_app, port=preferred_port(first_port + 3))
        started.append(supplier_server.start())
        state: SupplierState = supplier_app.extensions["sandbox"]
        state.public_url = supplier_server.url

        # A fresh seed each run: a resumed demo must never hand out a tracking number twice.
        cj_app = cj_sandbox.build(clock, api_keys=(), seed=secrets.randbits(32))
        cj: CJState = cj_app.extensions["sandbox"]
        cj.add_account(CJ_API_KEY, qps=20.0)
        cj.auto_ship_after = timedelta(hours=20)  # the warehouse ships a day after payment
        cj_server = BackgroundServer(cj_app, port=preferred_port(first_port + 4))
        started.append(cj_server.start())

        # AliExpress ships a paid order a simulated day later, one parcel per item.
        aliexpress_app = aliexpress_sandbox.build(
            clock, qps=None, auto_ship_after=timedelta(days=1),
            timestamp_tolerance=aliexpress_sandbox.TIMESTAMP_TOLERANCE * speed)
        aliexpress_server = BackgroundServer(aliexpress_app,
                                             port=preferred_port(first_port + 5))
        started.append(aliexpress_server.start())

        tracker_app = seventeen_track_sandbox.build(
            clock, quota_total=TRACKING_CREDITS, webhook_url=droptrack_url + TRACKING_PUSH_PATH)
        tracker_server = BackgroundServer(tracker_app, port=preferred_port(first_port + 6))
        started.append(tracker_server.start())
    except BaseException:
        for server in started:
            server.stop()
        raise
    return Sandboxes(shopify=box, shopify_server=shopify_server, woocommerce=store,
                     woocommerce_webhooks=woo_app.extensions["sandbox_webhooks"],
                     woocommerce_api_server=woo_api, woocommerce_shop_server=woo_shop,
                     supplier=state, supplier_server=supplier_server, ca_file=ca_file,
                     cj=cj, cj_server=cj_server, tls=tls,
                     aliexpress=aliexpress_app.extensions["sandbox"],
                     aliexpress_server=aliexpress_server,
                     tracker=tracker_app.extensions["sandbox"], tracker_server=tracker_server)
