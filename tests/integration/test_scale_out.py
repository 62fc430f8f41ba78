"""Scaled-out mode with real processes: one scheduler, Dramatiq workers on a real Redis.

Each test starts `droptrack scheduler` and worker processes against the test database and the
sandboxes, then checks the promises: exactly once, nothing lost. The burst goes end to end:
2,000 orders placed in a Shopify sandbox shop reach DropTrack by signed webhook (gunicorn),
are forwarded through a supplier outage and a Redis FLUSHALL, shipped, polled, and written
back into the shop while its GraphQL budget keeps running out; the shop then shows each order
one fulfillment with the right number and one event per status. Its twin runs the same story
against one `droptrack serve` process on SQLite (embedded mode).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import func, select, update

from connectors.shopify.units import fulfillment_event_status
from core.clock import SystemClock, as_utc
from core.status import Status
from integration.accounts import stores
from integration.accounts.suppliers import add_rest_supplier
from integration.base.config import Settings
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.limits.redis_limits import RedisCostLimiter
from integration.scheduling.leadership import STANDBY_MESSAGE
from integration.storage.models import (
    Order,
    OutboxJob,
    Shipment,
    SkuMapping,
    Store,
    SupplierOrder,
)
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox
from sandboxes.shopify import build as build_shopify
from sandboxes.shopify.cost import LeakyBucket
from sandboxes.shopify.state import Fulfillment, WebhookSubscription
from tests.conftest import BACKEND, make_settings
from tests.helpers.recorder import Recorder
from tests.helpers.sandbox_supplier import SUPPLIER_EPOCH, SupplierSandbox

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True},
                         workers={"redis_url": redis_url, "queue_grace_seconds": 3,
                                  "sweep_interval_seconds": 0.2, "standby_poll_seconds": 0.3},
                         dispatcher={"lease_seconds": 5})


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DROPTRACK_DATABASE_URL": settings.database.url,
        "DROPTRACK_SECURITY_SECRET_KEY": settings.security.secret_key,
        "DROPTRACK_SECURITY_ENCRYPTION_KEYS": ",".join(settings.security.encryption_keys),
        "DROPTRACK_SECURITY_ALLOW_LOOPBACK_HTTP": "true",
        "DROPTRACK_WORKERS_REDIS_URL": settings.workers.redis_url,
        "DROPTRACK_WORKERS_QUEUE_GRACE_SECONDS": "3",
        "DROPTRACK_WORKERS_SWEEP_INTERVAL_SECONDS": "0.2",
        "DROPTRACK_WORKERS_STANDBY_POLL_SECONDS": "0.3",
        "DROPTRACK_DISPATCHER_LEASE_SECONDS": "5",
        "DROPTRACK_SCHEDULER_TRACKING_SWEEP_MINUTES": "600",
        **extra,
    }


class Processes:
    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.settings = settings
        self.tmp_path = tmp_path
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.extra_env: dict[str, str] = {}

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"process-{len(self.running)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, *args], cwd=REPO,
                env=environment(self.settings, **{**self.extra_env, **env}),
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((process, log))
        return process

    def scheduler(self) -> subprocess.Popen[bytes]:
        return self.start("-m", "integration.cli", "scheduler")

    def worker(self, threads: int = 4, **env: str) -> subprocess.Popen[bytes]:
        return self.start("-m", "dramatiq", "tests.helpers.worker_module", "--queues",
                          "droptrack-outbox", "--processes", "1", "--threads", str(threads),
                          DROPTRACK_WORKER_PROCESS="1", **env)

    def kill(self, process: subprocess.Popen[bytes], signum: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        process.wait(30)

    def output(self, process: subprocess.Popen[bytes]) -> str:
        return next(log for p, log in self.running if p is process).read_text(errors="replace")

    def assert_alive(self) -> None:
        for process, log in self.running:
            code = process.poll()
            if code is not None and code != -signal.SIGKILL and process.returncode != 0:
                raise AssertionError(f"{log.name} exited with {code}:\n"
                                     f"{log.read_text(errors='replace')[-3000:]}")

    def stop_all(self) -> None:
        for process, _ in self.running:
            if process.poll() is None:
                self.kill(process, signal.SIGTERM)


@pytest.fixture
def processes(settings: Settings, runtime: Runtime, tmp_path: Path) -> Iterator[Processes]:
    group = Processes(settings, tmp_path)
    yield group
    group.stop_all()


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             processes: Processes | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if processes is not None:
            processes.assert_alive()
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


# 800 orders: well past the supplier outage (300 refused creates) and enough to run through
# Shopify's throttling; TEST_BURST_ORDERS=2000 for a longer run (bench/ measures speed).
BURST = int(os.environ.get("TEST_BURST_ORDERS", "800"))
OUTAGE = 300  # order calls the supplier answers with 503 before it comes back
SKU, SUPPLIER_SKU = "CASE-1", "CASE-IPHONE15-CLEAR"
# Moments on the supplier's clock the parcels are moved to (every journey is "normal" and
# starts at SUPPLIER_EPOCH): after 4 days every parcel is shipped and in transit; after 12 days
# some are still in transit, some out for delivery, many delivered; after 19 days all are
# delivered (the longest planned journey ends after ~18.1 days).
CHECKPOINTS = (timedelta(days=4), timedelta(days=12), timedelta(days=19))
DRAIN_EVERY_SECONDS = 2.0
RECIPIENT = {"first_name": "Bo", "last_name": "Li", "address1": "742 Evergreen Terrace",
             "address2": None, "city": "Springfield", "province": "Illinois",
             "province_code": "IL", "zip": "62704", "country": "United States",
             "country_code": "US", "phone": None, "company": None}


@dataclass
class LiveShop:
    """One Shopify Plus shop with DropTrack installed, on a sandbox that runs on the wall clock
    (its cost bucket refills in real time; webhooks go out from a thread every second)."""

    sandbox: ShopifySandbox
    url: str
    domain: str
    client_id: str
    client_secret: str
    token: str

    def bucket(self) -> LeakyBucket:
        return self.sandbox.bucket(self.domain, self.client_id)

    def subscribe(self, droptrack_url: str) -> None:
        state, now = self.sandbox.state, self.sandbox.state.now()
        for topic in ("ORDERS_PAID",):
            subscription = WebhookSubscription(
                id=state.next_id(), shop=self.domain, client_id=self.client_id, topic=topic,
                uri=f"{droptrack_url}/webhooks/shopify", api_version="2026-07",
                created_at=now, updated_at=now)
            state.subscriptions[subscription.id] = subscription


@pytest.fixture
def live_shop() -> Iterator[LiveShop]:
    app = build_shopify(SystemClock(), public_url="http://127.0.0.1", background_webhooks=True)
    sandbox: ShopifySandbox = app.extensions["sandbox"]
    with BackgroundServer(app) as server:
        sandbox.public_url = sandbox.state.public_url = server.url
        shopify_app = sandbox.state.create_app(client_id="droptrack-burst",
                                               client_secret="shpss_burst_secret")
        shop = sandbox.state.create_shop("burst", plan="plus")
        token = sandbox.state.install(shop.domain, shopify_app, expiring=False)
        try:
            yield LiveShop(sandbox, server.url, shop.domain, shopify_app.client_id,
                           shopify_app.client_secret, token.token)
        finally:
            sandbox.webhooks.stop_background()


class Drainer:
    """Spends the shop's whole GraphQL budget every few seconds, as another busy app process
    would: DropTrack's calls then meet THROTTLED answers and must wait them out."""

    def __init__(self, shop: LiveShop) -> None:
        self.shop = shop
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="drain-bucket", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(DRAIN_EVERY_SECONDS):
            self.shop.bucket().drain()

    def __enter__(self) -> Drainer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connect(runtime: Runtime, shop: LiveShop, supplier_sandbox: SupplierSandbox) -> None:
    """The store and the supplier as the owner connects them, and the SKU mapped."""
    store_id = stores.add_shopify_store(runtime, shop.domain, shop.token, shop.client_secret)
    supplier_id = add_rest_supplier(runtime, "Reference", supplier_sandbox.url,
                                    supplier_sandbox.api_key)
    supplier_sandbox.state.seed_stock({SUPPLIER_SKU: BURST + 10})
    supplier_sandbox.state.seed_scenario("normal", count=BURST)
    with runtime.db.write() as session:
        store = session.get_one(Store, store_id)
        store.settings = {**store.settings, "admin_base_url": shop.url}
        session.add(SkuMapping(store_id=store_id, sku=SKU, supplier_sku=SUPPLIER_SKU,
                               supplier_id=supplier_id, created_at=runtime.clock.now()))


def wait_until_up(url: str, processes: Processes) -> None:
    def answers() -> bool:
        try:
            return requests.get(f"{url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(answers, 60, "the web app", processes)


def forwarded(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(SupplierOrder).where(
            SupplierOrder.status.in_(("forwarded", "shipped")))) or 0


def job_states(runtime: Runtime) -> dict[str, int]:
    with runtime.db.read() as session:
        return dict(session.execute(select(OutboxJob.state, func.count()).group_by(
            OutboxJob.state)).all())


def no_dead_jobs(runtime: Runtime) -> None:
    with runtime.db.read() as session:
        dead = session.execute(select(OutboxJob.kind, OutboxJob.last_error).where(
            OutboxJob.state == "dead").limit(5)).all()
    assert not dead, f"dead jobs: {dead}"


def parcels(runtime: Runtime) -> dict[str, tuple[str, str | None, datetime, bool]]:
    """Order number -> (status, status written to the store, last polled, still polled)."""
    with runtime.db.read() as session:
        rows = session.execute(select(
            Order.number, Shipment.status, Shipment.written_status, Shipment.updated_at,
            Shipment.next_check_at).join(Order, Order.id == Shipment.order_id)).all()
    return {number: (status, written, as_utc(updated), due is not None)
            for number, status, written, updated, due in rows}


def caught_up(runtime: Runtime, moved_at: datetime, still_polled: set[str], *,
              first: bool) -> bool:
    """Every parcel polled since `moved_at` (except those no longer polled: delivered), and
    the store shows each one's status."""
    no_dead_jobs(runtime)
    now = parcels(runtime)
    return len(now) == BURST and all(
        status == written and (polled_at >= moved_at or not (first or order in still_polled))
        for order, (status, written, polled_at, _) in now.items())


def follow_parcels(runtime: Runtime, processes: Processes, supplier_sandbox: SupplierSandbox,
                   timeout: float) -> dict[str, list[str]]:
    """Move the supplier's clock checkpoint by checkpoint; after each, wait until DropTrack has
    polled every live parcel and the store shows its status. Returns each order's statuses."""
    history: dict[str, list[str]] = {}
    unshipped_every = timedelta(hours=runtime.settings.scheduler.unshipped_check_hours)
    for number, moment in enumerate(CHECKPOINTS):
        moved_at = datetime.now(UTC)  # DropTrack's clock is the wall clock
        supplier_sandbox.clock.set(SUPPLIER_EPOCH + moment)
        # DropTrack runs on the wall clock: let the hours it waits between two looks at an
        # order (unshipped, then each parcel's next check) pass for it too.
        with runtime.db.write() as session:
            if number:
                session.execute(update(Shipment).where(Shipment.next_check_at.is_not(None))
                                .values(next_check_at=moved_at))
            else:
                session.execute(update(SupplierOrder).where(
                    SupplierOrder.status == "forwarded").values(
                    forwarded_at=moved_at - unshipped_every))
        still_polled = {order for order, (*_, polled) in parcels(runtime).items() if polled}
        wait_for(functools.partial(caught_up, runtime, moved_at, still_polled, first=not number),
                 timeout, f"the store to show the parcels at {moment}", processes)
        for order, (status, *_rest) in parcels(runtime).items():
            history.setdefault(order, []).append(status)
    return history


def expected_events(statuses: list[str]) -> list[str]:
    """The fulfillment events a customer should see: one per status the parcel reached."""
    reached = list(dict.fromkeys(statuses))
    return [event for event in (fulfillment_event_status(Status(s)) for s in reached) if event]


def assert_store_shows_every_order_once(shop: LiveShop, supplier_sandbox: SupplierSandbox,
                                        history: dict[str, list[str]]) -> None:
    state = shop.sandbox.state
    orders = state.orders_of(shop.domain)
    assert len(orders) == BURST
    fulfillments: dict[int, list[Fulfillment]] = {}
    for fulfillment in list(state.fulfillments.values()):
        fulfillments.setdefault(fulfillment.order_id, []).append(fulfillment)
    for order in orders:
        supplier_order = supplier_sandbox.state.order_by_reference(order.name)
        assert supplier_order is not None, order.name
        [parcel] = supplier_order.plan.parcels
        [fulfillment] = fulfillments.get(order.id, [])  # exactly one fulfillment per order
        assert [t.number for t in fulfillment.tracking] == [parcel.legs[0].tracking_number]
        shown = [event.status for event in fulfillment.events]
        assert shown == expected_events(history[order.name]), order.name
    # The supplier's parcels advanced as planned: all in transit at the first checkpoint, all
    # delivered at the last; the second caught them at different points of their journey.
    assert {statuses[0] for statuses in history.values()} == {Status.IN_TRANSIT}
    assert {statuses[-1] for statuses in history.values()} == {Status.DELIVERED}


def run_burst(runtime: Runtime, processes: Processes, supplier_sandbox: SupplierSandbox,
              shop: LiveShop, *, scaled_out: bool,
              redis_client: redis.Redis | None = None) -> dict[str, list[str]]:
    """The whole story: orders placed in the shop reach DropTrack by signed webhook, are
    forwarded through a supplier outage, shipped, tracked and written back while the shop's
    budget keeps running out. Returns each order's statuses at the checkpoints."""
    connect(runtime, shop, supplier_sandbox)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes.extra_env.update({
        "DROPTRACK_SCHEDULER_TRACKING_SWEEP_MINUTES": "0.05",
        "DROPTRACK_DISPATCHER_POLL_INTERVAL_SECONDS": "0.1"})
    if scaled_out:
        processes.start("-m", "gunicorn", "integration.web.wsgi:app", "--bind", f"127.0.0.1:{port}",
                        "--workers", "2", "--worker-class", "gthread", "--threads", "4")
        processes.scheduler()
        for _ in range(3):
            processes.worker()
    else:
        processes.start("-m", "integration.cli", "serve", "--port", str(port))
    wait_until_up(url, processes)
    shop.subscribe(url)
    supplier_sandbox.state.faults.add("error", endpoint="create_order", times=OUTAGE,
                                      status=503)
    for _ in range(BURST):
        shop.sandbox.state.place_order(shop.domain, items=[
            {"title": "Phone case", "quantity": 1, "price": "12.50", "sku": SKU}],
            email="b@example.com", shipping_address=RECIPIENT)
    if redis_client is not None:
        wait_for(lambda: forwarded(runtime) >= BURST // 4, 300, "a quarter of the burst",
                 processes)
        redis_client.flushall()  # every queued message (and every shared budget) is gone
    wait_for(lambda: forwarded(runtime) == BURST, 900, "the whole burst", processes)
    assert not shop.sandbox.webhooks.pending()  # every webhook was taken at the first try

    state = supplier_sandbox.state
    assert len(state.orders) == BURST
    assert len({o.request.order_number for o in state.orders.values()}) == BURST
    outage = sum(count for (endpoint, _kind), count in state.faults.fired.items()
                 if endpoint == "create_order")
    assert outage == OUTAGE  # every 503 was answered, retried later, and nothing doubled

    with Drainer(shop):
        history = follow_parcels(runtime, processes, supplier_sandbox, 900)
    assert shop.sandbox.usage(shop.domain, shop.client_id).throttled > 0
    assert_store_shows_every_order_once(shop, supplier_sandbox, history)
    wait_for(lambda: set(job_states(runtime)) == {"done"}, 120, "every job done", processes)
    return history


def test_burst_end_to_end_scaled_out_exactly_once_through_outage_and_throttling(
        runtime: Runtime, processes: Processes, supplier_sandbox: SupplierSandbox,
        live_shop: LiveShop, redis_client: redis.Redis) -> None:
    """3 workers, 1 scheduler and gunicorn on the test database and a real Redis."""
    run_burst(runtime, processes, supplier_sandbox, live_shop, scaled_out=True,
              redis_client=redis_client)
    # The workers wrote through the Shopify budget they share in Redis.
    assert RedisCostLimiter(redis_client).usage(live_shop.domain).calls > 0


@pytest.mark.skipif(BACKEND != "sqlite", reason="embedded mode runs on SQLite: the SQLite run "
                    "of the suite covers it")
def test_burst_end_to_end_embedded_on_sqlite(
        runtime: Runtime, processes: Processes, supplier_sandbox: SupplierSandbox,
        live_shop: LiveShop) -> None:
    """The twin: one `droptrack serve` process (web, scheduler, dispatcher) on SQLite."""
    run_burst(runtime, processes, supplier_sandbox, live_shop, scaled_out=False)


def test_worker_killed_mid_job_redelivers_with_one_side_effect(
        runtime: Runtime, processes: Processes, redis_client: redis.Redis) -> None:
    with Recorder() as supplier:
        with runtime.db.write() as session:
            outbox.enqueue(session, "test.call_supplier", "supplier-order:7",
                           {"url": supplier.url, "order": "#7"}, runtime.clock.now())
        processes.scheduler()
        stuck = processes.worker(HANG_AFTER_EFFECT="1")
        wait_for(lambda: supplier.requests["supplier-order:7"] == 1, 60, "the first call")
        processes.kill(stuck)
        processes.worker(HANG_AFTER_EFFECT="0")

        def done() -> bool:
            with runtime.db.read() as session:
                return session.scalars(select(OutboxJob.state)).one() == "done"

        wait_for(done, 90, "the redelivered job")
    assert supplier.requests["supplier-order:7"] == 2
    assert list(supplier.orders) == ["supplier-order:7"]


def test_two_schedulers_one_active_and_failover(runtime: Runtime, processes: Processes,
                                                redis_client: redis.Redis) -> None:
    first = processes.scheduler()
    wait_for(lambda: "now the active one" in processes.output(first), 60, "a leader")
    second = processes.scheduler()
    wait_for(lambda: STANDBY_MESSAGE in processes.output(second), 60, "a hot standby")
    assert "now the active one" not in processes.output(second)
    processes.kill(first)
    started = time.monotonic()
    wait_for(lambda: "now the active one" in processes.output(second), 30, "the failover")
    assert time.monotonic() - started < 30


def test_clock_jumps_neither_duplicate_nor_stall(runtime: Runtime) -> None:
    lease, grace = timedelta(seconds=30), timedelta(seconds=60)
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for key in ("a", "b"):
            outbox.enqueue(session, "test.count", key, {}, now)
    ahead = now + timedelta(hours=5)
    with runtime.db.write() as session:
        assert len(outbox.mark_for_queue(session, ahead, grace, 100, lease)) == 2
    with runtime.db.write() as session:  # the same moment again: nothing queued twice
        assert outbox.mark_for_queue(session, ahead, grace, 100, lease) == []
    with runtime.db.write() as session:  # back to the real time: marks from the "future"
        assert len(outbox.mark_for_queue(session, now, grace, 100, lease)) == 2
    with runtime.db.write() as session:
        [claimed] = outbox.claim_due(session, "w", ahead, lease, 1)
    with runtime.db.write() as session:  # the clock goes back 5 h: that lease is not 5 h long
        assert next(j.id for j in outbox.claim_due(session, "w2", now, lease, 10)) == claimed.id
