"""Webhook intake at scale (issue 10, scenario 4): signed orders/create webhooks to supplier
orders, end to end, on PostgreSQL with gunicorn -w 4, one scheduler and three Dramatiq workers.

    .venv/bin/python bench/intake_at_scale.py [--rates 20,40,80 --duration 30]

What it does, in one run:

1. starts a throwaway PostgreSQL (bench/scale_common.py), a Redis (redis-server on a free
   port) and the reference supplier sandbox as its own process (bench/supplier_sandbox.py: no
   rate limit, ample stock); prepares DropTrack's database (migrations, one Shopify store with
   a known webhook secret, one REST supplier (the sandbox), SKU mappings for every SKU the
   payloads use), so that every orders/create delivery is paid, routable and forwarded;
2. starts DropTrack's web app (`gunicorn -w 4 integration.web.wsgi:app`, dispatcher and scheduler
   off, as docs/deploy.md says), `droptrack scheduler` and 3 x `droptrack worker` (1 process,
   4 threads each, the defaults), and the bare HMAC endpoint (bench/bare_endpoint.py) under the
   same gunicorn settings;
3. end to end, per rate in --rates: signed deliveries at that fixed rate for --duration
   seconds (open loop, bench/webhook_intake.py's generator), a sampler recording the outbox
   backlog, the Redis queue and the supplier orders every second, then waits for the backlog
   to drain; end-to-end latency per order is the sandbox's creation time of its supplier
   order minus the inbox row's `received_at` (both wall clocks of this machine);
4. baseline, same run: the scheduler and workers stopped, the intake alone at the same rates
   and at full load (wrk, closed loop), and the bare endpoint at full load;
5. checks exactly once: every order acknowledged in the end-to-end phases has exactly one
   order at the supplier and one forwarded supplier order in DropTrack, and the supplier holds
   nothing else; every intake-alone acknowledgement has its inbox row;
6. prints markdown tables: throughput and latency per phase, CPU per component (% of one
   CPU: web, workers, scheduler, PostgreSQL, Redis, supplier sandbox, load generator, other
   processes on the machine) and the backlog over time of the highest rate.

Reused, not copied: payloads, signing, the open-loop generator, wrk and gunicorn handling from
bench/webhook_intake.py; PostgreSQL from bench/scale_common.py; CPU from bench/cpu_meter.py.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import http.client
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import redis
from cpu_meter import CLOCK_TICKS, CpuMeter, tree_peak_rss_mb, tree_ticks
from scale_common import (
    PgServer,
    Seeded,
    database_url,
    grow_history,
    machine_summary,
    postgres,
)
from sqlalchemy import Engine, create_engine, func, select
from webhook_intake import (
    BENCH_DIR,
    PRODUCTS,
    REPO,
    WRK_SCRIPT,
    Outcome,
    PhaseResult,
    RequestFactory,
    Server,
    SignedRequest,
    fmt,
    free_port,
    gunicorn_args,
    open_loop,
    percentile,
    run_wrk,
    start_gunicorn,
    stop_server,
    summarize,
    temp_dir,
    venv_bin,
    wait_for_quiet,
    wait_healthy,
    warm_up,
    write_wrk_data,
)

from integration.accounts import stores, suppliers
from integration.base.config import load_settings
from integration.engine.mappings import import_csv
from integration.kernel.runtime import Runtime, build_runtime
from integration.security.crypto import generate_key
from integration.storage import migrate
from integration.storage.models import InboxDelivery, Order, OutboxJob, SupplierOrder
from sandboxes.supplier import DEFAULT_API_KEY

SHOP = "bench.myshopify.com"
QUEUE = "droptrack-outbox"  # integration.jobs.workers.QUEUE (not imported: that declares a broker)
REDIS_QUEUE_MESSAGES = f"dramatiq:{QUEUE}.msgs"  # queued + fetched but not yet acknowledged
# Each SKU of bench/webhook_intake.py's payloads goes to one catalogue SKU of the sandbox.
SUPPLIER_SKUS = ("MUG-CERAMIC-11OZ", "LAMP-SUNSET-02", "CASE-IPHONE15-CLEAR", "TEE-BLACK-M")
TARGET_ORDERS_PER_S = 50.0
TARGET_E2E_P99_S = 5.0
NOISY_PEAK_PCT = 50.0
SUSTAINED_DRAIN_S = 5.0  # a rate is sustained when the backlog is gone this soon after the load


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_process(name: str, command: Sequence[str], env: dict[str, str],
                  workdir: Path) -> Proc:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        # Own session: stopping it reaches its children (dramatiq forks its worker process).
        process = subprocess.Popen(list(command), env=env, cwd=workdir, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Proc(name, process, log_path)


def stop_process(proc: Proc, timeout: float = 30.0) -> None:
    process = proc.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the leader stops its own children gracefully
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"{proc.name}: no exit after {timeout:.0f}s, killing", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the session this script created
            process.wait(timeout=10)
    print(f"stopped {proc.name} (exit {process.returncode})", file=sys.stderr)


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               alive: Sequence[Proc] = ()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in alive:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.process.returncode}:\n"
                                   f"{proc.log_tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException, redis.RedisError):
            if condition():
                return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def start_redis(workdir: Path) -> tuple[Proc, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install -y redis-server")
    port = free_port()
    proc = start_process("redis", [binary, "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                         child_env(), workdir)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        wait_until(lambda: bool(client.ping()), 20, "Redis", [proc])
    finally:
        client.close()
    return proc, url


@dataclass
class Sandbox:
    proc: Proc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def orders(self) -> list[dict[str, Any]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", "/bench/orders",
                         headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"supplier sandbox answered {response.status}: {body[:200]!r}")
        orders: list[dict[str, Any]] = json.loads(body)
        return orders


# Whose code the DropTrack processes run: this checkout, or (--baseline-source) another
# checkout of the same schema, e.g. `git worktree add /tmp/base 5dc30e7`, run first in the
# same invocation for a before/after under the same conditions.
CODE = [REPO]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every process started here: the benchmarked checkout's code first
    (so a copy of the repository, e.g. `git archive HEAD`, benchmarks itself, not the
    installed one)."""
    path = os.pathsep.join(p for p in (str(CODE[0]), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **(extra or {}), "PYTHONPATH": path}


def source_note() -> str:
    """Which code ran: the commit and any uncommitted change of the checkout."""
    try:
        head = subprocess.run(["git", "-C", str(CODE[0]), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(CODE[0]), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return f"{CODE[0]} (not a git checkout)"
    changed = [line[3:] for line in dirty.stdout.splitlines()]
    return (f"{CODE[0]}: commit {head.stdout.strip()}"
            + (f", uncommitted changes in {', '.join(changed)}" if changed else ", clean"))


def start_sandbox(workdir: Path) -> Sandbox:
    port = free_port()
    env = child_env()
    proc = start_process("supplier", [sys.executable, str(BENCH_DIR / "supplier_sandbox.py"),
                                      str(port)], env, workdir)
    sandbox = Sandbox(proc, port)
    wait_until(lambda: isinstance(sandbox.orders(), list), 30, "the supplier sandbox", [proc])
    return sandbox


def droptrack_env(workdir: Path, db_url: str, redis_url: str,
                  embedded: bool = False) -> dict[str, str]:
    """Production mode on PostgreSQL with Redis; web processes run neither dispatcher nor
    scheduler (the scaled-out layout of docs/deploy.md). `embedded`: the default layout, one
    `droptrack serve` with its dispatcher and scheduler. Everything else at its default."""
    config = workdir / "droptrack.toml"
    config.write_text("[app]\nmode = \"production\"\n")
    env = {k: v for k, v in child_env().items() if not k.startswith("DROPTRACK_")}
    env.update({
        "DROPTRACK_CONFIG": str(config),
        "DROPTRACK_DATABASE_URL": db_url,
        "DROPTRACK_WORKERS_REDIS_URL": redis_url,
        "DROPTRACK_SECURITY_ALLOW_LOOPBACK_HTTP": "true",  # the sandbox is http://127.0.0.1
        "DROPTRACK_SECURITY_SECRET_KEY": secrets.token_urlsafe(48),
    })
    if not embedded:
        env.update({"DROPTRACK_DISPATCHER_ENABLED": "false",
                    "DROPTRACK_SCHEDULER_ENABLED": "false"})
    env["DROPTRACK_SECURITY_ENCRYPTION_KEYS"] = generate_key()
    return env


def shops(webhook_secret: str, count: int) -> list[tuple[str, str]]:
    """(shop domain, webhook secret) of each benchmark store; the first is SHOP."""
    return [(SHOP, webhook_secret), *((f"bench-{k}.myshopify.com", f"{webhook_secret}-{k}")
                                      for k in range(1, count))]


def prepare_database(env: dict[str, str], webhook_secret: str, sandbox: Sandbox,
                     stores: int = 1, history: int = 0) -> tuple[int, float]:
    """What `droptrack db upgrade`, `stores add-shopify`, `suppliers add-rest --no-push` and
    `mappings import` do, in this process (five CLI start-ups cost more than the smoke test's
    whole load phase). For another checkout (--baseline-source) it runs in a child process
    on that checkout's code, so that the database gets that checkout's migrations. `stores`
    Shopify stores (see `shops`), `history` past orders (`seed_history`); returns the first
    store's id and the seconds the history took."""
    if CODE[0] != REPO:
        # BENCH_CODE: scale_common (imported by this module) puts that checkout, not this
        # one, first on the path; `-c` also puts the working folder first.
        child = subprocess.run(
            [sys.executable, "-c", _PREPARE_IN_CHILD, str(BENCH_DIR), webhook_secret,
             sandbox.url, str(stores), str(history)],
            env={**child_env(env), "BENCH_CODE": str(CODE[0])},
            capture_output=True, text=True, timeout=300, check=False, cwd=CODE[0])
        if child.returncode != 0:
            raise RuntimeError(f"preparing the database failed: {child.stderr[-2000:]}")
        package, store_id, seconds = child.stdout.strip().splitlines()[-1].split()
        if not Path(package).is_relative_to(CODE[0]):
            raise RuntimeError(f"the database was prepared by {package}, not {CODE[0]}")
        return int(store_id), float(seconds)
    return prepare_here(env, webhook_secret, sandbox.url, stores, history)


_PREPARE_IN_CHILD = """import os, sys
sys.path.insert(0, sys.argv[1])
from intake_at_scale import prepare_here
import integration
store_id, seconds = prepare_here(dict(os.environ), sys.argv[2], sys.argv[3],
                                 int(sys.argv[4]), int(sys.argv[5]))
print(os.path.dirname(integration.__file__), store_id, seconds)
"""


def check_imported_code(env: dict[str, str], workdir: Path) -> None:
    """The DropTrack processes (console scripts of this venv, gunicorn, `python -m dramatiq`,
    started in `workdir` with `env`) import the benchmarked checkout's package, not the one
    installed in the venv (an editable install of this checkout)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import integration; print(integration.__file__)"], env=env,
        cwd=workdir, capture_output=True, text=True, timeout=60, check=True)
    package = Path(probe.stdout.strip()).parent
    if not package.is_relative_to(CODE[0]):
        raise RuntimeError(f"DropTrack processes would import {package}, not {CODE[0]}")


def prepare_here(env: dict[str, str], webhook_secret: str, sandbox_url: str, stores: int = 1,
                 history: int = 0) -> tuple[int, float]:
    runtime = build_runtime(load_settings(environ=env))
    try:
        store_ids, supplier_id = prepare_stores(runtime, webhook_secret, sandbox_url, stores)
        return store_ids[0], seed_history(runtime, store_ids, supplier_id, history)
    finally:
        runtime.close()


def prepare_runtime(runtime: Runtime, webhook_secret: str, sandbox_url: str) -> int:
    """Migrations, the Shopify store (its id), the REST supplier at `sandbox_url` and a
    mapping for every SKU the payloads use."""
    return prepare_stores(runtime, webhook_secret, sandbox_url, 1)[0][0]


def prepare_stores(runtime: Runtime, webhook_secret: str, sandbox_url: str,
                   count: int) -> tuple[list[int], int]:
    """Migrations, `count` Shopify stores (`shops`), the REST supplier at `sandbox_url` and,
    for each store, a mapping for every SKU the payloads use; the stores' and supplier's ids."""
    migrate.upgrade(runtime.db)
    store_ids = [stores.add_shopify_store(runtime, shop, "t", secret)
                 for shop, secret in shops(webhook_secret, count)]
    supplier_id = suppliers.add_rest_supplier(runtime, "Reference", sandbox_url,
                                              DEFAULT_API_KEY)
    csv = "sku,supplier,supplier_sku\n" + "".join(
        f"{product[1]},Reference,{supplier_sku}\n"
        for product, supplier_sku in zip(PRODUCTS, SUPPLIER_SKUS, strict=True))
    for store_id in store_ids:
        with runtime.db.write() as session:
            report = import_csv(session, store_id, csv, runtime.clock.now())
        if report.errors:
            raise RuntimeError(f"mappings refused: {report.errors}")
    return store_ids, supplier_id


def seed_history(runtime: Runtime, store_ids: Sequence[int], supplier_id: int,
                 history: int) -> float:
    """`history` past orders, each with its supplier order and (95 %) a delivered parcel,
    nothing due (bench/scale_common.py's Core-insert seeding, over the first and the last
    store); the seconds it took, VACUUM ANALYZE included."""
    if history <= 0:
        return 0.0
    with runtime.db.read() as session:
        next_id = (session.scalar(select(func.max(Order.id))) or 0) + 1
    seeded = Seeded([store_ids[0], store_ids[-1]], [supplier_id] * 3, next_id=next_id)
    return grow_history(runtime, seeded, history)


# ---------------------------------------------------------------------------------------------
# Measuring: CPU per component, backlog over time
# ---------------------------------------------------------------------------------------------


class Components:
    """The process trees whose CPU is reported apart (name -> root pids), live updated."""

    def __init__(self, pg_pid: int | None) -> None:
        self.pg_pid = pg_pid
        self.roots: dict[str, list[int]] = {}
        self.lock = threading.Lock()

    def add(self, name: str, pid: int) -> None:
        with self.lock:
            self.roots.setdefault(name, []).append(pid)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            roots = {name: tuple(pids) for name, pids in self.roots.items()}
        ticks = {name: tree_ticks(pids) for name, pids in roots.items()}
        ticks["load generator"] = tree_ticks((os.getpid(),)) - sum(ticks.values())
        if self.pg_pid is not None:
            ticks["PostgreSQL"] = tree_ticks((self.pg_pid,))
        return ticks


@dataclass
class CpuSplit:
    """% of one CPU per component over an interval, and what other processes used."""

    components: Components
    started: float = 0.0
    ticks: dict[str, int] = field(default_factory=dict)
    meter: CpuMeter = field(default_factory=CpuMeter)

    def start(self) -> CpuSplit:
        roots = (self.components.pg_pid,) if self.components.pg_pid is not None else ()
        self.meter = CpuMeter(roots=roots).start()
        self.ticks = self.components.snapshot()
        self.started = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.started
        now = self.components.snapshot()
        split = {name: max(0.0, 100.0 * (now[name] - self.ticks.get(name, 0))
                           / CLOCK_TICKS / elapsed) for name in now}
        split["other"] = self.meter.other_pct()
        return split


@dataclass
class Sample:
    at: float  # wall clock (time.time())
    pending: Counter[str]  # pending outbox jobs by kind
    running: int
    redis_messages: int
    forwarded: int  # supplier orders forwarded so far
    received: int  # inbox rows so far
    other_cpu_pct: float


class Monitor:
    """Samples the backlog (outbox, Redis) and progress every `interval` seconds."""

    def __init__(self, db: Engine, redis_url: str, components: Components,
                 interval: float = 1.0) -> None:
        self.db = db
        self.redis = redis.Redis.from_url(redis_url)
        self.components = components
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.redis.close()

    def sample(self, other_cpu_pct: float = math.nan) -> Sample:
        with self.db.connect() as connection:
            pending: Counter[str] = Counter()
            running = 0
            for kind, state, count in connection.execute(
                    select(OutboxJob.kind, OutboxJob.state, func.count())
                    .where(OutboxJob.state.in_(("pending", "running")))
                    .group_by(OutboxJob.kind, OutboxJob.state)):
                if state == "pending":
                    pending[kind] += count
                else:
                    running += count
            forwarded = connection.scalar(select(func.count()).select_from(SupplierOrder)
                                          .where(SupplierOrder.status == "forwarded")) or 0
            received = connection.scalar(select(func.count()).select_from(InboxDelivery)) or 0
        try:
            messages = int(self.redis.hlen(REDIS_QUEUE_MESSAGES))
        except redis.RedisError:
            messages = -1
        return Sample(time.time(), pending, running, messages, forwarded, received,
                      other_cpu_pct)

    def _run(self) -> None:
        roots = (self.components.pg_pid,) if self.components.pg_pid is not None else ()
        meter = CpuMeter(roots=roots).start()
        while not self._stop.wait(self.interval):
            other = meter.other_pct()
            meter.start()
            try:
                self.samples.append(self.sample(other))
            except Exception as exc:  # a missed sample must not end the run
                print(f"monitor: sample failed: {exc}", file=sys.stderr)

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in list(self.samples) if start <= s.at <= end]

    def idle(self) -> bool:
        sample = self.sample()
        return sum(sample.pending.values()) == 0 and sample.running == 0


# ---------------------------------------------------------------------------------------------
# Phases and results
# ---------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """One delivery of an end-to-end phase: its order number and what the intake answered."""

    order_number: str
    outcome: Outcome


@dataclass
class E2EPhase:
    rate: float
    intake: PhaseResult
    sent: list[Sent]
    load_start: float  # wall clock
    load_end: float
    drained_at: float | None  # wall clock when the backlog was gone (None: not within limit)
    cpu: dict[str, float]
    # Filled in after the run, from the database and the supplier sandbox:
    forwarded_per_s: float = math.nan  # supplier orders created during the load window / s
    e2e_ms: list[float] = field(default_factory=list)
    max_backlog: int = 0
    end_backlog: int = 0
    max_redis: int = 0
    other_peak: float = math.nan

    @property
    def drain_s(self) -> float:
        return math.nan if self.drained_at is None else self.drained_at - self.load_end

    @property
    def sustained(self) -> bool:
        p99 = percentile(sorted(self.e2e_ms), 0.99) / 1000
        return (self.intake.errors == 0 and self.drained_at is not None
                and self.drain_s <= SUSTAINED_DRAIN_S and p99 <= TARGET_E2E_P99_S)


def order_number_of(request: SignedRequest) -> str:
    return str(json.loads(request.body)["name"])


def backlog(sample: Sample) -> int:
    return sum(sample.pending.values()) + sample.running


def run_e2e_phase(rate: float, requests: Sequence[SignedRequest], port: int,
                  args: argparse.Namespace, monitor: Monitor, components: Components,
                  alive: Sequence[Proc]) -> E2EPhase:
    mode = f"end to end, fixed {rate:g}/s, {args.duration}s"
    print(f"{mode} ...", file=sys.stderr)
    if args.quiet_limit > 0:
        wait_for_quiet(args.quiet_limit, args.quiet_wait)
    split = CpuSplit(components).start()
    load_start = time.time()
    outcomes, seconds = open_loop(port, requests, rate, args.client_threads, timeout=10.0)
    load_end = time.time()
    cpu = split.stop()
    intake = summarize("DropTrack + workers", mode, outcomes, seconds)
    drained_at: float | None = None
    with contextlib.suppress(RuntimeError):
        wait_until(monitor.idle, args.drain_timeout, "the backlog to drain", alive)
        drained_at = time.time()
    print(f"  intake {intake.requests_per_s:.1f} req/s, p99 {fmt(intake.p99_ms)} ms, "
          f"{intake.errors} errors; drained after "
          f"{fmt((drained_at or math.nan) - load_end)} s", file=sys.stderr)
    sent = [Sent(order_number_of(r), o) for r, o in zip(requests, outcomes, strict=True)]
    return E2EPhase(rate, intake, sent, load_start, load_end, drained_at, cpu)


def intake_alone(label: str, port: int, requests: Sequence[SignedRequest], rate: float,
                 args: argparse.Namespace,
                 components: Components) -> tuple[PhaseResult, dict[str, float], list[int]]:
    mode = f"intake alone, fixed {rate:g}/s, {args.duration}s"
    print(f"{label}: {mode} ...", file=sys.stderr)
    if args.quiet_limit > 0:
        wait_for_quiet(args.quiet_limit, args.quiet_wait)
    split = CpuSplit(components).start()
    outcomes, seconds = open_loop(port, requests, rate, args.client_threads, timeout=10.0)
    cpu = split.stop()
    acked = [o.inbox_id for o in outcomes if o.inbox_id is not None]
    return summarize(label, mode, outcomes, seconds), cpu, acked


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def fill_in(phases: Sequence[E2EPhase], db: Engine, monitor: Monitor,
            supplier_orders: Sequence[dict[str, Any]]) -> None:
    created_by_number: dict[str, list[float]] = {}
    for order in supplier_orders:
        created_by_number.setdefault(order["order_number"], []).append(
            parse_time(order["created_at"]))
    created_sorted = sorted(t for times in created_by_number.values() for t in times)
    inbox_ids = [s.outcome.inbox_id for p in phases for s in p.sent
                 if s.outcome.inbox_id is not None]
    received: dict[int, float] = {}
    with db.connect() as connection:
        for start in range(0, len(inbox_ids), 5000):
            chunk = inbox_ids[start:start + 5000]
            for row_id, at in connection.execute(
                    select(InboxDelivery.id, InboxDelivery.received_at)
                    .where(InboxDelivery.id.in_(chunk))):
                received[row_id] = at.timestamp()
    for phase in phases:
        window = phase.load_end - phase.load_start
        created = (bisect.bisect_right(created_sorted, phase.load_end)
                   - bisect.bisect_left(created_sorted, phase.load_start))
        phase.forwarded_per_s = created / window if window > 0 else math.nan
        for sent in phase.sent:
            inbox_id = sent.outcome.inbox_id
            times = created_by_number.get(sent.order_number)
            if inbox_id is None or inbox_id not in received or not times:
                continue
            phase.e2e_ms.append((min(times) - received[inbox_id]) * 1000)
        samples = monitor.between(phase.load_start, phase.load_end + 1.0)
        phase.max_backlog = max((backlog(s) for s in samples), default=0)
        phase.max_redis = max((s.redis_messages for s in samples), default=0)
        during = [s for s in samples if s.at <= phase.load_end]
        phase.end_backlog = backlog(during[-1]) if during else 0
        phase.other_peak = max((s.other_cpu_pct for s in samples
                                if not math.isnan(s.other_cpu_pct)), default=math.nan)


@dataclass
class ExactlyOnce:
    ok: bool
    text: str


def job_states(db: Engine) -> Counter[str]:
    with db.connect() as connection:
        return Counter({state: count for state, count in connection.execute(
            select(OutboxJob.state, func.count()).group_by(OutboxJob.state))})


def exactly_once(phases: Sequence[E2EPhase], warmup: Sequence[Sent], db: Engine,
                 supplier_orders: Sequence[dict[str, Any]],
                 states: Counter[str]) -> ExactlyOnce:
    """Every acknowledged delivery of the end-to-end phases (and the warm-up) has exactly one
    supplier order at the sandbox and one forwarded supplier order in DropTrack; the sandbox
    holds no order that was not sent; every job was done (`states`: the outbox once the last
    end-to-end phase drained) and none is dead."""
    sent = [s for p in phases for s in p.sent] + list(warmup)
    acked = {s.order_number for s in sent if s.outcome.inbox_id is not None}
    all_sent = {s.order_number for s in sent}
    at_supplier = Counter(str(o["order_number"]) for o in supplier_orders)
    missing = acked - set(at_supplier)
    doubled = {n for n, c in at_supplier.items() if c > 1}
    unknown = set(at_supplier) - all_sent
    with db.connect() as connection:
        per_order = Counter(number for (number,) in connection.execute(
            select(Order.number).join(SupplierOrder, SupplierOrder.order_id == Order.id)
            .where(SupplierOrder.status == "forwarded")))
    dead = states["dead"]
    not_done = sum(count for state, count in states.items() if state != "done")
    dt_missing = acked - set(per_order)
    dt_doubled = {n for n, c in per_order.items() if c > 1}
    ok = bool(acked) and not (missing or doubled or unknown or dt_missing or dt_doubled
                              or dead or not_done)
    text = (f"{len(acked)} orders acknowledged, {len(at_supplier)} distinct orders at the "
            f"supplier ({sum(at_supplier.values())} supplier orders); acknowledged without a "
            f"supplier order: {len(missing)}; with more than one: {len(doubled)}; supplier "
            f"orders for orders never sent: {len(unknown)}; DropTrack forwarded supplier "
            f"orders: {sum(per_order.values())} (missing {len(dt_missing)}, doubled "
            f"{len(dt_doubled)}); dead jobs: {dead}; jobs not done: {not_done}")
    return ExactlyOnce(ok, text)


def inbox_check(db: Engine, acked_ids: Sequence[int]) -> tuple[bool, str]:
    with db.connect() as connection:
        ids = set(connection.scalars(select(InboxDelivery.id)))
        rows = len(ids)
        keys = connection.scalar(select(func.count(InboxDelivery.dedupe_key.distinct()))) or 0
    missing = set(acked_ids) - ids
    ok = not missing and rows == keys
    return ok, (f"inbox rows: {rows} (distinct dedupe keys: {keys}); intake-alone \"stored\" "
                f"answers: {len(acked_ids)}, of which missing from the inbox: {len(missing)}")


def idle_tick(env: dict[str, str]) -> tuple[float, int, int]:
    """bench/idle_cost.py's idle scheduler tick (its first TICK functions, median of 5) on
    this run's database, in this process: CPU ms, statements, rows scanned."""
    import idle_cost  # only here: it imports the scheduler's modules

    runtime = build_runtime(load_settings(environ=env))
    try:
        recorder = idle_cost.Recorder()
        recorder.attach(runtime.db.engine)
        seeded = Seeded([], [0, 0])  # only the work path's delivery window needs ids
        measured = [idle_cost.measure(runtime, recorder, "postgresql", 0, name, function, 5)
                    for name, function in idle_cost.functions(seeded)[:idle_cost.TICK]]
    finally:
        runtime.close()
    return (sum(m.cpu_ms for m in measured), sum(m.statements for m in measured),
            sum(m.touched for m in measured))


@dataclass
class CurvePoint:
    """One point of --curve: a whole run at one history size and store count."""

    history: int
    stores: int
    seed_s: float
    phase: E2EPhase
    web_rss_mb: float  # the largest peak RSS of one web process
    worker_rss_mb: float  # the same for the job workers
    tick: tuple[float, int, int]  # idle tick: CPU ms, statements, rows scanned
    exactly_once: bool


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def curve_table(points: Sequence[CurvePoint]) -> str:
    lines = ["| history orders | stores | seeding s | orders/s offered / forwarded | sustained "
             "| e2e p50 / p99 ms | CPU ms per order: workers / PostgreSQL / DropTrack + PG "
             "| peak RSS MB: web / worker | idle tick: CPU ms / statements / rows "
             "| exactly once | other CPU % |",
             "|---:|---:|---:|---:|:---:|---:|---:|---:|---:|:---:|---:|"]
    for point in points:
        p = point.phase
        e2e = sorted(p.e2e_ms)
        window = p.load_end - p.load_start
        orders = p.forwarded_per_s * window
        per = {c: p.cpu.get(c, 0.0) / 100 * window / orders * 1000 if orders else math.nan
               for c in CPU_COLUMNS}
        ours = sum(per[c] for c in ("web", "workers", "scheduler", "PostgreSQL", "Redis"))
        cpu_ms, statements, touched = point.tick
        lines.append(
            f"| {point.history:,} | {point.stores} | {fmt(point.seed_s)} | {p.rate:g} / "
            f"{fmt(p.forwarded_per_s)} | {'yes' if p.sustained else 'no'} | "
            f"{fmt(percentile(e2e, 0.5), 0)} / {fmt(percentile(e2e, 0.99), 0)} | "
            f"{fmt(per['workers'])} / {fmt(per['PostgreSQL'])} / {fmt(ours)} | "
            f"{fmt(point.web_rss_mb, 0)} / {fmt(point.worker_rss_mb, 0)} | {fmt(cpu_ms)} / "
            f"{statements} / {touched:,} | {'OK' if point.exactly_once else 'FAILED'} | "
            f"{fmt(p.cpu.get('other', math.nan), 0)} |")
    return "\n".join(lines)


CPU_COLUMNS = ("web", "workers", "scheduler", "PostgreSQL", "Redis", "supplier", "bare",
               "load generator", "other")


def e2e_table(phases: Sequence[E2EPhase]) -> str:
    rows = ["| offered orders/s | intake req/s | intake p50 / p99 / max ms | intake errors "
            "| supplier orders/s during load | end-to-end p50 / p90 / p99 / max ms "
            "| backlog max / at end of load (jobs) | drained after s | sustained |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for p in phases:
        e2e = sorted(p.e2e_ms)
        rows.append(
            f"| {p.rate:g} | {fmt(p.intake.requests_per_s)} | {fmt(p.intake.p50_ms)} / "
            f"{fmt(p.intake.p99_ms)} / {fmt(p.intake.max_ms)} | {p.intake.errors} | "
            f"{fmt(p.forwarded_per_s)} | {fmt(percentile(e2e, 0.5), 0)} / "
            f"{fmt(percentile(e2e, 0.9), 0)} / {fmt(percentile(e2e, 0.99), 0)} / "
            f"{fmt(e2e[-1] if e2e else math.nan, 0)} | {p.max_backlog} / {p.end_backlog} | "
            f"{fmt(p.drain_s)} | {'yes' if p.sustained else 'no'} |")
    return "\n".join(rows)


def baseline_table(results: Sequence[PhaseResult]) -> str:
    rows = ["| target | mode | requests/s | p50 ms | p99 ms | max ms | errors |",
            "|---|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {r.target} | {r.mode} | {fmt(r.requests_per_s)} | {fmt(r.p50_ms)} | "
             f"{fmt(r.p99_ms)} | {fmt(r.max_ms)} | {r.errors} |" for r in results]
    return "\n".join(rows)


def cpu_table(rows: Sequence[tuple[str, dict[str, float], float]]) -> str:
    head = " | ".join(CPU_COLUMNS)
    lines = [f"| phase | {head} | total (of 200) | other, busiest second |",
             "|---|" + "---:|" * (len(CPU_COLUMNS) + 2)]
    for label, cpu, peak in rows:
        total = sum(cpu.get(c, 0.0) for c in CPU_COLUMNS)
        cells = " | ".join(fmt(cpu.get(c, math.nan), 0) for c in CPU_COLUMNS)
        lines.append(f"| {label} | {cells} | {fmt(total, 0)} | {fmt(peak, 0)} |")
    return "\n".join(lines)


def cpu_per_order_table(phases: Sequence[E2EPhase]) -> str:
    """CPU milliseconds per forwarded order, per component, over a phase's load window (only
    meaningful for sustained phases, where work done = orders offered)."""
    lines = ["| phase | " + " | ".join(CPU_COLUMNS[:-3]) + " | DropTrack + PostgreSQL |",
             "|---|" + "---:|" * (len(CPU_COLUMNS) - 2)]
    for p in phases:
        window = p.load_end - p.load_start
        orders = p.forwarded_per_s * window
        if not orders:
            continue
        per = {c: p.cpu.get(c, 0.0) / 100 * window / orders * 1000 for c in CPU_COLUMNS[:-3]}
        ours = sum(per[c] for c in ("web", "workers", "scheduler", "PostgreSQL", "Redis"))
        lines.append(f"| end to end {p.rate:g}/s | "
                     + " | ".join(fmt(per[c]) for c in CPU_COLUMNS[:-3]) + f" | {fmt(ours)} |")
    return "\n".join(lines)


def timeline_table(phase: E2EPhase, monitor: Monitor, every: int = 2) -> str:
    samples = monitor.between(phase.load_start - 1.0, (phase.drained_at or phase.load_end) + 1)
    lines = ["| t s | inbox jobs pending | forward jobs pending | jobs running "
             "| Redis messages | supplier orders forwarded/s |",
             "|---:|---:|---:|---:|---:|---:|"]
    previous: Sample | None = None
    for index, sample in enumerate(samples):
        rate = (math.nan if previous is None else
                (sample.forwarded - previous.forwarded) / max(sample.at - previous.at, 1e-6))
        previous = sample
        if index % every:
            continue
        lines.append(f"| {sample.at - phase.load_start:.0f} | "
                     f"{sample.pending.get('inbox.process', 0)} | "
                     f"{sample.pending.get('supplier.forward', 0)} | {sample.running} | "
                     f"{sample.redis_messages} | {fmt(rate, 0)} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rates", default="20,40,80",
                        help="end-to-end fixed rates, orders/s, comma-separated")
    parser.add_argument("--duration", type=int, default=30, help="seconds per fixed-rate phase")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--job-workers", type=int, default=3, help="`droptrack worker`s")
    parser.add_argument("--worker-threads", type=int, default=4,
                        help="threads per `droptrack worker` (workers.threads default: 4)")
    parser.add_argument("--worker-nice", type=int, default=0,
                        help="run the `droptrack worker`s at this nice level (0: as the web "
                             "processes; 10: the web intake gets the CPU first)")
    parser.add_argument("--client-threads", type=int, default=64,
                        help="open-loop sender threads (max requests in flight)")
    parser.add_argument("--max-duration", type=int, default=10,
                        help="intake-alone and bare max-throughput (wrk) runs, seconds")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=16)
    parser.add_argument("--wrk-pool", type=int, default=30000,
                        help="distinct signed requests for DropTrack's wrk run (no reuse)")
    parser.add_argument("--warmup", type=int, default=100,
                        help="deliveries sent (and forwarded) before the first phase")
    parser.add_argument("--drain-timeout", type=float, default=300.0,
                        help="longest wait for the backlog after a phase, seconds")
    parser.add_argument("--quiet-limit", type=float, default=10.0,
                        help="before each phase wait until other processes use less than this "
                             "percent of one CPU (0 disables the wait)")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="longest wait for a quiet machine before each phase, seconds")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the intake-alone and bare phases (smoke test)")
    parser.add_argument("--layout", choices=("scaled-out", "embedded"), default="scaled-out",
                        help="scaled-out: gunicorn + scheduler + Dramatiq workers (deploy.md); "
                             "embedded: one `droptrack serve` (the default install)")
    parser.add_argument("--db", choices=("postgresql", "sqlite"),
                        help="database (default: postgresql scaled out, sqlite embedded)")
    parser.add_argument("--baseline-source", type=Path,
                        help="first run the same phases with the DropTrack processes on this "
                             "checkout's code (e.g. a `git worktree` of the baseline commit), "
                             "then on this one's, in the same invocation")
    parser.add_argument("--history", type=int, default=0,
                        help="past orders (supplier order, delivered parcel) in the database "
                             "before the run (bench/scale_common.py's seeding)")
    parser.add_argument("--stores", type=int, default=1,
                        help="Shopify stores, each with its own webhook secret and mappings; "
                             "the deliveries go to them in turn")
    parser.add_argument("--curve", metavar="HISTORYxSTORES,...",
                        help="the scale curve: one whole run (fresh database and processes) "
                             "per point, e.g. 1000x1,10000x1,100000x1,1000x10,1000x100, and "
                             "one table of them; one rate, no baseline phases")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    try:
        args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error("--rates: comma-separated numbers")
    if not (args.rate_list and all(0 < r <= 2000 for r in args.rate_list)
            and 1 <= args.duration <= 600 and 1 <= args.web_workers <= 32
            and 1 <= args.job_workers <= 16 and 1 <= args.worker_threads <= 64
            and 0 <= args.worker_nice <= 19
            and 1 <= args.client_threads <= 512 and 1 <= args.max_duration <= 600
            and 1 <= args.wrk_threads <= args.wrk_connections <= 1024
            and 1_000 <= args.wrk_pool <= 200_000 and 0 <= args.warmup <= 10_000
            and 1 <= args.drain_timeout <= 3600 and 0 <= args.quiet_limit <= 200
            and 0 <= args.quiet_wait <= 3600):
        parser.error("an option is out of its sensible range")
    try:
        args.curve_points = [tuple(int(v) for v in point.lower().split("x", 1))
                             for point in (args.curve or "").split(",") if point.strip()]
    except ValueError:
        parser.error("--curve: comma-separated HISTORYxSTORES, e.g. 1000x1,1000x10")
    if args.curve_points:
        if len(args.rate_list) != 1 or args.baseline_source or args.layout != "scaled-out":
            parser.error("--curve: one rate, scaled out, no --baseline-source")
        args.no_baseline = True
    if not all(0 <= h <= 10_000_000 and 1 <= n <= 1000 for h, n in
               [*args.curve_points, (args.history, args.stores)]):
        parser.error("--history: 0-10,000,000 orders; --stores: 1-1000")
    if args.db is None:
        args.db = "sqlite" if args.layout == "embedded" else "postgresql"
    if args.layout == "embedded":
        args.no_baseline = True  # the intake-alone baseline stops workers it does not have
    return args


def start_web(args: argparse.Namespace, env: dict[str, str], folder: Path,
              stack: contextlib.ExitStack, components: Components) -> tuple[Server, list[str]]:
    """DropTrack's web side of `args.layout`: one `droptrack serve` (embedded: web, dispatcher
    and scheduler in one process) or `gunicorn -w args.web_workers`. Returns the server and
    a description of its settings; stopped when `stack` closes."""
    settings = gunicorn_args(args.web_workers, 1)
    if args.layout == "embedded":
        port = free_port()
        serve = start_process("droptrack", [venv_bin("droptrack"), "serve", "--port",
                                            str(port)], env, folder)
        web = Server("droptrack", serve.process, port, serve.log_path)
        settings = ["droptrack serve (embedded: web + dispatcher + scheduler)"]
    else:
        web = start_gunicorn("droptrack", "integration.web.wsgi:app", settings, env, folder)
    stack.callback(stop_server, web)
    components.add("web", web.process.pid)
    return web, settings


def start_background(args: argparse.Namespace, env: dict[str, str], folder: Path,
                     stack: contextlib.ExitStack, components: Components) -> list[Proc]:
    """Scaled out: `droptrack scheduler` and args.job_workers x `droptrack worker`; embedded:
    nothing (the serve process runs both). Stopped when `stack` closes."""
    background: list[Proc] = []
    if args.layout == "embedded":
        return background
    scheduler = start_process("scheduler", [venv_bin("droptrack"), "scheduler"], env, folder)
    background.append(scheduler)
    stack.callback(stop_process, scheduler)
    components.add("scheduler", scheduler.process.pid)
    for n in range(args.job_workers):
        nice = ["nice", "-n", str(args.worker_nice)] if args.worker_nice else []
        worker = start_process(f"worker-{n + 1}", [
            *nice, venv_bin("droptrack"), "worker", "--processes", "1",
            "--threads", str(args.worker_threads)], env, folder)
        background.append(worker)
        stack.callback(stop_process, worker)
        components.add("workers", worker.process.pid)
    return background


def run(args: argparse.Namespace, folder: Path, stack: contextlib.ExitStack) -> int:
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}", file=sys.stderr)
    print(f"machine: {machine_summary()}", file=sys.stderr)
    print(f"source: {source_note()}", file=sys.stderr)
    embedded = args.layout == "embedded"
    pg: PgServer | None = None if args.db == "sqlite" else stack.enter_context(postgres())
    db_url = stack.enter_context(database_url(args.db, pg, folder))
    components = Components(None if pg is None else pg.pid)
    redis_proc, redis_url = start_redis(folder)
    stack.callback(stop_process, redis_proc)
    components.add("Redis", redis_proc.process.pid)
    sandbox = start_sandbox(folder)
    stack.callback(stop_process, sandbox.proc)
    components.add("supplier", sandbox.proc.process.pid)

    webhook_secret = secrets.token_hex(24)
    env = droptrack_env(folder, db_url, redis_url, embedded=embedded)
    check_imported_code(env, folder)
    store_id, seed_s = prepare_database(env, webhook_secret, sandbox, args.stores, args.history)
    if args.history:
        print(f"history: {args.history:,} past orders seeded in {seed_s:.1f} s", file=sys.stderr)
    web, settings = start_web(args, env, folder, stack, components)
    bare: Server | None = None
    if not args.no_baseline:
        bare_env = child_env({"BENCH_WEBHOOK_SECRET": webhook_secret})
        bare = start_gunicorn("bare", "bare_endpoint:app", settings, bare_env, folder,
                              extra=["--pythonpath", str(BENCH_DIR)])
        stack.callback(stop_server, bare)
        components.add("bare", bare.process.pid)
        wait_healthy(bare)
    wait_healthy(web)

    background = start_background(args, env, folder, stack, components)
    print(f"database {db_url}, redis {redis_url}, supplier {sandbox.url}, web :{web.port}"
          f", store {store_id}, gunicorn {' '.join(settings)}", file=sys.stderr)

    factory = RequestFactory(webhook_secret.encode("utf-8"), shops=[
        (shop, secret.encode("utf-8")) for shop, secret in shops(webhook_secret, args.stores)])
    e2e_requests = [factory.make(math.ceil(rate * args.duration)) for rate in args.rate_list]
    warmup_requests = factory.make(args.warmup)
    alone_requests = [] if args.no_baseline else [
        factory.make(math.ceil(rate * args.duration)) for rate in args.rate_list]
    wrk_script = folder / "intake.lua"
    wrk_script.write_text(WRK_SCRIPT)
    if not args.no_baseline:
        write_wrk_data(folder / "wrk-droptrack.tsv", factory.make(args.wrk_pool),
                       args.wrk_threads)
        write_wrk_data(folder / "wrk-bare.tsv", factory.make(5000), args.wrk_threads)
    sizes = sorted(factory.sizes)
    body_note = (f"body: {sizes[0]}-{sizes[-1]} bytes (median {sizes[len(sizes) // 2]}), "
                 f"{len(sizes)} distinct signed deliveries")
    print(body_note, file=sys.stderr)

    db = create_engine(db_url, pool_size=2)
    stack.callback(db.dispose)
    monitor = Monitor(db, redis_url, components)

    # Warm-up: every process has served and forwarded orders before anything is measured.
    warm = warm_up(web.port, warmup_requests)
    warm_sent = [Sent(order_number_of(r), o) for r, o in zip(warmup_requests, warm, strict=True)]
    refused = Counter(o.status for o in warm if o.status != 200)
    if refused:
        raise RuntimeError(f"warm-up deliveries not stored: {dict(refused)}\n{web.log_tail()}")
    wait_until(lambda: monitor.sample().forwarded >= sum(1 for o in warm if o.inbox_id), 120,
               "the warm-up orders to be forwarded", background)
    wait_until(monitor.idle, 60, "an empty backlog after the warm-up", background)
    print(f"warm-up: {len(warm)} deliveries forwarded", file=sys.stderr)

    monitor.start()
    stack.callback(monitor.stop)
    phases = []
    for rate, requests in zip(args.rate_list, e2e_requests, strict=True):
        if web.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {web.process.returncode}:\n"
                               f"{web.log_tail()}")
        phases.append(run_e2e_phase(rate, requests, web.port, args, monitor, components,
                                    background))

    states = job_states(db)  # before the baseline leaves jobs behind that nobody runs
    rss = {name: tree_peak_rss_mb(tuple(components.roots.get(name, ())))
           for name in ("web", "workers")}
    tick = idle_tick(env) if args.curve_points else (math.nan, 0, 0)
    for proc in background:  # the baseline: intake with nothing processing behind it
        stop_process(proc)
    baseline: list[PhaseResult] = []
    baseline_cpu: list[tuple[str, dict[str, float], float]] = []
    acked_alone: list[int] = []
    if not args.no_baseline:
        assert bare is not None
        for rate, requests in zip(args.rate_list, alone_requests, strict=True):
            result, cpu, acked = intake_alone("DropTrack", web.port, requests, rate, args,
                                              components)
            baseline.append(result)
            baseline_cpu.append((f"intake alone {rate:g}/s", cpu, math.nan))
            acked_alone += acked
        for label, server, prefix in (("DropTrack", web, "wrk-droptrack.tsv"),
                                      ("bare", bare, "wrk-bare.tsv")):
            print(f"{label}: wrk max throughput ...", file=sys.stderr)
            if args.quiet_limit > 0:
                wait_for_quiet(args.quiet_limit, args.quiet_wait)
            split = CpuSplit(components).start()
            result, acked = run_wrk(label, server.port, wrk_script, folder / prefix,
                                    folder / f"acked-{label}.txt", args.wrk_threads,
                                    args.wrk_connections, args.max_duration)
            result.mode = "intake alone, " + result.mode
            baseline_cpu.append((f"{label} {result.mode}", split.stop(), math.nan))
            baseline.append(result)
            if label == "DropTrack":
                acked_alone += acked
    monitor.stop()

    supplier_orders = sandbox.orders()
    fill_in(phases, db, monitor, supplier_orders)
    cpu_rows = [(f"end to end {p.rate:g}/s", p.cpu, p.other_peak) for p in phases]
    cpu_rows += baseline_cpu
    once = exactly_once(phases, warm_sent, db, supplier_orders, states)
    inbox_ok, inbox_text = (True, "not run") if args.no_baseline else inbox_check(db, acked_alone)

    best = max((p.rate for p in phases if p.sustained), default=math.nan)
    intake_max = next((r.requests_per_s for r in baseline if r.target == "DropTrack"
                       and "max throughput" in r.mode), math.nan)
    bare_max = next((r.requests_per_s for r in baseline if r.target == "bare"), math.nan)
    top_forward = max((p.forwarded_per_s for p in phases), default=math.nan)

    print()
    print(f"Machine: {machine_summary()}")
    print(f"Source: {source_note()}")
    nice_note = f" at nice {args.worker_nice}" if args.worker_nice else ""
    if embedded:
        print(f"layout: embedded, one `droptrack serve` (web, dispatcher, scheduler), {args.db}")
    else:
        print(f"gunicorn: {' '.join(settings)}; {args.job_workers} x droptrack worker "
              f"--processes 1 --threads {args.worker_threads}{nice_note}; 1 x droptrack "
              f"scheduler; {args.db}")
    print(f"Request {body_note}")
    print()
    print(e2e_table(phases))
    print()
    if baseline:
        print(baseline_table(baseline))
        print()
    print(cpu_table(cpu_rows))
    print()
    print("CPU ms per forwarded order (load window; supplier orders created in it):")
    print()
    print(cpu_per_order_table(phases))
    print()
    if phases:
        print(f"Backlog over time at {phases[-1].rate:g} orders/s (t from the start of the load):")
        print()
        print(timeline_table(phases[-1], monitor))
        print()
    print(f"- sustained end to end >= {TARGET_ORDERS_PER_S:g} orders/s with p99 <= "
          f"{TARGET_E2E_P99_S:g} s: {'MET' if best >= TARGET_ORDERS_PER_S else 'MISSED'} "
          f"(highest sustained rate measured: {fmt(best, 0)}/s; most supplier orders/s during "
          f"a phase: {fmt(top_forward)})")
    print(f"- intake alone at full load: {fmt(intake_max)} req/s; bare endpoint: "
          f"{fmt(bare_max)} req/s")
    print(f"- exactly once: {'OK' if once.ok else 'FAILED'} ({once.text})")
    print(f"- intake-alone deliveries stored: {'OK' if inbox_ok else 'FAILED'} ({inbox_text})")
    for phase in phases:
        for note in phase.intake.notes:
            print(f"- end to end {phase.rate:g}/s: {note}")
        if phase.other_peak >= NOISY_PEAK_PCT or phase.cpu.get("other", 0) >= 10:
            print(f"- end to end {phase.rate:g}/s: NOISY: other processes used "
                  f"{fmt(phase.cpu.get('other', math.nan), 0)}% of a CPU on average, "
                  f"{fmt(phase.other_peak, 0)}% in the busiest second")
    for result in baseline:
        for note in result.notes:
            print(f"- {result.target}, {result.mode}: {note}")

    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine_summary(), "gunicorn": settings, "body": body_note,
            "phases": [{"rate": p.rate, "intake": p.intake.__dict__,
                        "forwarded_per_s": p.forwarded_per_s, "drain_s": p.drain_s,
                        "e2e_ms": {q: percentile(sorted(p.e2e_ms), q) for q in
                                   (0.5, 0.9, 0.99, 1.0)}, "cpu": p.cpu,
                        "max_backlog": p.max_backlog, "sustained": p.sustained}
                       for p in phases],
            "baseline": [r.__dict__ for r in baseline], "exactly_once": once.ok,
            "exactly_once_text": once.text, "inbox_ok": inbox_ok,
        }, indent=2, default=str))
    if phases:
        POINTS.append(CurvePoint(args.history, args.stores, seed_s, phases[-1], rss["web"],
                                 rss["workers"], tick, once.ok))
    return 0 if once.ok and inbox_ok else 1


POINTS: list[CurvePoint] = []  # one per run(), for --curve


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    sources = [REPO] if args.baseline_source is None else [args.baseline_source.resolve(), REPO]
    runs = [(source, args) for source in sources]
    if args.curve_points:
        runs = [(REPO, argparse.Namespace(**{**vars(args), "history": history,
                                              "stores": count}))
                for history, count in args.curve_points]
    worst = 0
    for source, run_args in runs:
        CODE[0] = source
        if len(sources) > 1:
            print(f"\n## {'baseline' if source != REPO else 'this checkout'}: {source_note()}\n",
                  flush=True)
        if args.curve_points:
            print(f"\n## {run_args.history:,} orders in history, {run_args.stores} stores\n",
                  flush=True)
        with temp_dir(args.keep, "droptrack-bench-scale-") as folder, \
                contextlib.ExitStack() as stack:
            try:
                worst = max(worst, run(run_args, folder, stack))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"benchmark failed: {exc}", file=sys.stderr)
                return 2
        sys.stdout.flush()
    if args.curve_points:
        print(f"\n## Scale curve at {args.rate_list[0]:g} orders/s, {args.duration} s a point\n")
        print(curve_table(POINTS))
    return worst


if __name__ == "__main__":
    sys.exit(main())
