"""Sync throughput vs. the rate budget (issue 10, scenario 1): one sync cycle in which 20% of
100,000 in-flight shipments over 5 Shopify stores and 5 WooCommerce stores change status.

    .venv/bin/python bench/sync_throughput.py [--shipments 100000] [--changed 0.2] \
        [--threads 4] [--baseline-sample 500] [--label TEXT] [--append-doc]

PostgreSQL: TEST_POSTGRES_URL / BENCH_POSTGRES_URL, else a throwaway PostgreSQL 15 (see
bench/scale_common.py). The sandboxes run in this process, each on its own cheroot server:
one Shopify sandbox serving the 5 shops (standard plan: restore 100 points/s, bucket 2,000,
one bucket per shop and app), and 5 WooCommerce sandboxes (shipment-tracking plugin, HTTPS
with a throwaway CA, batch limit 100).

Method: every shipment is in transit and already shown in its store (Shopify: an order, its
fulfillment with the tracking number and an IN_TRANSIT event; WooCommerce: an order in
`processing` with its tracking item and "on its way" note), with the same rows in DropTrack
(orders, bindings, supplier orders, shipments written, tracking events). Then one sync cycle:
`--changed` of the shipments, shuffled over the stores, get a new carrier event through the
engine (`apply_parcel_update`, which queues their `store.writeback` jobs), half of them out for
delivery and half delivered (WooCommerce stores complete orders on delivery, so those are
order-status moves), and the status flush (`woocommerce.flush_statuses`) is queued for every
WooCommerce store. A child process (the embedded `Dispatcher`, `--threads` threads, the real
connectors) then runs every job; wall time is from its start until the outbox holds no
pending or running job. `--waves N` repeats the cycle N - 1 times on parcels no earlier wave
changed, each with a new status flush per WooCommerce store: the later flushes see the
earlier ones' writes (the steady state), and their WooCommerce status calls are reported
apart from the first flush's. Counted at the sandboxes: GraphQL calls, points and THROTTLED answers
per shop, REST calls per WooCommerce store by kind. Budget share per Shopify store = points
spent / (bucket at the start + 100 points/s x seconds until that store's last job finished).
Theoretical minimum: each status change needs at least one `fulfillmentEventCreate` (10
points) on Shopify, so a store with C changes needs max(0, 10 C - 2,000) / 100 seconds;
WooCommerce has no documented rate limit. Worker peak RSS: the child's own VmHWM.

Baseline (`--baseline-sample N`): the naive loop, every shipment written with one call, in
one thread with a new connection per call (Shopify: `fulfillmentEventCreate` with the current
status; WooCommerce: `PUT orders/<id>` with the status), run on N shipments per platform and
extrapolated to all shipments: the time is the measured seconds per call times the number of
shipments, or the Shopify budget bound if that is longer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scale_common import (
    ROOT,
    CpuMeter,
    PgServer,
    analyze,
    append_doc,
    database_url,
    machine_summary,
    postgres,
    settings_overrides,
)
from sqlalchemy import func, insert, select

from connectors.shopify.client import ShopifyClient, http_client
from connectors.shopify.graphql import EVENT_CREATE
from connectors.shopify.ratelimit import InProcessLimiter
from connectors.shopify.tokens import Credentials
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.settings import merged
from core.clock import SystemClock
from core.domain import CarrierEvent
from core.status import Status
from core.wording import customer_note
from integration.base.config import load_settings
from integration.engine.tracking import PARCEL, WRITEBACK_JOB, ParcelUpdate, apply_parcel_update
from integration.jobs import outbox
from integration.jobs.dispatcher import Dispatcher
from integration.kernel.runtime import Runtime, build_runtime
from integration.security.crypto import generate_key
from integration.storage import migrate
from integration.storage.models import (
    Binding,
    Order,
    OutboxJob,
    Shipment,
    Store,
    Supplier,
    SupplierOrder,
    TrackingEvent,
)
from integration.sync.woocommerce import statuses
from integration.sync.woocommerce import store as woocommerce_sync
from integration.sync.writeback import FULFILLMENT
from sandboxes.server import BackgroundServer
from sandboxes.shopify import build as build_shopify
from sandboxes.shopify.operations import AdminOperations
from sandboxes.shopify.sandbox import ShopifySandbox
from sandboxes.shopify.state import gid
from sandboxes.tls import make_tls
from sandboxes.woocommerce import WooCommerceStore
from sandboxes.woocommerce import build as build_woocommerce

RESTORE_RATE = 100.0  # standard plan, points per second (the sandbox's, read back below)
MUTATION_POINTS = 10
CARRIER = "China Post"
CHUNK = 5_000
TARGET_BUDGET_SHARE = 0.90
TARGET_WOO_CALLS_PER_1000 = 15
TARGET_RSS_MB = 300.0


# --- sandboxes ---------------------------------------------------------------------------------


class CallCounter:
    """WSGI middleware: requests per (method, route kind), so calls can be told apart."""

    def __init__(self, app: Any, classify: Callable[[str, str, str], str]) -> None:
        self.app = app
        self.classify = classify
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        kind = self.classify(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                             environ.get("QUERY_STRING", ""))
        with self._lock:
            self.counts[kind] += 1
        return self.app(environ, start_response)

    def reset(self) -> Counter[str]:
        with self._lock:
            before, self.counts = self.counts, Counter()
        return before


def woo_route(method: str, path: str, query: str = "") -> str:
    if path.endswith("/orders/batch"):
        return "status batch (POST orders/batch)"
    if path.endswith("/shipment-trackings"):
        return f"{method} tracking items"
    if path.endswith("/notes"):
        return f"{method} notes"
    if path.rstrip("/").endswith("/wc/v3/orders"):
        if "modified_after" in query:
            return "status list (GET orders?modified_after=)"
        return "status read (GET orders?include=)"
    return f"{method} other"


@dataclass
class WooSite:
    server: BackgroundServer
    store: WooCommerceStore
    counter: CallCounter
    consumer_key: str
    consumer_secret: str
    product_id: int


@dataclass
class Sandboxes:
    shopify: ShopifySandbox
    shopify_server: BackgroundServer
    client_id: str
    shops: list[tuple[str, str]]  # (domain, access token)
    woo: list[WooSite]
    ca_path: str


@contextlib.contextmanager
def sandboxes(shopify_stores: int, woo_stores: int, workdir: Path) -> Iterator[Sandboxes]:
    clock = SystemClock()
    app = build_shopify(clock, public_url="http://127.0.0.1", background_webhooks=False)
    shopify: ShopifySandbox = app.extensions["sandbox"]
    servers = [BackgroundServer(app)]
    shopify.public_url = shopify.state.public_url = servers[0].url
    droptrack = shopify.state.create_app(name="DropTrack bench")
    shops = []
    for n in range(shopify_stores):
        shop = shopify.state.create_shop(f"bench-{n}", plan="standard")
        token = shopify.state.install(shop.domain, droptrack, expiring=False)
        shops.append((shop.domain, token.token))
    tls = make_tls("localhost", "127.0.0.1")
    ca_path = workdir / "woo-ca.pem"
    ca_path.write_bytes(tls.ca_pem)
    sites = []
    for _ in range(woo_stores):
        woo_app = build_woocommerce(clock, public_url="https://127.0.0.1",
                                    tracking_mode="shipment_tracking", webhook_delivery="queued")
        counter = CallCounter(woo_app.wsgi_app, woo_route)
        woo_app.wsgi_app = counter  # type: ignore[method-assign]
        server = BackgroundServer(woo_app, ssl_context=tls.server_context)
        store: WooCommerceStore = woo_app.extensions["sandbox"]
        store.set_site_url(server.url)
        key = store.create_key()
        product = store.add_product("Desk lamp", sku="LAMP-1", price=24.9)
        servers.append(server)
        sites.append(WooSite(server, store, counter, key.consumer_key, key.consumer_secret,
                             product.id))
    for server in servers:
        server.start()
    try:
        yield Sandboxes(shopify, servers[0], droptrack.client_id, shops, sites, str(ca_path))
    finally:
        for server in servers:
            server.stop()


# --- seeding -----------------------------------------------------------------------------------


@dataclass
class Parcel:
    shipment_id: int
    store_id: int
    platform: str
    supplier_order_id: int
    parcel_ref: str
    tracking_number: str
    shown: str  # Shopify fulfillment gid / WooCommerce order id


@dataclass
class Seeded:
    parcels: list[Parcel] = field(default_factory=list)
    store_ids: dict[int, str] = field(default_factory=dict)  # id -> platform
    domains: dict[int, str] = field(default_factory=dict)  # id -> shop domain / site url
    supplier_id: int = 0
    seconds: float = 0.0


def store_rows(runtime: Runtime, boxes: Sandboxes, now: datetime,
               always_read: int = 0) -> Seeded:
    seeded = Seeded()
    with runtime.db.write() as session:
        for domain, token in boxes.shops:
            store = Store(platform="shopify", domain=domain, name=domain,
                          credentials_encrypted=runtime.secrets.encrypt_json(
                              {"access_token": token}),
                          settings={"admin_base_url": boxes.shopify_server.url,
                                    "notify_customer": False},
                          created_at=now, updated_at=now)
            session.add(store)
            session.flush()
            seeded.store_ids[store.id], seeded.domains[store.id] = "shopify", domain
        for n, site in enumerate(boxes.woo):
            store = Store(platform="woocommerce", domain=site.server.url, name=site.server.url,
                          credentials_encrypted=runtime.secrets.encrypt_json({
                              "consumer_key": site.consumer_key,
                              "consumer_secret": site.consumer_secret}),
                          settings={"woocommerce": {
                              "status_updates": "batched", "complete_on": "delivered",
                              # the first `always_read` stores take the old path: the baseline
                              "status_reads": "always" if n < always_read else "remembered",
                              "ca_bundle": boxes.ca_path,
                              "capabilities": {"tracking": True, "ast": False,
                                               "providers": [CARRIER]}}},
                          created_at=now, updated_at=now)
            session.add(store)
            session.flush()
            seeded.store_ids[store.id], seeded.domains[store.id] = "woocommerce", site.server.url
        supplier = Supplier(name="Shenzhen Lights", kind="rest", settings={}, created_at=now)
        session.add(supplier)
        session.flush()
        seeded.supplier_id = supplier.id
    return seeded


def seed(runtime: Runtime, boxes: Sandboxes, shipments: int, now: datetime,
         always_read: int = 0) -> Seeded:
    """`shipments` in-transit parcels, spread evenly over the stores, shown in the sandboxes
    and written in DropTrack's tables (bulk inserts with explicit ids). DropTrack remembers
    each WooCommerce order's status as seeded, and knows every store's statuses up to the end
    of the seeding (what reconciliation and the last flush would have left: migration 0012)."""
    started = time.perf_counter()
    seeded = store_rows(runtime, boxes, now, always_read)
    store_ids = list(seeded.store_ids)
    shops = dict(zip([s for s in store_ids if seeded.store_ids[s] == "shopify"],
                     boxes.shops, strict=True))
    sites = dict(zip([s for s in store_ids if seeded.store_ids[s] == "woocommerce"],
                     boxes.woo, strict=True))
    operations = {store_id: AdminOperations(boxes.shopify.state, domain, boxes.client_id)
                  for store_id, (domain, _token) in shops.items()}
    placed = now - timedelta(days=6)
    shipped = now - timedelta(days=4)
    moving = now - timedelta(days=1)
    note = customer_note(Status.IN_TRANSIT, None, CARRIER, "") or ""
    for start in range(0, shipments, CHUNK):
        rows: dict[Any, list[dict[str, Any]]] = {model: [] for model in (
            Order, Binding, SupplierOrder, Shipment, TrackingEvent)}
        for n in range(start, min(start + CHUNK, shipments)):
            sid = n + 1
            store_id = store_ids[n % len(store_ids)]
            number = f"LX{sid:09d}CN"
            url = f"https://track.example/{number}"
            if store_id in shops:
                domain = shops[store_id][0]
                placed_order = boxes.shopify.state.place_order(domain, items=[
                    {"title": "Desk lamp", "quantity": 1, "price": "24.90", "sku": "LAMP-1"}])
                result = operations[store_id].fulfillment_create({
                    "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": gid(
                        "FulfillmentOrder", placed_order.fulfillment_order_ids[0])}],
                    "trackingInfo": {"number": number, "company": CARRIER, "url": url}})
                fulfillment = result.value
                boxes.shopify.state.add_fulfillment_event(fulfillment.id, "IN_TRANSIT",
                                                          happened_at=moving)
                external, shown = str(placed_order.id), gid("Fulfillment", fulfillment.id)
                rows[Binding].append(_binding("store", store_id, FULFILLMENT, shown, sid, now))
                store_status, store_status_at = None, None
            else:
                site = sites[store_id]
                woo_order = site.store.place_order([(site.product_id, 1)])
                site.store.add_tracking_item(woo_order.id, tracking_number=number,
                                             custom_tracking_provider=CARRIER,
                                             custom_tracking_link=url, date_shipped=shipped)
                site.store.add_order_note(woo_order.id, note, customer_note=True)
                external = shown = str(woo_order.id)
                store_status, store_status_at = woo_order.status, woo_order.date_modified
            parcel_ref = f"P{sid}"
            rows[Order].append({
                "id": sid, "store_id": store_id, "number": f"#{external}",
                "email": f"customer{sid}@example.com", "customer_name": f"Customer {sid}",
                "status": "in_transit", "reason": None, "status_epoch": 0,
                "payment_status": "paid", "currency": "USD", "total": 24.90,
                "ship_country": "GB", "placed_at": placed, "created_at": placed,
                "updated_at": shipped, "store_status": store_status,
                "store_status_at": store_status_at})
            rows[Binding].append(_binding("store", store_id, "order", external, sid, now))
            rows[Binding].append(_binding("supplier", seeded.supplier_id, PARCEL, parcel_ref,
                                          sid, now))
            rows[SupplierOrder].append({
                "id": sid, "order_id": sid, "supplier_id": seeded.supplier_id,
                "idempotency_key": f"forward:{store_id}:{sid}:{seeded.supplier_id}",
                "lines": [], "status": "shipped", "reason": None, "forwarded_at": placed,
                "created_at": placed})
            polled = now - timedelta(minutes=n % 720)  # polled in the last 12 hours
            rows[Shipment].append({
                "id": sid, "order_id": sid, "supplier_order_id": sid, "carrier": CARRIER,
                "tracking_number": number, "tracking_url": url, "status": "in_transit",
                "reason": None, "status_epoch": 0, "status_happened_at": moving,
                "last_event_at": moving, "estimated_delivery_at": None, "delivered_at": None,
                "next_check_at": polled + timedelta(hours=12), "written_status": "in_transit",
                "written_tracking_number": number, "created_at": shipped, "updated_at": polled})
            rows[TrackingEvent].append({
                "shipment_id": sid, "event_key": f"ev:{sid}:1", "status": "in_transit",
                "reason": None, "epoch": 0, "raw_status": "transit", "message": "",
                "location": "", "happened_at": moving, "created_at": moving})
            seeded.parcels.append(Parcel(sid, store_id, seeded.store_ids[store_id], sid,
                                         parcel_ref, number, shown))
        with runtime.db.write() as session:
            for model, batch in rows.items():
                session.execute(insert(model), batch)
        print(f"  seeded {min(start + CHUNK, shipments):,} shipments", file=sys.stderr)
    known = runtime.clock.now().isoformat()
    with runtime.db.write() as session:
        for store_id in sites:
            row = session.get_one(Store, store_id)
            row.settings = merged(row.settings, statuses_known_until=known)
    analyze(runtime)
    seeded.seconds = time.perf_counter() - started
    return seeded


def _binding(owner: str, owner_id: int, kind: str, external: str, internal: int,
             now: datetime) -> dict[str, Any]:
    return {"owner_type": owner, "owner_id": owner_id, "kind": kind, "external_id": external,
            "internal_id": internal, "external_updated_at": None, "synced_at": now}


# --- the sync cycle ----------------------------------------------------------------------------


def change_statuses(runtime: Runtime, seeded: Seeded, share: float,
                    rng: random.Random, wave: int = 1,
                    pool: list[Parcel] | None = None) -> tuple[list[Parcel], float]:
    """A new carrier event for `share` of the parcels (of `pool`: those no earlier wave
    changed), through the engine; the write-back jobs it queues, plus one status flush per
    WooCommerce store (wave 2 on: the next flush, after the last one's writes). Returns
    (changed, seconds)."""
    started = time.perf_counter()
    changed = rng.sample(pool if pool is not None else seeded.parcels,
                         round(len(seeded.parcels) * share))
    now = runtime.clock.now()
    for start in range(0, len(changed), 500):
        with runtime.db.write() as session:
            for k, parcel in enumerate(changed[start:start + 500]):
                status = Status.DELIVERED if (start + k) % 2 else Status.OUT_FOR_DELIVERY
                apply_parcel_update(session, ParcelUpdate(
                    parcel.supplier_order_id, parcel.parcel_ref, parcel.tracking_number,
                    carrier=CARRIER, events=[CarrierEvent(
                        f"ev:{parcel.shipment_id}:2", status,
                        now - timedelta(minutes=30, seconds=k), raw_status=status.value)]), now)
    if wave == 1:
        woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
    else:  # the sweep's key would be the first flush's (same 5-minute bucket)
        kind = statuses.FLUSH_STATUSES_JOB
        with runtime.db.write() as session:
            for store_id, platform in seeded.store_ids.items():
                if platform == "woocommerce":
                    outbox.enqueue(session, kind, f"{kind}:{store_id}:wave{wave}",
                                   {"store_id": store_id}, runtime.clock.now(),
                                   store_id=store_id, serial_key=f"{kind}:{store_id}")
    return changed, time.perf_counter() - started


DISPATCH = {True: "budget", False: "sleeping"}  # [dispatcher] budget_aware -> --dispatch


def worker_child(url: str, secret_key: str, encryption_key: str, threads: int,
                 budget_aware: bool = True) -> int:
    """The embedded dispatcher with the real connectors, until the outbox is drained."""
    settings = load_settings(None, environ={}, overrides=settings_overrides(
        url, secret_key, encryption_key, security={"allow_loopback_http": True},
        dispatcher={"threads": threads, "poll_interval_seconds": 0.2,
                    "budget_aware": budget_aware}))
    runtime = build_runtime(settings, clock=SystemClock())
    dispatcher = Dispatcher(runtime)
    started_at = runtime.clock.now()
    started = time.perf_counter()
    dispatcher.start()
    try:
        while True:
            time.sleep(0.5)
            with runtime.db.read() as session:
                left = session.scalar(select(func.count()).select_from(OutboxJob).where(
                    OutboxJob.state.in_((outbox.PENDING, outbox.RUNNING))))
            if not left:
                break
    finally:
        dispatcher.stop()
    seconds = time.perf_counter() - started
    with runtime.db.read() as session:
        states = {str(state): int(count) for state, count in session.execute(
            select(OutboxJob.state, func.count()).group_by(OutboxJob.state))}
        finished = {int(store_id or 0): (last - started_at).total_seconds()
                    for store_id, last in session.execute(
                        select(OutboxJob.store_id, func.max(OutboxJob.finished_at))
                        .where(OutboxJob.store_id.is_not(None))
                        .group_by(OutboxJob.store_id)) if last is not None}
        timeline = {}  # store -> seconds from the start when 10/50/90/100% of its jobs were done
        for store_id in finished:
            times = sorted((at - started_at).total_seconds() for at in session.scalars(  # type: ignore[operator]
                select(OutboxJob.finished_at).where(OutboxJob.store_id == store_id,
                                                    OutboxJob.finished_at.is_not(None))))
            timeline[store_id] = [round(times[min(int(q * len(times)), len(times) - 1)], 1)
                                  for q in (0.1, 0.5, 0.9, 1.0)] if times else []
        errors = [str(e) for e in session.scalars(
            select(OutboxJob.last_error).where(OutboxJob.state == outbox.DEAD).limit(3))]
    runtime.close()
    print(json.dumps({"seconds": seconds, "states": states, "finished": finished,
                      "errors": errors, "vmhwm_mb": hwm_mb(os.getpid()),
                      "handed_back": sum(dispatcher.budgets.handed_back.values()),
                      "handed_back_by_store": dict(dispatcher.budgets.handed_back),
                      "timeline": timeline,
                      "limiter_wait_seconds": limiter_wait_seconds(),
                      "cpu_seconds": time.process_time()}))
    return 0


def hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def limiter_wait_seconds() -> float:
    """Seconds the worker's threads slept in the Shopify limiter, all stores together."""
    from connectors.shopify import connector as shopify_connector

    limiter = shopify_connector.ENVIRONMENT.limiter
    usages = getattr(limiter, "_usage", {})
    return float(sum(u.waited_seconds for u in usages.values()))


def run_worker(url: str, secret_key: str, encryption_key: str, threads: int,
               budget_aware: bool = True) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker-child", url,
               # "=" form: a random key may begin with "-", which argparse reads as an option
               f"--secret-key={secret_key}", f"--encryption-key={encryption_key}",
               "--threads", str(threads), f"--dispatch={DISPATCH[budget_aware]}"]
    done = subprocess.run(command, capture_output=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker child failed:\n{done.stderr.decode()[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return report


# --- baseline: the naive loop ------------------------------------------------------------------


@dataclass
class Baseline:
    sample: int
    shopify_seconds_per_call: float
    woo_seconds_per_call: float
    shopify_points_per_call: float
    throttled: int


def naive_loop(boxes: Sandboxes, seeded: Seeded, sample: int, rng: random.Random) -> Baseline:
    """Every shipment written with one call, one after the other, a new client each time."""
    by_platform: dict[str, list[Parcel]] = {"shopify": [], "woocommerce": []}
    for parcel in seeded.parcels:
        by_platform[parcel.platform].append(parcel)
    shopify = rng.sample(by_platform["shopify"], min(sample, len(by_platform["shopify"])))
    woo = rng.sample(by_platform["woocommerce"], min(sample, len(by_platform["woocommerce"])))
    tokens = dict(boxes.shops)
    before = {domain: _usage(boxes, domain) for domain, _ in boxes.shops}
    limiter = InProcessLimiter()
    started = time.perf_counter()
    for parcel in shopify:
        domain = seeded.domains[parcel.store_id]
        client = ShopifyClient(domain, Credentials(tokens[domain]), api_version="2026-07",
                               http=http_client(boxes.shopify_server.url), limiter=limiter,
                               clock=SystemClock(), save_credentials=lambda _c: None)
        try:
            client.execute(EVENT_CREATE, {"fulfillmentEvent": {
                "fulfillmentId": parcel.shown, "status": "IN_TRANSIT"}})
        finally:
            client.close()
    shopify_seconds = time.perf_counter() - started
    points = sum(_usage(boxes, d)[1] - before[d][1] for d, _ in boxes.shops)
    throttled = sum(_usage(boxes, d)[2] - before[d][2] for d, _ in boxes.shops)
    sites = {seeded.domains[s]: s for s in seeded.domains}
    keys = {site.server.url: site for site in boxes.woo}
    started = time.perf_counter()
    for parcel in woo:
        site = keys[seeded.domains[parcel.store_id]]
        assert sites[site.server.url] == parcel.store_id
        woo_client = WooCommerceClient(site.server.url, site.consumer_key, site.consumer_secret,
                                       verify=boxes.ca_path)
        try:
            woo_client.put(f"orders/{parcel.shown}", {"status": "processing"},
                           what="naive status write")
        finally:
            woo_client.close()
    woo_seconds = time.perf_counter() - started
    return Baseline(sample, shopify_seconds / max(len(shopify), 1),
                    woo_seconds / max(len(woo), 1), points / max(len(shopify), 1), throttled)


def bucket_refill_seconds(boxes: Sandboxes) -> float:
    """How long until every shop's bucket is full again."""
    buckets = [boxes.shopify.bucket(domain, boxes.client_id) for domain, _ in boxes.shops]
    return max((b.maximum - b.status().currently_available) / b.restore_rate
               for b in buckets) + 0.5


def _usage(boxes: Sandboxes, domain: str) -> tuple[int, int, int]:
    usage = boxes.shopify.state.usage.get((domain, boxes.client_id))
    return (usage.calls, usage.points, usage.throttled) if usage else (0, 0, 0)


# --- report ------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    shipments: int
    shopify_shipments: int
    changes: int
    shopify_changes: dict[int, int]
    woo_changes: int
    woo_moves: int
    seconds: float
    apply_seconds: float
    theoretical_seconds: float
    points: int
    shopify_calls: int
    throttled: int
    budget_share: dict[int, float]
    woo_calls: Counter[str]
    rss_mb: float
    states: dict[str, int]
    other_cpu: float
    threads: int
    errors: list[str]
    worker_cpu: float
    sandbox_cpu: float
    # "always" (the old path) / "remembered" -> (status calls, order-status moves)
    woo_groups: dict[str, tuple[int, int]] = field(default_factory=dict)
    # per WooCommerce store: (status_reads, order-status moves, status calls by kind)
    woo_stores: list[tuple[str, int, dict[str, int]]] = field(default_factory=list)
    woo_later: list[WooWave] = field(default_factory=list)  # the next flushes (--waves)
    handed_back: int = 0
    limiter_wait_seconds: float = 0.0
    timeline: dict[str, list[float]] = field(default_factory=dict)
    handed_back_by_store: dict[str, int] = field(default_factory=dict)

    @property
    def points_per_change(self) -> float:
        return self.points / max(sum(self.shopify_changes.values()), 1)

    @property
    def woo_status_calls(self) -> int:
        return sum(v for k, v in self.woo_calls.items() if k.startswith("status "))

    @property
    def woo_total_calls(self) -> int:
        return sum(self.woo_calls.values())


@dataclass
class WooWave:
    """One flush per WooCommerce store and the write-backs queued with it: REST calls by kind,
    the order-status moves, per group (`status_reads`) and store by store."""

    calls: Counter[str]
    moves: int
    groups: dict[str, tuple[int, int]]  # status_reads -> (status calls, moves)
    stores: list[tuple[str, int, dict[str, int]]]  # (status_reads, moves, status calls)


def woo_wave(seeded: Seeded, boxes: Sandboxes, changed: list[Parcel],
             always_read: int) -> WooWave:
    """Count (and reset) the WooCommerce calls since the last count; `changed` is the wave's
    parcels, every second one delivered (an order-status move)."""
    calls: Counter[str] = Counter()
    woo_ids = [s for s in seeded.store_ids if seeded.store_ids[s] == "woocommerce"]
    moves_by_store = Counter(p.store_id for k, p in enumerate(changed)
                             if p.platform == "woocommerce" and k % 2)
    groups: dict[str, list[int]] = {"always": [0, 0], "remembered": [0, 0]}
    stores: list[tuple[str, int, dict[str, int]]] = []
    for n, (store_id, site) in enumerate(zip(woo_ids, boxes.woo, strict=True)):
        calls_by_kind = site.counter.reset()
        calls.update(calls_by_kind)
        reads = "always" if n < always_read else "remembered"
        status_calls = {k: v for k, v in calls_by_kind.items() if k.startswith("status ")}
        stores.append((reads, moves_by_store[store_id], status_calls))
        groups[reads][0] += sum(status_calls.values())
        groups[reads][1] += moves_by_store[store_id]
    return WooWave(calls, sum(moves_by_store.values()),
                   {k: (v[0], v[1]) for k, v in groups.items() if v[1]}, stores)


def theoretical_seconds(changes_per_store: Iterable[int], bucket: float, rate: float) -> float:
    return max((max(0.0, MUTATION_POINTS * c - bucket) / rate for c in changes_per_store),
               default=0.0)


def run_cycle(server: PgServer | None, args: argparse.Namespace, workdir: Path,
              budget_aware: bool = True, label: str | None = None) -> tuple[
        Result, Baseline | None, float]:
    rng = random.Random(10)
    secret_key, encryption_key = secrets.token_urlsafe(40), generate_key()
    with database_url(args.backend, server, workdir) as url, \
            sandboxes(args.shopify_stores, args.woo_stores, workdir) as boxes:
        settings = load_settings(None, environ={}, overrides=settings_overrides(
            url, secret_key, encryption_key, security={"allow_loopback_http": True}))
        runtime = build_runtime(settings, clock=SystemClock())
        migrate.upgrade(runtime.db)
        try:
            now = runtime.clock.now()
            seeded = seed(runtime, boxes, args.shipments, now, args.woo_always_read)
            print(f"seeded {args.shipments:,} shipments in {seeded.seconds:.0f} s",
                  file=sys.stderr)
            baseline = None
            if args.baseline_sample:
                baseline = naive_loop(boxes, seeded, args.baseline_sample, rng)
                time.sleep(bucket_refill_seconds(boxes))  # start the cycle with full buckets
            before = {domain: _usage(boxes, domain) for domain, _ in boxes.shops}
            for site in boxes.woo:
                site.counter.reset()
            changed, apply_seconds = change_statuses(runtime, seeded, args.changed, rng)
            print(f"changed {len(changed):,} statuses in {apply_seconds:.0f} s", file=sys.stderr)
            with runtime.db.read() as session:
                queued = session.scalar(select(func.count()).select_from(OutboxJob).where(
                    OutboxJob.kind == WRITEBACK_JOB))
            print(f"{queued:,} write-back jobs queued; running the worker", file=sys.stderr)
            meter = CpuMeter(roots=(server.pid,) if server and server.pid else ()).start()
            sandbox_cpu = time.process_time()  # this process: the sandboxes' threads
            report = run_worker(url, secret_key, encryption_key, args.threads, budget_aware)
            sandbox_cpu = time.process_time() - sandbox_cpu
            other = meter.other_pct()
            first = woo_wave(seeded, boxes, changed, args.woo_always_read)
            done_ids = {p.shipment_id for p in changed}
            untouched = [p for p in seeded.parcels if p.shipment_id not in done_ids]
            later: list[WooWave] = []
            for wave in range(2, args.waves + 1):
                wave_changed, _ = change_statuses(runtime, seeded, args.changed, rng, wave,
                                                  pool=untouched)
                done_ids = {p.shipment_id for p in wave_changed}
                untouched = [p for p in untouched if p.shipment_id not in done_ids]
                print(f"wave {wave}: changed {len(wave_changed):,} statuses; running the "
                      "worker", file=sys.stderr)
                wave_report = run_worker(url, secret_key, encryption_key, args.threads,
                                         budget_aware)
                report["states"] = wave_report["states"]
                report["errors"] = report["errors"] or wave_report["errors"]
                later.append(woo_wave(seeded, boxes, wave_changed, args.woo_always_read))
        finally:
            runtime.close()
        shopify_changes = Counter(p.store_id for p in changed if p.platform == "shopify")
        woo_changed = [p for p in changed if p.platform == "woocommerce"]
        bucket = (boxes.shopify.bucket(boxes.shops[0][0], boxes.client_id).maximum
                  if boxes.shops else 0.0)  # --shopify-stores 0: WooCommerce alone
        share = {}
        points = calls = throttled = 0
        for store_id, domain in seeded.domains.items():
            if seeded.store_ids[store_id] != "shopify":
                continue
            after = _usage(boxes, domain)
            spent = after[1] - before[domain][1]
            calls += after[0] - before[domain][0]
            points += spent
            throttled += after[2] - before[domain][2]
            busy = float(report["finished"].get(str(store_id), 0.0))
            share[store_id] = spent / (bucket + RESTORE_RATE * busy) if busy else float("nan")
        woo_calls, moves = first.calls, first.moves
        result = Result(
            label=label or args.label, shipments=args.shipments,
            shopify_shipments=sum(1 for p in seeded.parcels if p.platform == "shopify"),
            changes=len(changed),
            shopify_changes=dict(shopify_changes), woo_changes=len(woo_changed), woo_moves=moves,
            seconds=float(report["seconds"]), apply_seconds=apply_seconds,
            theoretical_seconds=theoretical_seconds(shopify_changes.values(), bucket,
                                                    RESTORE_RATE),
            points=points, shopify_calls=calls, throttled=throttled, budget_share=share,
            woo_calls=woo_calls, rss_mb=float(report["vmhwm_mb"]), states=report["states"],
            other_cpu=other, threads=args.threads, errors=report["errors"],
            worker_cpu=float(report["cpu_seconds"]), sandbox_cpu=sandbox_cpu,
            woo_groups=first.groups, woo_stores=first.stores, woo_later=later,
            handed_back=int(report.get("handed_back", 0)),
            timeline=report.get("timeline", {}),
            handed_back_by_store=report.get("handed_back_by_store", {}),
            limiter_wait_seconds=float(report.get("limiter_wait_seconds", 0.0)))
        return result, baseline, bucket


def baseline_row(baseline: Baseline, result: Result, bucket: float) -> str:
    """The naive loop extrapolated to every shipment of the run."""
    shopify = result.shopify_shipments
    woo = result.shipments - shopify
    per_store = shopify / max(len(result.shopify_changes), 1)
    budget_bound = max(0.0, baseline.shopify_points_per_call * per_store - bucket) / RESTORE_RATE
    latency_bound = (shopify * baseline.shopify_seconds_per_call
                     + woo * baseline.woo_seconds_per_call)
    seconds = max(budget_bound, latency_bound)
    points = baseline.shopify_points_per_call * shopify
    return (f"| baseline: naive loop, every shipment, one call each (measured on "
            f"{baseline.sample:,} + {baseline.sample:,}, extrapolated) | {result.shipments:,} | "
            f"{result.changes:,} | **~{seconds:,.0f}** (latency {latency_bound:,.0f}, budget "
            f"{budget_bound:,.0f}) | {result.theoretical_seconds:,.0f} | "
            f"{points / max(sum(result.shopify_changes.values()), 1):.1f} | n/a | "
            f"{baseline.throttled} | {1000 * woo / max(result.woo_moves, 1):,.0f} | "
            f"{1000 * woo / max(result.woo_changes, 1):,.0f} | n/a | 1 | n/a |")


def result_row(r: Result) -> str:
    shares = [v for v in r.budget_share.values() if v == v]
    share = (f"{100 * min(shares):.0f}-{100 * max(shares):.0f}%" if shares else "n/a")
    return (f"| {r.label} | {r.shipments:,} | {r.changes:,} | {r.seconds:,.0f} | "
            f"{r.theoretical_seconds:,.0f} | {r.points_per_change:.1f} | {share} | "
            f"{r.throttled} | {1000 * r.woo_status_calls / max(r.woo_moves, 1):.1f} | "
            f"{1000 * r.woo_total_calls / max(r.woo_changes, 1):,.0f} | {r.rss_mb:.0f} | "
            f"{r.threads} | {r.other_cpu:.0f}% |")


HEADER = ("| variant | shipments | status changes | wall s | theoretical min s | GraphQL points "
          "per Shopify change | budget used per Shopify store (min-max) | throttled | Woo "
          "status REST calls per 1,000 order-status moves | all Woo REST calls per 1,000 Woo "
          "changes | worker peak RSS MB | threads | other CPU |\n"
          "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")


def woo_store_line(n: int, reads: str, moves: int, calls: dict[str, int]) -> str:
    """Where one WooCommerce store's status calls went, next to the floor of the batches
    (orders/batch takes at most 100 orders: one call per started 100 moves)."""
    kinds = ", ".join(f"{v} {k.split(' (')[0].removeprefix('status ')}"
                      for k, v in sorted(calls.items()))
    return (f"WooCommerce store {n + 1} ({reads}): {moves:,} moves, {kinds or 'no calls'} "
            f"(batches at least {math.ceil(moves / 100)})")


def details(r: Result) -> str:
    per_store = ", ".join(f"store {k}: {v:,} changes, {100 * r.budget_share[k]:.0f}%"
                          for k, v in sorted(r.shopify_changes.items()))
    woo = ", ".join(f"{k} {v:,}" for k, v in sorted(r.woo_calls.items()))
    return (f"- {r.label}: jobs {r.states}; CPU while the worker ran: worker "
            f"{r.worker_cpu:.0f} s ({1000 * r.worker_cpu / max(r.changes, 1):.1f} ms per change), "
            f"sandboxes {r.sandbox_cpu:.0f} s; engine applied the {r.changes:,} carrier events in "
            f"{r.apply_seconds:.0f} s (before the worker started); Shopify {r.shopify_calls:,} "
            f"calls, {r.points:,} points ({per_store}); WooCommerce {r.woo_changes:,} changes, "
            f"{r.woo_moves:,} order-status moves, calls: {woo}"
            + "".join(f"; status calls per 1,000 moves, stores with status_reads = {k}: "
                      f"{1000 * c / m:.1f} ({c:,} calls, {m:,} moves)"
                      for k, (c, m) in sorted(r.woo_groups.items()))
            + "".join(f"; {woo_store_line(n, *store)}" for n, store in enumerate(r.woo_stores))
            + "".join(f"; flush {k + 2} (a new wave after the last one's writes): "
                      + ", ".join(f"status_reads = {g}: {1000 * c / m:.1f} per 1,000 moves "
                                  f"({c:,} calls, {m:,} moves)"
                                  for g, (c, m) in sorted(wave.groups.items()))
                      + "".join(f"; {woo_store_line(n, *store)}"
                                for n, store in enumerate(wave.stores))
                      for k, wave in enumerate(r.woo_later))
            + "; threads slept "
            f"{r.limiter_wait_seconds:.0f} s in the Shopify limiter, {r.handed_back:,} jobs "
            "handed back" + (f" (by store: {r.handed_back_by_store})" if r.handed_back else "")
            + "; seconds until 10/50/90/100% of each store's jobs were done: "
            + ", ".join(f"store {k}: {'/'.join(f'{t:.0f}' for t in v)}"
                        for k, v in sorted(r.timeline.items(), key=lambda kv: int(kv[0])))
            + (f"; dead-letter samples: {r.errors}" if r.errors else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.2)
    parser.add_argument("--shopify-stores", type=int, default=5)
    parser.add_argument("--woo-stores", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--baseline-sample", type=int, default=0,
                        help="run the naive loop on N shipments per platform first")
    parser.add_argument("--label", default="DropTrack")
    parser.add_argument("--woo-always-read", type=int, default=0, metavar="N",
                        help="the first N WooCommerce stores read every order before a status "
                             "batch (status_reads = always: the path before migration 0012), "
                             "the baseline in the same run")
    parser.add_argument("--waves", type=int, default=1, metavar="N",
                        help="N consecutive cycles, each on parcels no earlier one changed, "
                             "each with its own status flush per WooCommerce store (the next "
                             "flush sees the last one's writes: the steady state); the table "
                             "is the first cycle's, the WooCommerce status calls of the later "
                             "ones are listed after it")
    parser.add_argument("--dispatch", choices=(*DISPATCH.values(), "both"), default="budget",
                        help="budget: budget-aware dispatch (the default); sleeping: the old "
                        "way ([dispatcher] budget_aware = false); both: sleeping, then budget, "
                        "each on a freshly seeded database, in this one run")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--append-doc", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--worker-child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--secret-key", help=argparse.SUPPRESS)
    parser.add_argument("--encryption-key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_child:
        return worker_child(args.worker_child, args.secret_key, args.encryption_key,
                            args.threads, args.dispatch != DISPATCH[False])
    started = datetime.now(UTC)
    database = postgres() if args.backend == "postgresql" else contextlib.nullcontext(None)
    variants = ([False, True] if args.dispatch == "both"
                else [args.dispatch != DISPATCH[False]])
    results: list[Result] = []
    baseline: Baseline | None = None
    with tempfile.TemporaryDirectory(prefix="dt-sync.") as folder, database as server:
        for k, budget_aware in enumerate(variants):
            label = (f"{args.label}, {DISPATCH[budget_aware]} dispatch"
                     if args.dispatch == "both" else None)
            workdir = Path(folder) / str(k)
            workdir.mkdir()
            result, found, bucket = run_cycle(server, args, workdir, budget_aware, label)
            baseline = baseline or found
            results.append(result)
            args.baseline_sample = 0  # the naive loop once is enough
    rows = [HEADER]
    if baseline is not None:
        rows.append(baseline_row(baseline, results[0], bucket))
    rows += [result_row(r) for r in results]
    body = (f"Run {started:%Y-%m-%d %H:%M} UTC; machine: {machine_summary()}; {args.backend}; "
            f"Shopify bucket {bucket:,.0f} points, restore {RESTORE_RATE:.0f} points/s.\n\n"
            + "\n".join(rows) + "\n\n" + "\n".join(details(r) for r in results))
    result = results[-1]
    print(body)
    if args.json:
        args.json.write_text(json.dumps({
            "label": result.label, "seconds": result.seconds,
            "points_per_change": result.points_per_change, "throttled": result.throttled,
            "budget_share": result.budget_share, "woo_calls": dict(result.woo_calls),
            "rss_mb": result.rss_mb, "states": result.states, "row": result_row(result),
            "baseline_row": baseline_row(baseline, result, bucket) if baseline else None,
            "details": details(result), "rows": [result_row(r) for r in results],
            "median_share": statistics.median(result.budget_share.values())
            if result.budget_share else None}, indent=2))
    if args.append_doc:
        append_doc("### Sync throughput run (bench/sync_throughput.py)\n\n" + body)
    return 0 if not any(r.states.get(outbox.DEAD) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
