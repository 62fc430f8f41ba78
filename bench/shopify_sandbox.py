"""The Shopify sandbox as a process of its own, set up for benchmarks.

    .venv/bin/python bench/shopify_sandbox.py PORT ORDERS

The same app as `droptrack sandbox shopify` (sandboxes/shopify, GraphQL Admin API with its
cost-based throttling, served by cheroot), on the wall clock, with one shop on the Plus plan
(1,000 points/s: the benchmark measures latency, not a store's budget) that has DropTrack
installed and ORDERS paid orders placed, and two read endpoints a benchmark needs (no
authentication: the process listens on loopback for one run):

* `GET /bench/setup`: the shop, the app's client id and secret, the access token, and the
  orders/create payload of every order (what Shopify's webhook would carry);
* `GET /bench/fulfillments`: every fulfillment with its creation time and each fulfillment
  event's status and creation time: when DropTrack's write-back arrived at the store.

Background webhooks are off: the orders reach DropTrack through the benchmark, not the sandbox.

Nothing here changes how the sandbox answers: sandboxes/shopify is used unchanged (its fidelity
is the recordings' tests' subject). The Plus restore rate is Shopify's published figure
(../shared/PLATFORM_FACTS.md: 1,000 points/s on Plus; every recorded answer in
../shared/contracts/shopify/live_graphql_recordings_draft_proxy carries its throttleStatus).
The two `/bench/...` endpoints are this benchmark's read-back, not a Shopify API: no real
service is claimed to answer them.
Its CPU is measured as its own process, apart from DropTrack's.
"""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask, jsonify
from supplier_sandbox import serve_until_stopped

from core.clock import SystemClock
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox, build
from sandboxes.shopify.webhooks import order_payload

SHOP_NAME = "bench"  # bench/intake_at_scale.py's store, bench.myshopify.com
PLAN = "plus"


def create_app(port: int, orders: int, skus: list[str]) -> Flask:
    app = build(SystemClock(), public_url=f"http://127.0.0.1:{port}",
                background_webhooks=False)
    sandbox: ShopifySandbox = app.extensions["sandbox"]
    state = sandbox.state
    shopify_app = state.create_app(redirect_urls=["https://droptrack.example/shopify/callback"])
    shop = state.create_shop(SHOP_NAME, plan=PLAN)
    token = state.install(shop.domain, shopify_app)
    placed = [state.place_order(shop.domain, items=[
        {"title": f"Bench item {sku}", "quantity": 1, "price": "12.50", "sku": sku}])
        for sku in (skus[n % len(skus)] for n in range(orders))]

    @app.get("/bench/setup")
    def bench_setup() -> Any:
        return jsonify({
            "domain": shop.domain, "client_id": shopify_app.client_id,
            "client_secret": shopify_app.client_secret, "token": token.token,
            "scopes": sorted(token.scopes), "refresh_token": token.refresh_token or "",
            "expires_at": token.expires_at.isoformat() if token.expires_at else "",
            "orders": [order_payload(state, state.orders[o.id]) for o in placed]})

    @app.get("/bench/fulfillments")
    def bench_fulfillments() -> Any:
        with state.lock:
            fulfillments = list(state.fulfillments.values())
            return jsonify([{
                "id": f.id, "order_id": f.order_id, "created_at": f.created_at.isoformat(),
                "tracking": [t.number for t in f.tracking],
                "events": [{"status": e.status, "created_at": e.created_at.isoformat()}
                           for e in f.events]} for f in fulfillments])

    return app


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit() or not argv[1].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    port, orders = int(argv[0]), int(argv[1])
    skus = argv[2].split(",") if len(argv) > 2 else ["CASE-1"]
    server = BackgroundServer(create_app(port, orders, skus), port=port).start()
    serve_until_stopped(server)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
