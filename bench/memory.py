"""Peak memory (RSS) of a worker running a large batch of write-back jobs and of the web process
serving the dashboard, at 100k and 1M delivered orders in PostgreSQL (issue 10, scenario 3).

    .venv/bin/python bench/memory.py [--sizes 100000,1000000] [--jobs 2000] [--append-doc]

PostgreSQL: TEST_POSTGRES_URL / BENCH_POSTGRES_URL, else a throwaway PostgreSQL 15 (see
bench/scale_common.py).

Method: one PostgreSQL database grows from 100k to 1M delivered orders (bench/scale_common.py:
each with its supplier order and delivered parcel, plus a constant live set). At each size:
(a) worker: `--jobs` parcels of a WooCommerce store (the WooCommerce sandbox, one store, in
this process on its own thread, plain HTTP on loopback) change status (in transit → out for
delivery) and their `store.writeback` jobs are queued; a child process (this script with
`--worker-child`) runs them like the embedded dispatcher (claim up to 4 due jobs, run them on 4
threads, until none is left) with the real WooCommerce connector; its peak RSS is the child's own
VmHWM, read as it exits (not `ru_maxrss`: on Linux that includes the parent's pages from before
exec). (b) web: `integration.web.wsgi:app` under gunicorn (1 sync worker, so one
process serves everything), signed in as the owner, requests the overview, the needs-attention
page, the orders table (first page, 90% deep by keyset, status = delivered) 5 times each; its
peak RSS is the worker process's VmHWM from /proc. Target: each under 300 MB, and the same at
100k and 1M orders.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from scale_common import (
    NOW,
    OWNER,
    ROOT,
    CpuMeter,
    PgServer,
    Seeded,
    append_doc,
    database_url,
    grow_history,
    machine_summary,
    open_runtime,
    postgres,
    seed_base,
)
from sqlalchemy import insert, select, text

from core.clock import FrozenClock, SystemClock
from integration.base.config import load_settings
from integration.jobs import outbox
from integration.jobs.dispatcher import run_job
from integration.kernel.runtime import Runtime, build_runtime
from integration.security.crypto import generate_key
from integration.storage.models import Binding, Order, OutboxJob, Shipment, Store, SupplierOrder
from sandboxes.server import BackgroundServer
from sandboxes.woocommerce import build as build_woocommerce
from sandboxes.woocommerce.state import WooCommerceStore

TARGET_MB = 300.0
WORKER_THREADS = 4
PAGES = (("overview", "/admin/"), ("needs attention", "/admin/attention"),
         ("orders: first page", "/admin/orders"),
         ("orders: status = delivered", "/admin/orders?status=delivered"),
         ("orders: 90% deep (keyset)", "/admin/orders?after={deep}"))


# --- (a) the worker ---------------------------------------------------------------------------


def worker_child(url: str, secret_key: str, encryption_key: str) -> int:
    """Run every due job like the embedded dispatcher, then print what happened as JSON."""
    from scale_common import settings_overrides
    settings = load_settings(None, environ={}, overrides=settings_overrides(
        url, secret_key, encryption_key, security={"allow_loopback_http": True}))
    runtime = build_runtime(settings, clock=FrozenClock(NOW))
    started = time.perf_counter()
    ran = 0
    with ThreadPoolExecutor(WORKER_THREADS) as pool:
        while True:
            with runtime.db.write() as session:
                jobs = outbox.claim_due(session, "bench-worker", runtime.clock.now(),
                                        timedelta(seconds=600), WORKER_THREADS)
            if not jobs:
                break
            list(pool.map(lambda job: run_job(runtime, job), jobs))
            ran += len(jobs)
    seconds = time.perf_counter() - started
    with runtime.db.read() as session:
        found = session.execute(text(
            "SELECT state, count(*) FROM outbox WHERE kind = 'store.writeback' "
            "AND idempotency_key LIKE 'bench:%' GROUP BY state")).all()
        states: dict[str, int] = {str(state): int(count) for state, count in found}
    runtime.close()
    # Not ru_maxrss: on Linux a forked child's maximum includes the parent's pages from before
    # exec, so a large parent would hide a small worker. VmHWM is this process's own peak.
    print(json.dumps({"ran": ran, "seconds": seconds, "states": states,
                      "vmhwm_mb": _hwm_mb(os.getpid())}))
    return 0


@dataclass
class WooSandbox:
    server: BackgroundServer
    store: WooCommerceStore
    consumer_key: str
    consumer_secret: str


@contextlib.contextmanager
def woocommerce_sandbox() -> Any:
    app = build_woocommerce(SystemClock(), public_url="http://127.0.0.1",
                            webhook_delivery="queued")
    server = BackgroundServer(app)
    store: WooCommerceStore = app.extensions["sandbox"]
    store.set_site_url(server.url)
    server.start()
    key = store.create_key()
    try:
        yield WooSandbox(server, store, key.consumer_key, key.consumer_secret)
    finally:
        server.stop()


def queue_writebacks(runtime: Runtime, seeded: Seeded, woo: WooSandbox, count: int,
                     batch: int) -> int:
    """`count` live WooCommerce orders whose parcel just changed status, with their jobs."""
    with runtime.db.write() as session:
        store_id = session.scalar(select(Store.id).where(Store.domain == woo.server.url))
        if store_id is None:
            store = Store(platform="woocommerce", domain=woo.server.url, name="bench woo",
                          credentials_encrypted=runtime.secrets.encrypt_json({
                              "consumer_key": woo.consumer_key,
                              "consumer_secret": woo.consumer_secret}),
                          settings={"woocommerce": {"status_updates": "batched"}},
                          created_at=NOW, updated_at=NOW)
            session.add(store)
            session.flush()
            store_id = store.id
    first = seeded.next_id
    orders, links, supplier_orders, shipments, jobs = [], [], [], [], []
    for n in range(count):
        placed = woo.store.place_order()
        oid = first + n
        at = NOW - timedelta(days=4)
        orders.append({"id": oid, "store_id": store_id, "number": f"#{placed.id}",
                       "email": "c@example.com", "customer_name": "C", "status": "in_transit",
                       "reason": None, "status_epoch": 0, "payment_status": "paid",
                       "currency": "USD", "total": 19.5, "ship_country": "US",
                       "placed_at": at, "created_at": at, "updated_at": at})
        links.append({"owner_type": "store", "owner_id": store_id, "kind": "order",
                      "external_id": str(placed.id), "internal_id": oid,
                      "external_updated_at": None, "synced_at": at})
        supplier_orders.append({
            "id": oid, "order_id": oid, "supplier_id": seeded.supplier_ids[0],
            "idempotency_key": f"bench:{batch}:{oid}", "lines": [], "status": "shipped",
            "reason": None, "forwarded_at": at, "created_at": at})
        number = f"LX{oid:09d}CN"
        shipments.append({
            "id": oid, "order_id": oid, "supplier_order_id": oid, "carrier": "China Post",
            "tracking_number": number, "tracking_url": f"https://t.example/{number}",
            "status": "out_for_delivery", "reason": None, "status_epoch": 0,
            "status_happened_at": NOW - timedelta(hours=1), "last_event_at": NOW,
            "estimated_delivery_at": None, "delivered_at": None,
            "next_check_at": NOW + timedelta(hours=2), "written_status": "in_transit",
            "written_tracking_number": number, "created_at": at, "updated_at": NOW})
        jobs.append({"kind": "store.writeback", "idempotency_key": f"bench:{batch}:{oid}",
                     "payload": {"shipment_id": oid, "change": "status"},
                     "store_id": store_id, "serial_key": f"shipment:{oid}", "state": "pending",
                     "attempts": 0, "max_attempts": 8, "next_run_at": NOW, "created_at": NOW,
                     "updated_at": NOW})
    seeded.next_id += count
    with runtime.db.write() as session:
        for model, rows in ((Order, orders), (Binding, links), (SupplierOrder, supplier_orders),
                            (Shipment, shipments), (OutboxJob, jobs)):
            session.execute(insert(model), rows)
    return store_id


def run_worker(url: str, secret_key: str, encryption_key: str) -> tuple[float, dict[str, Any]]:
    """(peak RSS in MB: the child's own VmHWM, the child's report)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker-child", url,
               "--secret-key", secret_key, "--encryption-key", encryption_key]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=ROOT)
    out = b""
    err = b""

    def drain() -> None:
        nonlocal out, err
        out, err = process.communicate()

    reader = threading.Thread(target=drain)
    reader.start()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    if process.returncode != 0:
        raise RuntimeError(f"worker child failed:\n{err.decode()[-3000:]}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    del usage  # ru_maxrss counts the pages the child had before exec (the parent's size)
    return float(report["vmhwm_mb"]), report


# --- (b) the web process ----------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry.name}/stat").read_text().rpartition(")")[2].split()
                if int(stat[1]) == pid:
                    found.append(int(entry.name))
    return found


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_web(url: str, secret_key: str, encryption_key: str, deep_after: int,
                workdir: Path) -> tuple[float, list[tuple[str, float]]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPTRACK_")}
    env.update({"DROPTRACK_DATABASE_URL": url, "DROPTRACK_SECURITY_SECRET_KEY": secret_key,
                "DROPTRACK_SECURITY_ENCRYPTION_KEYS": encryption_key,
                "DROPTRACK_APP_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "DROPTRACK_DISPATCHER_ENABLED": "false", "DROPTRACK_SCHEDULER_ENABLED": "false"})
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    log = (workdir / "gunicorn.log").open("wb")
    process = subprocess.Popen([gunicorn, "-w", "1", "--worker-class", "sync", "--timeout", "120",
                                "-b", f"127.0.0.1:{port}", "integration.web.wsgi:app"], env=env,
                               cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    timings: list[tuple[str, float]] = []
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as client:
            for _ in range(150):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/healthz").status_code == 200:
                        break
                time.sleep(0.2)
            login = client.get("/admin/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', login)
            assert token, "no CSRF token on the login page"
            signed = client.post("/admin/login", data={
                "email": OWNER[0], "password": OWNER[1], "csrf_token": token.group(1)})
            assert signed.status_code == 302, f"sign-in failed: {signed.status_code}"
            for label, path in PAGES:
                samples = []
                for _ in range(5):
                    started = time.perf_counter()
                    page = client.get(path.format(deep=deep_after))
                    samples.append(time.perf_counter() - started)
                    assert page.status_code == 200, (path, page.status_code)
                timings.append((label, statistics.median(samples) * 1000))
        workers = _children(process.pid)
        peak = max(_hwm_mb(pid) for pid in workers) if workers else float("nan")
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()
    return peak, timings


def _free_port() -> int:
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- run --------------------------------------------------------------------------------------


@dataclass
class Row:
    size: int
    what: str
    peak_mb: float
    detail: str
    other_cpu: float


def run(server: PgServer, sizes: list[int], jobs: int, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    secret_key, encryption_key = secrets.token_urlsafe(40), generate_key()
    with database_url("postgresql", server, workdir) as url, woocommerce_sandbox() as woo:
        runtime = open_runtime(url, secret_key, encryption_key,
                               security={"allow_loopback_http": True})
        try:
            seeded = seed_base(runtime, workdir / "csv")
            for batch, size in enumerate(sizes):
                seconds = grow_history(runtime, seeded, size)
                print(f"grew to {size:,} delivered orders in {seconds:.0f} s", file=sys.stderr)
                queue_writebacks(runtime, seeded, woo, jobs, batch)
                meter = CpuMeter(roots=(server.pid,) if server.pid else ()).start()
                peak, report = run_worker(url, secret_key, encryption_key)
                done = report["states"].get("done", 0)
                rows.append(Row(size, f"(a) worker: {jobs:,} WooCommerce write-backs", peak,
                                f"{done:,} done, states {report['states']}, "
                                f"{report['seconds']:.0f} s, "
                                f"{jobs / report['seconds']:.1f} jobs/s", meter.other_pct()))
                print(f"  worker: {peak:.0f} MB, {report}", file=sys.stderr)
                with runtime.db.read() as session:
                    deep = session.scalar(select(Order.id).order_by(Order.id.desc())
                                          .offset(int(seeded.history * 0.9)).limit(1))
                meter = CpuMeter(roots=(server.pid,) if server.pid else ()).start()
                web_peak, timings = measure_web(url, secret_key, encryption_key, int(deep or 1),
                                                workdir)
                rows.append(Row(size, "(b) web: dashboard pages (gunicorn, 1 sync worker)",
                                web_peak, "; ".join(f"{label} {ms:.0f} ms p50"
                                                    for label, ms in timings),
                                meter.other_pct()))
                print(f"  web: {web_peak:.0f} MB, {timings}", file=sys.stderr)
        finally:
            runtime.close()
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| delivered orders | process | peak RSS MB | under 300 MB | detail | other CPU |",
             "|---:|---|---:|:---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r.size:,} | {r.what} | {r.peak_mb:.0f} | "
                     f"{'yes' if r.peak_mb < TARGET_MB else '**no**'} | {r.detail} | "
                     f"{r.other_cpu:.0f}% |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--append-doc", action="store_true")
    parser.add_argument("--worker-child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--secret-key", help=argparse.SUPPRESS)
    parser.add_argument("--encryption-key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_child:
        return worker_child(args.worker_child, args.secret_key, args.encryption_key)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="dt-memory.") as folder, postgres() as server:
        rows = run(server, sizes, args.jobs, Path(folder))
    body = (f"Run {started:%Y-%m-%d %H:%M} UTC; machine: {machine_summary()}; PostgreSQL 15; "
            "'other CPU': % of one CPU used by processes outside this benchmark (and its "
            "PostgreSQL) while the row was measured.\n\n" + table(rows))
    print(body)
    if args.append_doc:
        method = (__doc__ or "").split("Method: ", 1)[1].strip()
        append_doc("### Memory (bench/memory.py)\n\n"
                   f"`.venv/bin/python bench/memory.py --sizes {args.sizes} --jobs {args.jobs}`"
                   f"\n\n{method}\n\n{body}\n")
    return 0 if all(r.peak_mb < TARGET_MB for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
