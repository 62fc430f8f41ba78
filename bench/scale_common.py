"""Shared by the "Performance at scale" benchmarks (issue 10): databases, history, machine notes.

Not a benchmark itself. `idle_cost.py`, `memory.py` and `sync_throughput.py` import it:

* `postgres()`: the admin URL of TEST_POSTGRES_URL / BENCH_POSTGRES_URL, or of a throwaway
  PostgreSQL 15 started here (initdb in a temp folder, trust auth, loopback, run as `postgres`
  when root), as `scripts/test` and `bench/orders_table.py` do;
* `open_database()`: a fresh, migrated DropTrack database (SQLite file or PostgreSQL database)
  and its `Runtime` on a frozen clock;
* `seed_base()` / `grow_history()`: stores, suppliers, a constant live set (parcels in transit
  that are not due, recent supplier orders, recent finished jobs and processed deliveries)
  and any number of delivered (historical) orders with their supplier order and parcel,
  bulk-inserted with Core `insert()` in chunks with explicit ids;
* `machine_summary()`, `CpuMeter`: the machine and the CPU other processes used meanwhile.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The DropTrack code a benchmark imports, first on the path: BENCH_CODE (another checkout, e.g.
# a baseline `git worktree`, in a child process a benchmark starts for it); else a checkout that
# PYTHONPATH already names (the --baseline-source child processes); else this checkout. This
# checkout's root in front of a baseline's would import this checkout's package, migrations
# included, under the baseline's name ("the database schema is not current").
_CHOSEN = any((Path(entry) / "integration" / "__init__.py").is_file()
              for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry)
CODE_ROOT = os.environ.get("BENCH_CODE") or str(ROOT)
if (os.environ.get("BENCH_CODE") or not _CHOSEN) and sys.path[:1] != [CODE_ROOT]:
    sys.path.insert(0, CODE_ROOT)

from cpu_meter import CpuMeter as CpuMeter  # noqa: E402  (re-exported for the benchmarks)
from sqlalchemy import create_engine, insert, text  # noqa: E402

from core.clock import FrozenClock  # noqa: E402
from integration.accounts import owners as accounts  # noqa: E402
from integration.base.config import load_settings  # noqa: E402
from integration.kernel.runtime import Runtime, build_runtime  # noqa: E402
from integration.security.crypto import generate_key  # noqa: E402
from integration.storage import migrate  # noqa: E402
from integration.storage.models import (  # noqa: E402
    InboxDelivery,
    Order,
    OutboxJob,
    Shipment,
    Store,
    Supplier,
    SupplierOrder,
)

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
DOC = ROOT / "docs" / "benchmarks.md"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 730  # delivered orders spread over the two years before the live set
LIVE_PARCELS = 1_000  # in transit, next check in the future: live but not due
LIVE_FORWARDED = 200  # forwarded an hour ago, no parcel yet: not due, not late
RECENT_DONE_JOBS = 20_000  # finished jobs inside the retention window (a busy month)
RECENT_DELIVERIES = 5_000  # processed webhook deliveries inside the retention window
CHUNK = 10_000
OWNER = ("owner@bench.example", "bench password 123")
COUNTRIES = ("US", "DE", "GB", "FR")


# --- machine ----------------------------------------------------------------------------------


def machine_summary() -> str:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = math.nan
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
    return (f"nproc {os.cpu_count()}, {model}, {mem_gib:.1f} GiB RAM, "
            f"Python {sys.version.split()[0]}")


def other_load_now(seconds: float = 2.0) -> float:
    meter = CpuMeter().start()
    time.sleep(seconds)
    return meter.other_pct()


# --- databases --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PgServer:
    admin_url: str
    pid: int | None  # the postmaster when started here (its CPU is ours, not "other")


@contextlib.contextmanager
def postgres() -> Iterator[PgServer]:
    configured = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if configured:
        yield PgServer(configured, None)
        return
    if not (PG_BIN / "pg_ctl").exists():
        sys.exit(f"no PostgreSQL: set TEST_POSTGRES_URL or install postgresql-15 ({PG_BIN})")
    folder = Path(tempfile.mkdtemp(prefix="droptrack-bench-pg."))
    prefix: list[str] = []
    if os.getuid() == 0:  # PostgreSQL refuses to run as root
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
        shutil.chown(folder, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = folder / "data"
    subprocess.run([*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                    "-A", "trust", "-E", "UTF8"], check=True, capture_output=True)
    subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l",
                    str(folder / "server.log"), "-w", "-t", "60", "start", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c max_connections=300 -c shared_buffers=256MB"],
                   check=True, capture_output=True)
    pid: int | None = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        yield PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", pid)
    finally:
        subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def database_url(backend: str, server: PgServer | None, folder: Path) -> Iterator[str]:
    """A fresh empty database: a SQLite file in `folder` or a PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'droptrack.db'}"
        return
    assert server is not None
    name = f"droptrack_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"{server.admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def settings_overrides(url: str, secret_key: str, encryption_key: str,
                       **sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {
        "database": {"url": url},
        "security": {"secret_key": secret_key, "encryption_keys": [encryption_key]},
        "dispatcher": {"enabled": False}, "scheduler": {"enabled": False},
    }
    for section, values in sections.items():
        overrides[section] = {**overrides.get(section, {}), **values}
    return overrides


def open_runtime(url: str, secret_key: str = "", encryption_key: str = "",
                 **sections: dict[str, Any]) -> Runtime:
    settings = load_settings(None, environ={}, overrides=settings_overrides(
        url, secret_key or secrets.token_urlsafe(40), encryption_key or generate_key(),
        **sections))
    runtime = build_runtime(settings, clock=FrozenClock(NOW))
    migrate.upgrade(runtime.db)
    return runtime


# --- data -------------------------------------------------------------------------------------


@dataclass
class Seeded:
    store_ids: list[int]
    supplier_ids: list[int]  # REST suppliers; the last one is the CSV supplier
    history: int = 0  # delivered orders so far
    next_id: int = 1  # next explicit id for orders / supplier orders / shipments


def seed_base(runtime: Runtime, csv_folder: Path) -> Seeded:
    """Two stores, two REST suppliers and one CSV supplier, an owner account, and the live
    set, constant whatever the history: nothing in it is due at NOW."""
    with runtime.db.write() as session:
        store_ids = []
        for platform, domain in (("shopify", "lamps.myshopify.com"),
                                 ("woocommerce", "https://garden.example")):
            store = Store(platform=platform, domain=domain, name=domain, settings={},
                          created_at=NOW - timedelta(days=HISTORY_DAYS + 30), updated_at=NOW)
            session.add(store)
            session.flush()
            store_ids.append(store.id)
        supplier_ids = []
        for name, kind in (("Shenzhen Lights", "rest"), ("Hangzhou Home", "rest"),
                           ("Sheet Co", "csv")):
            settings: dict[str, Any] = {}
            if kind == "csv":
                (csv_folder / "out").mkdir(parents=True, exist_ok=True)
                (csv_folder / "in").mkdir(parents=True, exist_ok=True)
                settings = {"outbox_dir": str(csv_folder / "out"),
                            "inbox_dir": str(csv_folder / "in")}
            supplier = Supplier(name=name, kind=kind, settings=settings, created_at=NOW)
            session.add(supplier)
            session.flush()
            supplier_ids.append(supplier.id)
        accounts.create_user(session, *OWNER, NOW)
    seeded = Seeded(store_ids, supplier_ids)
    _insert_live(runtime, seeded)
    return seeded


def _order_row(seeded: Seeded, oid: int, n: int, status: str, at: datetime) -> dict[str, Any]:
    return {"id": oid, "store_id": seeded.store_ids[n % 2], "number": f"#{100000 + oid}",
            "email": f"customer{oid}@example.com", "customer_name": f"Customer {oid}",
            "status": status, "reason": None, "status_epoch": 0, "payment_status": "paid",
            "currency": "EUR", "total": 24.90, "ship_country": COUNTRIES[n % 4],
            "placed_at": at, "created_at": at, "updated_at": at}


def _supplier_order_row(seeded: Seeded, oid: int, n: int, status: str,
                        at: datetime) -> dict[str, Any]:
    supplier_id = seeded.supplier_ids[n % 3]
    return {"id": oid, "order_id": oid, "supplier_id": supplier_id,
            "idempotency_key": f"forward:{seeded.store_ids[n % 2]}:{oid}:{supplier_id}",
            "lines": [{"line_id": "1", "quantity": 1, "supplier_sku": "SZ-LAMP"}],
            "status": status, "reason": None, "forwarded_at": at, "created_at": at}


def _shipment_row(oid: int, status: str, created: datetime, last_event: datetime,
                  delivered: datetime | None, next_check: datetime | None) -> dict[str, Any]:
    number = f"LX{oid:09d}CN"
    return {"id": oid, "order_id": oid, "supplier_order_id": oid, "carrier": "China Post",
            "tracking_number": number, "tracking_url": f"https://t.example/{number}",
            "status": status, "reason": None, "status_epoch": 0,
            "status_happened_at": last_event, "last_event_at": last_event,
            "estimated_delivery_at": None, "delivered_at": delivered,
            "next_check_at": next_check, "written_status": status,
            "written_tracking_number": number, "created_at": created, "updated_at": last_event}


def _insert_live(runtime: Runtime, seeded: Seeded) -> None:
    orders, supplier_orders, shipments = [], [], []
    for n in range(LIVE_PARCELS + LIVE_FORWARDED):
        oid = seeded.next_id + n
        if n < LIVE_PARCELS:
            created = NOW - timedelta(days=3, minutes=n)
            orders.append(_order_row(seeded, oid, n, "in_transit", created))
            supplier_orders.append(_supplier_order_row(seeded, oid, n, "shipped", created))
            shipments.append(_shipment_row(oid, "in_transit", created, NOW - timedelta(days=1),
                                           None, NOW + timedelta(hours=6, minutes=n % 60)))
        else:
            created = NOW - timedelta(hours=1, minutes=n % 50)
            orders.append(_order_row(seeded, oid, n, "processing", created))
            supplier_orders.append(_supplier_order_row(seeded, oid, n, "forwarded", created))
    seeded.next_id += LIVE_PARCELS + LIVE_FORWARDED
    jobs = [{"id": n + 1, "kind": "store.writeback", "idempotency_key": f"recent:{n}",
             "payload": {"shipment_id": 1 + n % LIVE_PARCELS}, "store_id": seeded.store_ids[0],
             "serial_key": f"shipment:{1 + n % LIVE_PARCELS}", "state": "done", "attempts": 1,
             "max_attempts": 8, "next_run_at": NOW - timedelta(minutes=1 + n),
             "created_at": NOW - timedelta(minutes=1 + n),
             "updated_at": NOW - timedelta(minutes=1 + n),
             "finished_at": NOW - timedelta(minutes=1 + n)} for n in range(RECENT_DONE_JOBS)]
    deliveries: list[dict[str, Any]] = [
                  {"id": n + 1, "source": "shopify", "store_id": seeded.store_ids[0],
                   "supplier_id": None, "topic": "orders/updated", "dedupe_key": f"recent:{n}",
                   "headers": {}, "body": b"{}", "state": "processed", "error": None,
                   "received_at": NOW - timedelta(minutes=5 + n * 8),
                   "processed_at": NOW - timedelta(minutes=5 + n * 8)}
                  for n in range(RECENT_DELIVERIES)]
    with runtime.db.write() as session:
        for model, rows in ((Order, orders), (SupplierOrder, supplier_orders),
                            (Shipment, shipments), (OutboxJob, jobs),
                            (InboxDelivery, deliveries)):
            for start in range(0, len(rows), CHUNK):
                session.execute(insert(model), rows[start:start + CHUNK])


def grow_history(runtime: Runtime, seeded: Seeded, total: int) -> float:
    """Add delivered orders until there are `total`; returns the seconds it took.

    95% delivered (supplier order shipped, parcel delivered 6-20 days after dispatch, never
    checked again), 5% cancelled before shipping. Spread evenly over HISTORY_DAYS before the
    live set, oldest first."""
    started = time.perf_counter()
    span = timedelta(days=HISTORY_DAYS)
    end = NOW - timedelta(days=35)  # everything older than the retention window and alerts
    while seeded.history < total:
        count = min(CHUNK, total - seeded.history)
        orders, supplier_orders, shipments = [], [], []
        for k in range(count):
            n = seeded.history + k
            oid = seeded.next_id + k
            # n-th order of `total`... position by n only, so growing keeps old rows valid
            created = end - span + span * ((n * 7919) % 1_000_003) / 1_000_003
            cancelled = n % 20 == 19
            orders.append(_order_row(seeded, oid, n, "cancelled" if cancelled else "delivered",
                                     created))
            supplier_orders.append(_supplier_order_row(
                seeded, oid, n, "cancelled" if cancelled else "shipped", created))
            if not cancelled:
                delivered = created + timedelta(days=6 + n % 15, hours=n % 24)
                shipments.append(_shipment_row(oid, "delivered", created, delivered,
                                               delivered, None))
        with runtime.db.write() as session:
            session.execute(insert(Order), orders)
            session.execute(insert(SupplierOrder), supplier_orders)
            if shipments:
                session.execute(insert(Shipment), shipments)
        seeded.history += count
        seeded.next_id += count
    analyze(runtime)
    return time.perf_counter() - started


def analyze(runtime: Runtime) -> None:
    """Fresh statistics (PostgreSQL: also the sequences after explicit ids)."""
    with runtime.db.engine.connect() as connection:
        if runtime.db.is_sqlite:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
            return
        for table in ("orders", "supplier_orders", "shipments", "outbox", "inbox"):
            connection.exec_driver_sql(  # constant table names
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))")
        connection.commit()
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE")


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"


def append_doc(section: str) -> None:
    """Append to docs/benchmarks.md, re-reading it right before writing (others append too)."""
    existing = DOC.read_text(encoding="utf-8") if DOC.exists() else (
        "# Benchmarks\n\nMeasured numbers, appended by the scripts in `bench/`.\n")
    DOC.write_text(existing.rstrip("\n") + "\n\n" + section.strip("\n") + "\n", encoding="utf-8")
