"""Scaled-out mode with real processes: one scheduler, Dramatiq workers on a real Redis.

Each test starts `droptrack scheduler` and worker processes against the test database and the
reference supplier sandbox, then checks the promises: exactly once, nothing lost.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from integration import outbox, stores
from integration.config import Settings
from integration.domain import Address, OrderLine, Payment, StoreOrder
from integration.engine.orders import import_order
from integration.runtime import Runtime
from integration.storage.models import OutboxJob, SkuMapping, SupplierOrder
from integration.suppliers import add_rest_supplier
from tests.conftest import make_settings
from tests.helpers.recorder import Recorder
from tests.helpers.sandbox_supplier import SupplierSandbox

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

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"process-{len(self.running)}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, *args], cwd=REPO, env=environment(self.settings, **env),
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


def place_orders(runtime: Runtime, supplier_sandbox: SupplierSandbox, count: int) -> None:
    store_id = stores.add_shopify_store(runtime, "burst.myshopify.com", "tok", "secret")
    supplier_id = add_rest_supplier(runtime, "Reference", supplier_sandbox.url,
                                    supplier_sandbox.api_key)
    supplier_sandbox.state.seed_stock({"CASE-IPHONE15-CLEAR": count + 10})
    now = datetime.now(UTC)
    with runtime.db.write() as session:
        session.add(SkuMapping(store_id=store_id, sku="CASE", supplier_sku="CASE-IPHONE15-CLEAR",
                               supplier_id=supplier_id, created_at=now))
        for number in range(count):
            import_order(session, store_id, StoreOrder(
                external_id=str(number), number=f"#{10000 + number}", email="b@example.com",
                payment=Payment.PAID, updated_at=now, lines=(OrderLine("1", 1, sku="CASE"),),
                shipping_address=Address(name="Bo Li", address1="742 Evergreen Terrace",
                                         city="Springfield", province="IL", postcode="62704",
                                         country="US")), now)


def forwarded(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(SupplierOrder).where(
            SupplierOrder.status == "forwarded")) or 0


BURST = int(os.environ.get("TEST_BURST_ORDERS", "2000"))


def test_burst_is_forwarded_exactly_once_through_supplier_outage_and_redis_flush(
        runtime: Runtime, processes: Processes, supplier_sandbox: SupplierSandbox,
        redis_client: redis.Redis) -> None:
    place_orders(runtime, supplier_sandbox, BURST)
    # The supplier is down for its first 300 order calls (503), then comes back.
    supplier_sandbox.state.faults.add("error", endpoint="create_order", times=300, status=503)
    processes.scheduler()
    for _ in range(3):
        processes.worker()
    wait_for(lambda: forwarded(runtime) >= BURST // 4, 240, "a quarter of the burst", processes)
    redis_client.flushall()  # every queued message is gone
    wait_for(lambda: forwarded(runtime) == BURST, 600, "the whole burst", processes)
    assert len(supplier_sandbox.state.orders) == BURST
    outage = sum(count for (endpoint, _kind), count in supplier_sandbox.state.faults.fired.items()
                 if endpoint == "create_order")
    assert outage == 300  # every 503 was answered, retried later, and nothing doubled
    references = [o.request.order_number for o in supplier_sandbox.state.orders.values()]
    assert len(set(references)) == BURST

    def states() -> dict[str, int]:
        with runtime.db.read() as session:
            return dict(session.execute(select(OutboxJob.state, func.count()).group_by(
                OutboxJob.state)).all())

    wait_for(lambda: states() == {"done": BURST}, 120, "every job done", processes)


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
    time.sleep(2)
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
