"""The reference supplier sandbox as a process of its own, set up for benchmarks.

    .venv/bin/python bench/supplier_sandbox.py PORT

The same app as `droptrack sandbox supplier` (sandboxes/supplier, served by cheroot
with keep-alive), with three differences a benchmark needs:

* no rate limit (the sandbox's default of 10 requests/s would be the only thing measured);
* ample stock of every catalogue SKU (nothing is rejected as out of stock);
* `GET /bench/orders` (same Bearer key as the API): every order the sandbox holds, with its
  order number and creation time, for the exactly-once check and end-to-end latencies.

Its CPU is measured as its own process, apart from DropTrack's.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from flask import Flask, jsonify

from core.clock import SystemClock
from sandboxes.server import BackgroundServer
from sandboxes.supplier import DEFAULT_CATALOG, SupplierState, build

STOCK = 10_000_000


def create_app(port: int) -> Flask:
    app = build(SystemClock(), public_url=f"http://127.0.0.1:{port}",
                catalog=dict.fromkeys(DEFAULT_CATALOG, STOCK), rate_limit_per_second=None,
                background_push=False)
    state: SupplierState = app.extensions["sandbox"]

    @app.get("/bench/orders")
    def bench_orders() -> Any:
        orders = list(state.orders.values())  # a snapshot; creates go on meanwhile
        return jsonify([{"id": o.id, "store": o.request.store,
                         "order_number": o.request.order_number,
                         "created_at": o.created_at.isoformat()} for o in orders])

    return app


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    port = int(argv[0])
    # BackgroundServer, not serve_forever: its signature is the same in the baseline checkouts
    # the benchmarks run this file against (--baseline-source).
    server = BackgroundServer(create_app(port), port=port).start()
    serve_until_stopped(server)
    return 0


def serve_until_stopped(server: BackgroundServer) -> None:
    """Serve until SIGTERM / Ctrl-C, then stop the server (the bench sandboxes' main loop)."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
