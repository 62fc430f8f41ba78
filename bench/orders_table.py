"""How fast the dashboard's orders table answers with 100,000 orders in PostgreSQL.

    .venv/bin/python bench/orders_table.py [--orders 100000] [--repeat 30] [--append-doc]

PostgreSQL: the admin URL in TEST_POSTGRES_URL (or BENCH_POSTGRES_URL), e.g. the throwaway
server scripts/test starts; without one, a throwaway PostgreSQL 15 is started here the same way
(initdb in a temporary folder, trust auth on a free loopback port, run as `postgres` when root)
and removed afterwards. The benchmark creates its own database and drops it at the end.

Method: 100,000 orders over 2 stores and 3 suppliers, spread over a year (90% forwarded, 70%
with a parcel, a realistic status mix), then ANALYZE. Each case is requested `--repeat` times
through Flask's test client as a signed-in owner (the whole page: queries, template, HTML) after
2 warm-up requests; p50/p95 of the wall time. The baseline is the same page of the same query
paginated with OFFSET instead of the keyset (`id < cursor`), timed at the SQL level, next to the
keyset query timed the same way. Target: every page under 300 ms.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scale_common import postgres as throwaway_postgres  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from integration.accounts import owners as accounts  # noqa: E402
from integration.base.config import load_settings  # noqa: E402
from integration.kernel.runtime import Runtime, build_runtime  # noqa: E402
from integration.security.crypto import generate_key  # noqa: E402
from integration.storage import migrate  # noqa: E402
from integration.storage.models import (  # noqa: E402
    Order,
    Shipment,
    Store,
    Supplier,
    SupplierOrder,
)
from integration.web.admin.queries import OrderFilters, order_page_query  # noqa: E402
from integration.web.app import create_app  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
TARGET_MS = 300.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)
EMAIL_PASSWORD = ("owner@bench.example", "bench password 123")
STATUS_MIX = [("delivered", None, 55), ("in_transit", None, 15), ("processing", None, 10),
              ("shipped", None, 6), ("pending", "payment_issue", 3),
              ("pending", "out_of_stock", 1), ("undelivered", "invalid_address", 2),
              ("cancelled", None, 4), ("info_received", None, 4)]


# --- PostgreSQL -------------------------------------------------------------------------------


@contextmanager
def postgres() -> Iterator[str]:
    """An admin URL: the configured server's, or a throwaway one's (see scale_common)."""
    with throwaway_postgres() as server:
        yield server.admin_url


@contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    name = f"droptrack_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# --- data -------------------------------------------------------------------------------------


def _pick_status(rng: random.Random) -> tuple[str, str | None]:
    roll = rng.randrange(100)
    for status, reason, share in STATUS_MIX:
        if roll < share:
            return status, reason
        roll -= share
    return "delivered", None


def seed(runtime: Runtime, count: int, rng: random.Random) -> dict[str, Any]:
    """`count` orders; returns values the cases look up (a number, an e-mail, a parcel...)."""
    with runtime.db.write() as session:
        store_ids = []
        for index, domain in enumerate(("lamps.myshopify.com", "https://garden.example")):
            store = Store(platform="shopify" if index == 0 else "woocommerce", domain=domain,
                          name=domain, settings={}, created_at=T0, updated_at=T0)
            session.add(store)
            session.flush()
            store_ids.append(store.id)
        supplier_ids = []
        for name in ("Shenzhen Lights", "Hangzhou Home", "Sheet Co"):
            supplier = Supplier(name=name, kind="rest", settings={}, created_at=T0)
            session.add(supplier)
            session.flush()
            supplier_ids.append(supplier.id)
        accounts.create_user(session, *EMAIL_PASSWORD, T0)
    step = timedelta(days=365) / count
    batch = 5000
    for start in range(0, count, batch):
        orders = []
        for n in range(start, min(start + batch, count)):
            status, reason = _pick_status(rng)
            created = T0 + step * n
            orders.append({
                "store_id": store_ids[n % 2], "number": f"#{100000 + n}",
                "email": f"customer{n}@example.com", "customer_name": f"Customer {n}",
                "status": status, "reason": reason, "status_epoch": 0,
                "payment_status": "paid", "currency": "EUR", "total": 24.90,
                "ship_country": ("US", "DE", "GB", "FR")[n % 4], "placed_at": created,
                "created_at": created, "updated_at": created})
        with runtime.db.write() as session:
            ids = list(session.scalars(insert(Order).returning(Order.id), orders))
            supplier_rows, positions = [], []
            for order_id, n in zip(ids, range(start, start + len(ids)), strict=True):
                if n % 10 == 9:
                    continue  # 10% never forwarded
                supplier_rows.append({
                    "order_id": order_id, "supplier_id": supplier_ids[n % 3],
                    "idempotency_key": f"forward:{store_ids[n % 2]}:{order_id}:"
                                       f"{supplier_ids[n % 3]}",
                    "lines": [{"line_id": "1", "quantity": 1, "supplier_sku": "SZ-LAMP"}],
                    "status": "forwarded", "created_at": T0 + step * n})
                positions.append((order_id, n))
            so_ids = list(session.scalars(insert(SupplierOrder).returning(SupplierOrder.id),
                                          supplier_rows))
            shipments = [{
                "order_id": order_id, "supplier_order_id": so_id, "carrier": "China Post",
                "tracking_number": f"LX{n:09d}CN", "tracking_url": "",
                "status": "in_transit", "status_epoch": 0, "created_at": T0 + step * n,
                "updated_at": T0 + step * n}
                for so_id, (order_id, n) in zip(so_ids, positions, strict=True) if n % 10 < 7]
            session.execute(insert(Shipment), shipments)
    with runtime.db.engine.connect() as connection:
        connection.execute(text("COMMIT"))
        connection.execute(text("ANALYZE"))
    middle = count // 2
    with runtime.db.read() as session:
        ids = list(session.scalars(select(Order.id).order_by(Order.id.desc())))
    return {"store": store_ids[0], "supplier": supplier_ids[1],
            "number": f"#{100000 + middle}", "email": f"customer{middle}@example.com",
            "tracking": f"LX{middle - middle % 10 + 3:09d}CN",
            # Keyset: ids below the cursor; the same page by OFFSET skips the cursor row too.
            "deep_after": ids[int(len(ids) * 0.9)], "rows_before_deep": int(len(ids) * 0.9) + 1}


# --- timing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    params: dict[str, str]
    filters: OrderFilters
    after: int | None = None
    offset: int = 0  # the same page by OFFSET (the baseline)


@dataclass(frozen=True)
class Result:
    case: Case
    http_p50: float
    http_p95: float
    keyset_p50: float
    offset_p50: float
    rows: int


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000)


def _time(action: Callable[[], object], repeat: int) -> list[float]:
    for _ in range(2):
        action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def cases(found: dict[str, Any]) -> list[Case]:
    may = datetime(2026, 5, 1, tzinfo=UTC)
    return [
        Case("first page", {}, OrderFilters()),
        Case("deep page (90% down, keyset)", {"after": str(found["deep_after"])},
             OrderFilters(), found["deep_after"], found["rows_before_deep"]),
        Case("status = delivered (common)", {"status": "delivered"},
             OrderFilters(status="delivered")),
        Case("status = pending, reason = out_of_stock (rare)",
             {"status": "pending", "reason": "out_of_stock"},
             OrderFilters(status="pending", reason="out_of_stock")),
        Case("store + supplier", {"store": str(found["store"]),
                                  "supplier": str(found["supplier"])},
             OrderFilters(store_id=found["store"], supplier_id=found["supplier"])),
        Case("received 1-7 May (old dates)", {"from": "2026-05-01", "to": "2026-05-07"},
             OrderFilters(created_from=may, created_to=may + timedelta(days=7))),
        Case("search: order number", {"q": found["number"]}, OrderFilters(q=found["number"])),
        Case("search: e-mail", {"q": found["email"]}, OrderFilters(q=found["email"])),
        Case("search: tracking number", {"q": found["tracking"]},
             OrderFilters(q=found["tracking"])),
        Case("search: no match", {"q": "#nothing-like-this"},
             OrderFilters(q="#nothing-like-this")),
    ]


def measure(runtime: Runtime, found: dict[str, Any], repeat: int, page_size: int
            ) -> list[Result]:
    app = create_app(runtime=runtime)
    client = app.test_client()
    login = client.get("/admin/login").get_data(as_text=True)
    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = client.post("/admin/login", data={
        "email": EMAIL_PASSWORD[0], "password": EMAIL_PASSWORD[1], "csrf_token": token})
    assert signed_in.status_code == 302, "the benchmark's owner could not sign in"
    results = []
    for case in cases(found):
        url = "/admin/orders" + (f"?{urlencode(case.params)}" if case.params else "")
        page = client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        http = _time(partial(client.get, url), repeat)
        keyset = order_page_query(case.filters, case.after, page_size)
        by_offset = (select(Order).where(*case.filters.conditions())
                     .order_by(Order.id.desc()).offset(case.offset).limit(page_size + 1))

        def run(query: Any) -> list[int]:
            with Session(runtime.db.engine) as session:
                return [row.id for row in session.scalars(query)]

        rows = run(keyset)
        assert rows == run(by_offset), f"{case.name}: keyset and OFFSET pages differ"
        results.append(Result(case, *_ms(http), _ms(_time(partial(run, keyset), repeat))[0],
                              _ms(_time(partial(run, by_offset), repeat))[0],
                              min(len(rows), page_size)))
    return results


def table(results: list[Result]) -> str:
    lines = ["| case | page p50 ms | page p95 ms | keyset SQL p50 ms | OFFSET SQL p50 ms "
             "(baseline) | rows | under 300 ms |",
             "|---|---:|---:|---:|---:|---:|:---:|"]
    for r in results:
        lines.append(f"| {r.case.name} | {r.http_p50:.1f} | {r.http_p95:.1f} | "
                     f"{r.keyset_p50:.1f} | {r.offset_p50:.1f} | {r.rows} | "
                     f"{'yes' if r.http_p95 < TARGET_MS else '**no**'} |")
    return "\n".join(lines)


def append_doc(body: str, orders: int, repeat: int, seconds: float) -> None:
    method = (__doc__ or "").split("Method: ", 1)[1].strip()
    section = (f"\n## Orders table with {orders:,} orders (bench/orders_table.py)\n\n"
               f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on PostgreSQL "
               f"{_server_version()}, Python {sys.version.split()[0]}, {repeat} requests per "
               f"case (seeding took {seconds:.0f} s).\n\n{method}\n\n{body}\n")
    existing = DOC.read_text(encoding="utf-8") if DOC.exists() else (
        "# Benchmarks\n\nMeasured numbers, appended by the scripts in `bench/`.\n")
    DOC.write_text(existing.rstrip("\n") + "\n" + section, encoding="utf-8")


_VERSION: list[str] = []


def _server_version() -> str:
    return _VERSION[0] if _VERSION else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--append-doc", action="store_true",
                        help=f"append the method and results to {DOC.relative_to(ROOT)}")
    args = parser.parse_args()
    with postgres() as admin_url, bench_database(admin_url) as url:
        settings = load_settings(None, environ={}, overrides={
            "database": {"url": url},
            "security": {"secret_key": secrets.token_urlsafe(40),
                         "encryption_keys": [generate_key()]}})
        runtime = build_runtime(settings)
        try:
            migrate.upgrade(runtime.db)
            with runtime.db.read() as session:
                _VERSION.append(str(session.scalar(text("SHOW server_version"))))
            started = time.perf_counter()
            found = seed(runtime, args.orders, random.Random(8))
            seeded = time.perf_counter() - started
            with runtime.db.read() as session:
                total = session.scalar(select(func.count(Order.id)))
            print(f"seeded {total:,} orders in {seeded:.0f} s; timing {args.repeat} requests "
                  "per case", file=sys.stderr)
            results = measure(runtime, found, args.repeat, settings.admin.page_size)
        finally:
            runtime.close()
    body = table(results)
    print(body)
    if args.append_doc:
        append_doc(body, args.orders, args.repeat, seeded)
        print(f"appended to {DOC}", file=sys.stderr)
    return 0 if all(r.http_p95 < TARGET_MS for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
