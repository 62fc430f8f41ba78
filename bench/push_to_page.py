"""Freshness (issue 20): a carrier's push to the moment the store's order page shows it.

    .venv/bin/python bench/push_to_page.py [--layout embedded] [--rates 10,30 --duration 10]

Orders that are already forwarded, have a tracking number and a fulfillment in the store get
one signed 17TRACK push each (TRACKING_UPDATED, the parcel picked up: in transit), sent at a
fixed rate; the latency of a push is from its send time to the moment DropTrack's write-back
(the IN_TRANSIT fulfillment event, GraphQL `fulfillmentEventCreate`) arrived at the Shopify
sandbox, as the sandbox records it (`created_at` of the event; both wall clocks of this
machine). That is what the store's order status page shows; DropTrack's own order-status data
(the extension's endpoint, integration/web/order_status.py) changes earlier, when the push is
processed, and is checked after the run for every order.

What it does, in one run:

1. starts a throwaway PostgreSQL (or SQLite for the embedded layout), Redis, the reference
   supplier sandbox (bench/supplier_sandbox.py) and the Shopify sandbox
   (bench/shopify_sandbox.py: one Plus shop, DropTrack installed, one paid order per push);
   prepares DropTrack's database as bench/intake_at_scale.py does (store, REST supplier,
   mappings), then connects the store to the sandbox the way the tests do (its token as the
   store's credentials, `admin_base_url` the sandbox) and imports the sandbox's orders;
2. starts DropTrack in the layout asked for (intake_at_scale's `start_web` and
   `start_background`: embedded `droptrack serve`, or gunicorn + scheduler + Dramatiq workers);
   waits until every order is forwarded to the supplier, then gives each supplier order a
   parcel with a tracking number (the engine's `apply_parcel_update`, as a supplier's report
   does) and waits until every parcel is a fulfillment in the store; the numbers are recorded
   as registered with 17TRACK (the registration call itself is bench/tracking_services.py's
   subject, not this one's);
3. warm-up pushes, then per rate in --rates: one push per parcel at that fixed rate for
   --duration seconds (open loop, bench/webhook_intake.py's generator), then waits until every
   pushed parcel's event is in the store and no job is left;
4. checks exactly once: every pushed parcel has one fulfillment and exactly one IN_TRANSIT
   event, no parcel that was not pushed has one, no job is dead, and DropTrack's order-status
   view (what the extension answers) says in transit for every pushed order;
5. prints a markdown table per rate: intake p50/p99, push -> store p50/p90/p99/max, CPU per
   push per component (from the load's start until the last event arrived).

The pushes are built by the 17TRACK sandbox's own code (sandboxes/seventeen_track: item JSON
and signature), not by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from intake_at_scale import (
    CODE,
    Components,
    CpuSplit,
    Monitor,
    Proc,
    child_env,
    droptrack_env,
    job_states,
    parse_time,
    prepare_runtime,
    source_note,
    start_background,
    start_process,
    start_redis,
    start_sandbox,
    start_web,
    stop_process,
    wait_until,
)
from scale_common import PgServer, database_url, machine_summary, postgres
from sqlalchemy import create_engine, select
from webhook_intake import (
    BENCH_DIR,
    PRODUCTS,
    REPO,
    Outcome,
    SignedRequest,
    fmt,
    free_port,
    open_loop,
    percentile,
    summarize,
    temp_dir,
    wait_for_quiet,
    wait_healthy,
)

from connectors.shopify.mapper import parse_order
from connectors.shopify.tokens import OAUTH, Credentials
from connectors.tracking import seventeen_track
from core.clock import FrozenClock
from core.status import Status
from integration.base.config import load_settings
from integration.engine import bindings
from integration.engine.orders import ORDER, import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.kernel.runtime import Runtime, build_runtime
from integration.storage.models import Binding, Shipment, Store, SupplierOrder, TrackedNumber
from integration.sync.tracking.updates import REGISTERED
from sandboxes.seventeen_track import DEFAULT_API_KEY as TRACK_KEY
from sandboxes.seventeen_track import SeventeenTrackState
from sandboxes.seventeen_track.state import sign

HOOK = "/webhooks/tracking/17track"
PUSHED_STATUS = "IN_TRANSIT"  # the Shopify event a "picked up" push becomes
PUSH_STEPS = 2  # the 17TRACK timeline shown in the push: info received, picked up
TARGET_P99_S = 5.0
FIRST_NUMBER = 100_000_001  # tracking numbers LX100000001CN, ... (China Post's shape)


@dataclass(frozen=True)
class PushRequest(SignedRequest):
    """A signed 17TRACK push, sent by bench/webhook_intake.py's open-loop generator."""

    path: str = HOOK

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "sign": self.signature}


def make_pushes(numbers: Sequence[str], key: str) -> list[PushRequest]:
    """One TRACKING_UPDATED push per number, as the 17TRACK sandbox builds and signs them: the
    parcel registered two days ago, shown up to its pick-up (in transit)."""
    state = SeventeenTrackState(FrozenClock(datetime.now(UTC) - timedelta(days=2)),
                                api_keys={key}, quota_total=len(numbers))
    try:
        pushes = []
        for number in numbers:
            state.register({"number": number})
            tracked = state.tracked[number]
            tracked.reveal_until(PUSH_STEPS)
            raw = json.dumps({"event": "TRACKING_UPDATED", "data": state.item_json(tracked)},
                             ensure_ascii=False).encode()
            pushes.append(PushRequest(number, "", sign(raw, key), raw))
        return pushes
    finally:
        state.close()


# ---------------------------------------------------------------------------------------------
# The Shopify sandbox process
# ---------------------------------------------------------------------------------------------


@dataclass
class ShopifyBench:
    proc: Proc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"Shopify sandbox answered {response.status}: {body[:200]!r}")
        return json.loads(body)

    def fulfillments(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get("/bench/fulfillments")
        return found


def start_shopify(folder: Path, orders: int) -> ShopifyBench:
    port = free_port()
    skus = ",".join(product[1] for product in PRODUCTS)  # the mapped SKUs of intake_at_scale
    proc = start_process("shopify", [sys.executable, str(BENCH_DIR / "shopify_sandbox.py"),
                                     str(port), str(orders), skus], child_env(), folder)
    shopify = ShopifyBench(proc, port)
    wait_until(lambda: isinstance(shopify.fulfillments(), list), 60, "the Shopify sandbox",
               [proc])
    return shopify


# ---------------------------------------------------------------------------------------------
# Preparation: orders forwarded, parcels with a number and a fulfillment in the store
# ---------------------------------------------------------------------------------------------


def connect_store(runtime: Runtime, store_id: int, setup: dict[str, Any],
                  admin_base_url: str) -> None:
    """What tests/helpers/shopify_connector.py's `shopify_link` does: the sandbox's token as
    the store's OAuth credentials, the sandbox as its Admin API base."""
    credentials = Credentials(
        access_token=setup["token"], kind=OAUTH, scope=",".join(setup["scopes"]),
        expires_at=setup["expires_at"], refresh_token=setup["refresh_token"],
        client_id=setup["client_id"], client_secret=setup["client_secret"])
    with runtime.db.write() as session:
        row = session.get_one(Store, store_id)
        if row.domain != setup["domain"]:
            raise RuntimeError(f"store {row.domain} is not the sandbox's {setup['domain']}")
        row.credentials_encrypted = runtime.secrets.encrypt_json(credentials.as_dict())
        row.settings = {**(row.settings or {}), "admin_base_url": admin_base_url}


def import_orders(runtime: Runtime, store_id: int, payloads: Sequence[dict[str, Any]]) -> None:
    """What the orders/create webhook of each does (mapper + engine), 200 to a transaction."""
    for start in range(0, len(payloads), 200):
        with runtime.db.write() as session:
            for payload in payloads[start:start + 200]:
                parsed, problems = parse_order(payload)
                if parsed is None:
                    raise RuntimeError(f"sandbox order refused: {problems}")
                import_order(session, store_id, parsed, runtime.clock.now())


def ship_all(runtime: Runtime) -> dict[str, str]:
    """A parcel with its own tracking number for every supplier order (what a supplier's
    tracking report does); returns number -> the store's order id."""
    numbers: dict[str, str] = {}
    with runtime.db.write() as session:
        rows = list(session.scalars(select(SupplierOrder).order_by(SupplierOrder.id)))
        for n, supplier_order in enumerate(rows):
            number = f"LX{FIRST_NUMBER + n:09d}CN"
            apply_parcel_update(session, ParcelUpdate(supplier_order.id, number, number),
                                runtime.clock.now())
            numbers[number] = ""
    with runtime.db.read() as session:
        for number, order_ref in session.execute(
                select(Shipment.tracking_number, _order_external_id())
                .where(Shipment.tracking_number.in_(list(numbers)))):
            numbers[number] = order_ref
    return numbers


def _order_external_id() -> Any:
    return (select(Binding.external_id)
            .where(Binding.owner_type == bindings.STORE, Binding.kind == ORDER,
                   Binding.internal_id == Shipment.order_id)
            .scalar_subquery())


def record_registered(runtime: Runtime, numbers: Sequence[str]) -> None:
    """Each number as registered with 17TRACK (a `tracked_numbers` row), no poll due."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for shipment in session.scalars(select(Shipment).where(
                Shipment.tracking_number.in_(list(numbers)))):
            session.add(TrackedNumber(
                service=seventeen_track.NAME, shipment_id=shipment.id,
                supplier_order_id=shipment.supplier_order_id,
                parcel_ref=shipment.tracking_number, number=shipment.tracking_number,
                carrier="china_post", state=REGISTERED, registered_at=now,
                next_poll_at=now + timedelta(days=30), created_at=now, updated_at=now))


# ---------------------------------------------------------------------------------------------
# Steps on the database, run on the benchmarked checkout's code (--baseline-source: a child)
# ---------------------------------------------------------------------------------------------


def _runtime(env: dict[str, str]) -> Runtime:
    return build_runtime(load_settings(environ=env))


def step_prepare(env: dict[str, str], payload: dict[str, Any]) -> int:
    """Migrations, store, supplier and mappings (intake_at_scale's), the store connected to
    the Shopify sandbox, its orders imported; returns the store's id."""
    runtime = _runtime(env)
    try:
        store_id = prepare_runtime(runtime, payload["secret"], payload["supplier_url"])
        connect_store(runtime, store_id, payload["setup"], payload["shopify_url"])
        import_orders(runtime, store_id, payload["setup"]["orders"])
        return store_id
    finally:
        runtime.close()


def step_ship(env: dict[str, str], payload: dict[str, Any]) -> dict[str, str]:
    runtime = _runtime(env)
    try:
        return ship_all(runtime)
    finally:
        runtime.close()


def step_register(env: dict[str, str], payload: dict[str, Any]) -> int:
    runtime = _runtime(env)
    try:
        record_registered(runtime, payload["numbers"])
        return len(payload["numbers"])
    finally:
        runtime.close()


def step_shown(env: dict[str, str], payload: dict[str, Any]) -> list[Any]:
    """How many of the orders (store ids) DropTrack's order-status view does not show in
    transit, and which view was asked: the extension's (`store_order_view`), or in a
    checkout older than it the parcel's status."""
    runtime = _runtime(env)
    try:
        with runtime.db.read() as session:
            try:
                from integration.engine.tracking_view import store_order_view
            except ImportError:
                statuses = Counter(session.scalars(select(Shipment.status).where(
                    Shipment.tracking_number.in_(payload["numbers"]))))
                return [len(payload["numbers"]) - statuses[Status.IN_TRANSIT.value],
                        "the parcels' status"]
            not_shown = 0
            for ref in payload["refs"]:
                shown = store_order_view(session, payload["store_id"], ref,
                                         now=runtime.clock.now())
                if shown is None or shown.view.status != Status.IN_TRANSIT.value:
                    not_shown += 1
        return [not_shown, "the order-status extension's view"]
    finally:
        runtime.close()


STEPS: dict[str, Callable[[dict[str, str], dict[str, Any]], Any]] = {
    "prepare": step_prepare, "ship": step_ship, "register": step_register,
    "shown": step_shown}

_STEP_IN_CHILD = """import json, os, sys
sys.path.insert(0, sys.argv[1])
from push_to_page import STEPS
print(json.dumps(STEPS[sys.argv[2]](dict(os.environ), json.load(sys.stdin))))
"""


def in_checkout(step: str, env: dict[str, str], payload: dict[str, Any]) -> Any:
    """STEPS[step] here, or for another checkout (--baseline-source) in a child process on
    that checkout's code (its models and migrations; as intake_at_scale.prepare_database)."""
    if CODE[0] == REPO:
        return STEPS[step](env, payload)
    child = subprocess.run(
        [sys.executable, "-c", _STEP_IN_CHILD, str(BENCH_DIR), step], input=json.dumps(payload),
        env=child_env(env), capture_output=True, text=True, timeout=600, check=False,
        cwd=CODE[0])  # `-c` puts the working folder first on sys.path
    if child.returncode != 0:
        raise RuntimeError(f"step {step} failed: {child.stderr[-2000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])



# ---------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------


@dataclass
class PushPhase:
    label: str
    rate: float
    pushes: list[PushRequest]
    outcomes: list[Outcome]
    sent_at: list[float]  # wall clock each push was due (its latency counts from there)
    seconds: float
    drained_at: float | None
    cpu: dict[str, float] = field(default_factory=dict)
    latency_ms: list[float] = field(default_factory=list)  # filled in after the run

    @property
    def load_end(self) -> float:
        return self.sent_at[-1] if self.sent_at else math.nan


def events_in_store(shopify: ShopifyBench, numbers: set[str]) -> int:
    """How many of `numbers` have their pushed event in the store."""
    seen = 0
    for fulfillment in shopify.fulfillments():
        if numbers.intersection(fulfillment["tracking"]) and any(
                e["status"] == PUSHED_STATUS for e in fulfillment["events"]):
            seen += 1
    return seen


def run_phase(label: str, rate: float, pushes: list[PushRequest], port: int,
              args: argparse.Namespace, shopify: ShopifyBench, monitor: Monitor,
              components: Components, alive: Sequence[Proc]) -> PushPhase:
    print(f"{label}: {len(pushes)} pushes at {rate:g}/s ...", file=sys.stderr)
    if args.quiet_limit > 0:
        wait_for_quiet(args.quiet_limit, args.quiet_wait)
    split = CpuSplit(components).start()
    # open_loop sends push i at (its start + 0.1 s) + i / rate; its start is now.
    first_due = time.time() + 0.1
    outcomes, seconds = open_loop(port, pushes, rate, args.client_threads, timeout=10.0)
    numbers = {p.webhook_id for p in pushes}
    drained_at: float | None = None
    with contextlib.suppress(RuntimeError):
        wait_until(lambda: events_in_store(shopify, numbers) == len(numbers)
                   and monitor.idle(), args.drain_timeout, "every event in the store", alive)
        drained_at = time.time()
    cpu = split.stop()
    phase = PushPhase(label, rate, pushes, outcomes,
                      [first_due + i / rate for i in range(len(pushes))], seconds, drained_at,
                      cpu)
    intake = summarize("DropTrack", label, outcomes, seconds)
    print(f"  intake p99 {fmt(intake.p99_ms)} ms, {intake.errors} errors; all in the store "
          f"{fmt((drained_at or math.nan) - phase.load_end)} s after the last push",
          file=sys.stderr)
    return phase


@dataclass
class Check:
    ok: bool
    text: str


def fill_in_and_check(phases: Sequence[PushPhase], all_numbers: dict[str, str],
                      fulfillments: Sequence[dict[str, Any]], not_shown: int,
                      shown_by: str, states: Counter[str]) -> Check:
    """Latencies from the sandbox's event times; exactly once; `not_shown` pushed orders
    whose DropTrack view (`shown_by`) does not say in transit."""
    by_number: dict[str, list[dict[str, Any]]] = {}
    for fulfillment in fulfillments:
        for number in fulfillment["tracking"]:
            by_number.setdefault(number, []).append(fulfillment)
    problems: list[str] = []
    pushed: set[str] = set()
    for phase in phases:
        for push, due, outcome in zip(phase.pushes, phase.sent_at, phase.outcomes,
                                      strict=True):
            number = push.webhook_id
            pushed.add(number)
            if outcome.inbox_id is None:
                problems.append(f"{number}: push not stored ({outcome.status} {outcome.error})")
                continue
            found = by_number.get(number, [])
            events = [e for f in found for e in f["events"] if e["status"] == PUSHED_STATUS]
            if len(found) != 1 or len(events) != 1:
                problems.append(f"{number}: {len(found)} fulfillments, {len(events)} "
                                f"{PUSHED_STATUS} events")
            if events:
                phase.latency_ms.append(1000 * (parse_time(events[0]["created_at"]) - due))
    stray = [n for n in all_numbers if n not in pushed and any(
        e["status"] == PUSHED_STATUS for f in by_number.get(n, []) for e in f["events"])]
    if stray:
        problems.append(f"{len(stray)} parcels never pushed have an {PUSHED_STATUS} event")
    missing = [n for n in all_numbers if n not in by_number]
    if missing:
        problems.append(f"{len(missing)} parcels have no fulfillment")
    if states.get("dead", 0) or set(states) - {"done"}:
        problems.append(f"jobs not all done: {dict(states)}")
    if not_shown:
        problems.append(f"{not_shown} pushed orders not in transit ({shown_by})")
    shapes = Counter("+".join(e["status"] for e in f["events"]) or "none" for f in fulfillments)
    text = (f"{len(pushed)} pushes, {len(all_numbers)} parcels, {len(fulfillments)} "
            f"fulfillments in the store, their events: "
            f"{', '.join(f'{shape} x {n}' for shape, n in shapes.most_common())}; "
            f"jobs {dict(states)}; in transit ({shown_by}) "
            f"for {len(pushed) - not_shown} of {len(pushed)}")
    if problems:
        text += "; PROBLEMS: " + "; ".join(problems[:10])
    return Check(not problems, text)


DROPTRACK_PARTS = ("web", "workers", "scheduler", "PostgreSQL", "Redis")


def result_table(phases: Sequence[PushPhase]) -> str:
    lines = ["| pushes/s | pushes | intake p50 / p99 ms | intake errors | push → store p50 / "
             "p90 / p99 / max ms | last event after the last push s | CPU ms per push: web / "
             "workers / scheduler / PostgreSQL / Redis / all DropTrack | Shopify sandbox CPU "
             "ms per push | other CPU (% of one) | p99 ≤ 5 s |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for p in phases:
        intake = summarize("DropTrack", p.label, p.outcomes, p.seconds)
        lat = sorted(p.latency_ms)
        elapsed = ((p.drained_at or math.nan) - (p.sent_at[0] - 0.1)) if p.sent_at else math.nan
        per_push = {name: 10 * p.cpu.get(name, 0.0) * elapsed / max(1, len(p.pushes))
                    for name in (*DROPTRACK_PARTS, "shopify")}  # % of a CPU x s -> ms
        parts = " / ".join(fmt(per_push[name]) for name in DROPTRACK_PARTS)
        total = sum(per_push[name] for name in DROPTRACK_PARTS)
        met = percentile(lat, 0.99) <= TARGET_P99_S * 1000 and intake.errors == 0
        lines.append(
            f"| {p.rate:g} | {len(p.pushes)} | {fmt(intake.p50_ms)} / {fmt(intake.p99_ms)} | "
            f"{intake.errors} | {fmt(percentile(lat, 0.5), 0)} / {fmt(percentile(lat, 0.9), 0)}"
            f" / {fmt(percentile(lat, 0.99), 0)} / {fmt(lat[-1] if lat else math.nan, 0)} | "
            f"{fmt((p.drained_at or math.nan) - p.load_end)} | {parts} / {fmt(total)} | "
            f"{fmt(per_push['shopify'])} | {fmt(p.cpu.get('other', math.nan), 0)} | "
            f"{'yes' if met else '**no**'} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=("scaled-out", "embedded"), default="scaled-out",
                        help="scaled-out: gunicorn + scheduler + Dramatiq workers on "
                             "PostgreSQL; embedded: one `droptrack serve` on SQLite")
    parser.add_argument("--db", choices=("postgresql", "sqlite"),
                        help="database (default: postgresql scaled out, sqlite embedded)")
    parser.add_argument("--rates", default="10,30", help="pushes per second, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--warmup", type=int, default=20, help="pushes before the first rate")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--job-workers", type=int, default=3)
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--worker-nice", type=int, default=0)
    parser.add_argument("--client-threads", type=int, default=32)
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--quiet-limit", type=float, default=0.0,
                        help="before each rate wait until other processes use less than this "
                             "percent of one CPU (0: do not wait)")
    parser.add_argument("--quiet-wait", type=float, default=30.0)
    parser.add_argument("--baseline-source", type=Path,
                        help="first run the same phases with DropTrack on this checkout's code "
                             "(e.g. a `git worktree` of the baseline commit), then on this "
                             "one's, in the same invocation")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    try:
        args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error("--rates: comma-separated numbers")
    if not (args.rate_list and all(0 < r <= 500 for r in args.rate_list)
            and 1 <= args.duration <= 300 and 0 <= args.warmup <= 1000):
        parser.error("an option is out of its sensible range")
    if args.db is None:
        args.db = "sqlite" if args.layout == "embedded" else "postgresql"
    return args


def run(args: argparse.Namespace, folder: Path, stack: contextlib.ExitStack) -> int:
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}", file=sys.stderr)
    print(f"machine: {machine_summary()}", file=sys.stderr)
    embedded = args.layout == "embedded"
    counts = [math.ceil(rate * args.duration) for rate in args.rate_list]
    total = args.warmup + sum(counts)
    pg: PgServer | None = None if args.db == "sqlite" else stack.enter_context(postgres())
    db_url = stack.enter_context(database_url(args.db, pg, folder))
    components = Components(None if pg is None else pg.pid)
    redis_proc, redis_url = start_redis(folder)
    stack.callback(stop_process, redis_proc)
    components.add("Redis", redis_proc.process.pid)
    supplier = start_sandbox(folder)
    stack.callback(stop_process, supplier.proc)
    components.add("supplier", supplier.proc.process.pid)
    shopify = start_shopify(folder, total)
    stack.callback(stop_process, shopify.proc)
    components.add("shopify", shopify.proc.process.pid)

    env = droptrack_env(folder, db_url, redis_url, embedded=embedded)
    env["DROPTRACK_TRACKING_SEVENTEEN_TRACK_KEY"] = TRACK_KEY
    # Nothing listens there: no call to 17TRACK is expected (numbers are registered, no poll
    # is due); one would fail and show as a failed job.
    env["DROPTRACK_TRACKING_SEVENTEEN_TRACK_URL"] = f"http://127.0.0.1:{free_port()}/track/v2.2"
    setup = shopify.get("/bench/setup")
    store_id = in_checkout("prepare", env, {"secret": secrets.token_hex(24),
                                            "supplier_url": supplier.url, "setup": setup,
                                            "shopify_url": shopify.url})

    web, settings = start_web(args, env, folder, stack, components)
    wait_healthy(web)
    background = start_background(args, env, folder, stack, components)
    alive = [*background]
    db = create_engine(db_url, pool_size=2)
    stack.callback(db.dispose)
    monitor = Monitor(db, redis_url, components)
    print(f"{total} orders: forwarding ...", file=sys.stderr)
    wait_until(lambda: monitor.sample().forwarded >= total and monitor.idle(), 300,
               "every order forwarded", alive)
    numbers: dict[str, str] = in_checkout("ship", env, {})
    print(f"{len(numbers)} parcels: creating their fulfillments ...", file=sys.stderr)
    wait_until(lambda: len(shopify.fulfillments()) >= total and monitor.idle(), 300,
               "every fulfillment in the store", alive)
    in_checkout("register", env, {"numbers": list(numbers)})
    pushes = make_pushes(list(numbers), TRACK_KEY)

    warm = run_phase("warm-up", max(args.rate_list), pushes[:args.warmup], web.port, args,
                     shopify, monitor, components, alive) if args.warmup else None
    phases = []
    offset = args.warmup
    monitor.start()
    stack.callback(monitor.stop)
    for rate, count in zip(args.rate_list, counts, strict=True):
        phases.append(run_phase(f"{rate:g}/s", rate, pushes[offset:offset + count], web.port,
                                args, shopify, monitor, components, alive))
        offset += count
    monitor.stop()
    all_phases = [*([warm] if warm else []), *phases]
    pushed = [p.webhook_id for phase in all_phases for p in phase.pushes]
    not_shown, shown_by = in_checkout("shown", env, {
        "store_id": store_id, "numbers": pushed, "refs": [numbers[n] for n in pushed]})
    check = fill_in_and_check(all_phases, numbers, shopify.fulfillments(), not_shown,
                              shown_by, job_states(db))

    print()
    print(f"Machine: {machine_summary()}")
    print(f"Source: {source_note()}")
    if embedded:
        print(f"layout: embedded, one `droptrack serve` (web, dispatcher, scheduler), {args.db}")
    else:
        print(f"layout: scaled out, gunicorn {' '.join(settings)}; {args.job_workers} x "
              f"droptrack worker --processes 1 --threads {args.worker_threads}; 1 x droptrack "
              f"scheduler; {args.db}")
    print(f"{total} orders forwarded and fulfilled before the pushes; {args.warmup} warm-up "
          f"pushes; one push per parcel ({PUSHED_STATUS})")
    print()
    print(result_table(phases))
    print()
    print(f"- exactly once: {'OK' if check.ok else 'FAILED'} ({check.text})")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine_summary(), "layout": args.layout, "db": args.db,
            "phases": [{"rate": p.rate, "pushes": len(p.pushes), "cpu": p.cpu,
                        "intake_errors": summarize("", "", p.outcomes, p.seconds).errors,
                        "stored": sum(1 for o in p.outcomes if o.inbox_id is not None),
                        "latency_ms": {q: percentile(sorted(p.latency_ms), q)
                                       for q in (0.5, 0.9, 0.99, 1.0)}} for p in phases],
            "exactly_once": check.ok, "exactly_once_text": check.text}, indent=2))
    return 0 if check.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sources = [REPO] if args.baseline_source is None else [args.baseline_source.resolve(), REPO]
    worst = 0
    for source in sources:
        CODE[0] = source  # whose code the DropTrack processes and the steps run
        if len(sources) > 1:
            print(f"\n## {'baseline' if source != REPO else 'this checkout'}: {source_note()}\n",
                  flush=True)
        with temp_dir(args.keep, "droptrack-bench-push-") as folder, \
                contextlib.ExitStack() as stack:
            try:
                worst = max(worst, run(args, folder, stack))
            except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as exc:
                print(f"benchmark failed: {exc}", file=sys.stderr)
                return 2
        sys.stdout.flush()
    return worst


if __name__ == "__main__":
    sys.exit(main())
