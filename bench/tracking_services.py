"""Tracking services (issue 15): what a delivered parcel costs over its whole life with push
working, what the fallback costs when push is off, and push-to-store latency on the embedded
default.

    .venv/bin/python bench/tracking_services.py [--parcels 20] [--append-doc]

Everything runs in this process on SQLite (the embedded default): DropTrack's web app (the
webhook intake) and its embedded `Dispatcher` with the default [dispatcher] settings, a
WooCommerce sandbox store, and the 17TRACK, AfterShip and DHL sandboxes, all over real HTTP on
loopback. The parcels come from a spreadsheet supplier (the tests' `Spreadsheet`: orders out
as a CSV, a tracking file back), so they go to the configured tracking service by default.

1. Push working (per push service, real clock): N parcels, each living the sandboxes'
   "delivered" life (China -> customs -> USPS handover -> out for delivery -> delivered, 9
   scans). The sweep registers them; then each round moves every parcel on by one scan
   (`push_next`, a signed push to /webhooks/tracking/<service>) and waits until the store shows
   it. After the last scan the stop and fallback-poll sweeps run once. Counted at the
   sandboxes: API calls by endpoint and credits (17TRACK: quota used; AfterShip: trackings
   created, which its plans bill). Latency per push that changes what the store shows: from
   just before the sandbox POSTs the push to the first moment the store's order has the new
   customer note (polled every 5 ms in process); p50/p95/p99/max.
2. Push off (simulated clock, no store writes): the same lives with no webhook URL, stepped
   hour by hour for 12 days; DropTrack learns only from its fallback poll (`poll_after_hours`,
   a quarter of it when busy). Counted: calls per parcel, and how late DropTrack learned of
   each delivery. DHL (pull only, `dhl_poll_hours`) is measured the same way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scale_common import append_doc, machine_summary  # noqa: E402
from sqlalchemy import select  # noqa: E402

from core.clock import Clock, FrozenClock, SystemClock  # noqa: E402
from integration.accounts import stores  # noqa: E402
from integration.base.config import Settings, load_settings  # noqa: E402
from integration.jobs.dispatcher import Dispatcher  # noqa: E402
from integration.kernel.runtime import Runtime, build_runtime  # noqa: E402
from integration.security.crypto import generate_key  # noqa: E402
from integration.storage import migrate  # noqa: E402
from integration.storage.models import OutboxJob, Shipment, TrackedNumber  # noqa: E402
from integration.sync.tracking.polling import (  # noqa: E402
    POLL_JOB,
    STOP_JOB,
    poll_due,
    stop_finished,
)
from integration.sync.tracking.registration import REGISTER_JOB  # noqa: E402
from integration.sync.tracking.schedule import queue_tracking_jobs  # noqa: E402
from integration.web.app import create_app  # noqa: E402
from sandboxes import aftership as aftership_sandbox  # noqa: E402
from sandboxes import dhl as dhl_sandbox  # noqa: E402
from sandboxes import seventeen_track as seventeen_track_sandbox  # noqa: E402
from sandboxes import woocommerce as woocommerce_sandbox  # noqa: E402
from sandboxes.server import BackgroundServer  # noqa: E402
from tests.helpers.jobs import run_jobs  # noqa: E402
from tests.integration.test_seventeen_track import Spreadsheet  # noqa: E402

HOOKS = {"17track": "/webhooks/tracking/17track", "aftership": "/webhooks/tracking/aftership"}


def settings_for(folder: Path, tracking: dict[str, Any]) -> Settings:
    """The embedded default, on a SQLite file: only what a test setup needs is set."""
    return load_settings(None, environ={}, overrides={
        "database": {"url": f"sqlite:///{folder / 'droptrack.db'}"},
        "security": {"secret_key": "bench-" + "k" * 40, "encryption_keys": [generate_key()],
                     "allow_loopback_http": True, "csv_root": str(folder)},
        "tracking": tracking})


@dataclass
class World:
    runtime: Runtime
    store: Any  # WooCommerceStore
    store_id: int
    servers: list[BackgroundServer]

    def close(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.runtime.close()


def world(folder: Path, clock: Clock, tracking: dict[str, Any]) -> World:
    runtime = build_runtime(settings_for(folder, tracking), clock)
    migrate.upgrade(runtime.db)
    woo = woocommerce_sandbox.build(clock, public_url="http://127.0.0.1",
                                    webhook_delivery="queued", tracking_mode="shipment_tracking")
    woo_server = BackgroundServer(woo)
    woo.extensions["sandbox"].set_site_url(woo_server.url)
    woo_server.start()
    store = woo.extensions["sandbox"]
    key = store.create_key()
    store_id = stores.add_woocommerce_store(runtime, woo_server.url, key.consumer_key,
                                            key.consumer_secret, "hook-secret")
    return World(runtime, store, store_id, [woo_server])


def ship(w: World, folder: Path, numbers: list[str]) -> list[int]:
    sheet = Spreadsheet(w.runtime, w.store_id, folder)
    orders = sheet.woo_orders(w.store, len(numbers))
    sheet.ship(*numbers)
    return orders


def busy(runtime: Runtime) -> bool:
    """A job is due or running (pushes still being stored, processed or written back)."""
    with runtime.db.read() as session:
        return session.scalar(select(OutboxJob.id).where(
            OutboxJob.state.in_(("pending", "running")),
            OutboxJob.next_run_at <= runtime.clock.now()).limit(1)) is not None


def idle(runtime: Runtime, timeout: float = 60.0) -> None:
    """Wait until the outbox holds no job due now (the dispatcher ran them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not busy(runtime):
            return
        time.sleep(0.02)
    raise TimeoutError("jobs still running")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


# --- 1. push working ---------------------------------------------------------------------------


def with_push(service: str, parcels: int) -> dict[str, Any]:
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        folder = Path(tmp)
        if service == "17track":
            app = seventeen_track_sandbox.build(clock, quota_total=100_000)
            tracking = {"service": "17track",
                        "seventeen_track_key": seventeen_track_sandbox.DEFAULT_API_KEY}
        else:
            app = aftership_sandbox.build(clock)
            tracking = {"service": "aftership", "aftership_key": aftership_sandbox.DEFAULT_API_KEY,
                        "aftership_webhook_secret": aftership_sandbox.DEFAULT_WEBHOOK_SECRET}
        sandbox = app.extensions["sandbox"]
        tracker_server = BackgroundServer(app).start()
        tracking["seventeen_track_url" if service == "17track" else "aftership_url"] = (
            tracker_server.url + ("/track/v2.2" if service == "17track"
                                  else aftership_sandbox.PREFIX))
        w = world(folder, clock, tracking)
        w.servers.insert(0, tracker_server)
        web = BackgroundServer(create_app(runtime=w.runtime)).start()
        w.servers.append(web)
        sandbox.webhook_url = web.url + HOOKS[service]
        dispatcher = Dispatcher(w.runtime)
        try:
            numbers = [f"LX{800000000 + i:09d}CN" for i in range(parcels)]
            orders = dict(zip(numbers, ship(w, folder / "sheet", numbers), strict=True))
            dispatcher.start()
            idle(w.runtime)
            queue_tracking_jobs(w.runtime)
            idle(w.runtime)
            latencies: list[float] = []
            for _ in range(9):  # the delivered life's nine scans
                notes = {n: len(w.store.order(o).notes) for n, o in orders.items()}
                sent: dict[str, float] = {}
                for number in numbers:
                    sent[number] = time.perf_counter()
                    sandbox.push_next(number)
                waiting = set(numbers)
                deadline = time.monotonic() + 30
                while waiting and time.monotonic() < deadline:
                    for number in list(waiting):
                        if len(w.store.order(orders[number]).notes) > notes[number]:
                            latencies.append(time.perf_counter() - sent[number])
                            waiting.discard(number)
                    # Pushes that change nothing in the store: done once every job has run.
                    if waiting and not busy(w.runtime):
                        break
                    time.sleep(0.005)
            calls_after_life = dict(sandbox.calls)
            stop_finished(w.runtime, service)  # the stop and fallback sweeps, once each
            poll_due(w.runtime, service)
            idle(w.runtime)
            with w.runtime.db.read() as session:
                delivered = len(list(session.scalars(select(Shipment.id).where(
                    Shipment.status == "delivered"))))
                stopped = len(list(session.scalars(select(TrackedNumber.id).where(
                    TrackedNumber.state == "stopped"))))
        finally:
            dispatcher.stop()
            sandbox.close()
            w.close()
        calls = dict(sandbox.calls)
        credits = (sandbox.quota_used if service == "17track" else calls.get("create", 0))
        total = sum(calls.values())
        return {"service": service, "parcels": parcels, "delivered": delivered,
                "stopped": stopped, "calls": calls, "calls_after_life": calls_after_life,
                "credits_per_parcel": credits / parcels, "calls_per_parcel": total / parcels,
                "latency": latencies}


# --- 2. push off (fallback) and DHL -------------------------------------------------------------


def fallback(service: str, parcels: int) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0)
    clock = FrozenClock(start)
    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        folder = Path(tmp)
        key_settings: dict[str, Any]
        if service == "17track":
            app = seventeen_track_sandbox.build(clock, quota_total=100_000)
            key_settings = {"seventeen_track_key": seventeen_track_sandbox.DEFAULT_API_KEY}
            url_setting, suffix = "seventeen_track_url", "/track/v2.2"
        elif service == "aftership":
            app = aftership_sandbox.build(clock)
            key_settings = {"aftership_key": aftership_sandbox.DEFAULT_API_KEY,
                            "aftership_webhook_secret": "unused"}
            url_setting, suffix = "aftership_url", aftership_sandbox.PREFIX
        else:
            app = dhl_sandbox.build(clock, rate_limit_per_second=None)
            key_settings = {"dhl_key": dhl_sandbox.DEFAULT_API_KEY,
                            "dhl_requests_per_second": 50.0}
            url_setting, suffix = "dhl_url", dhl_sandbox.PREFIX
        sandbox = app.extensions["sandbox"]
        server = BackgroundServer(app).start()
        tracking = {"service": service, **key_settings, url_setting: server.url + suffix}
        w = world(folder, clock, tracking)
        w.servers.insert(0, server)
        try:
            numbers = [f"LX{810000000 + i:09d}CN" if service != "dhl"
                       else f"JJD{810000000000000000 + i}" for i in range(parcels)]
            if service == "dhl":
                for number in numbers:
                    sandbox.ship(number)
            ship(w, folder / "sheet", numbers)
            run_jobs(w.runtime, "supplier.forward")
            life_start = clock.now()
            learned: dict[str, datetime] = {}
            step: Callable[[], object] = (sandbox.deliver_due if service != "dhl"
                                          else (lambda: None))
            for _ in range(12 * 24):
                queue_tracking_jobs(w.runtime)
                for kind in (REGISTER_JOB, POLL_JOB, STOP_JOB):
                    run_jobs(w.runtime, kind)
                step()  # the lives move on; pushes go nowhere (no webhook URL)
                with w.runtime.db.read() as session:
                    for number, status in session.execute(
                            select(TrackedNumber.number, Shipment.status)
                            .join(Shipment, Shipment.id == TrackedNumber.shipment_id)):
                        if status == "delivered" and number not in learned:
                            learned[number] = clock.now()
                clock.advance(timedelta(hours=1))
        finally:
            if hasattr(sandbox, "close"):
                sandbox.close()
            w.close()
        calls = dict(sandbox.calls)
        if service == "dhl":
            calls = {"GET shipments": sum(calls.values())}
        delivered_after = timedelta(hours=196)  # the life's delivery scan
        late = [(at - life_start - delivered_after).total_seconds() / 3600
                for at in learned.values()]
        return {"service": service, "parcels": parcels, "delivered": len(learned),
                "calls": calls, "calls_per_parcel": sum(calls.values()) / parcels,
                "late_hours": late}


# --- report ------------------------------------------------------------------------------------


def report(pushes: list[dict[str, Any]], fallbacks: list[dict[str, Any]], parcels: int) -> str:
    lines = ["### Tracking services (bench/tracking_services.py)\n",
             f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on SQLite (embedded default), "
             f"{machine_summary()}; {parcels} parcels per case.\n",
             "Push working (real clock, the embedded Dispatcher with default settings):\n",
             "| service | delivered | calls by endpoint (whole life) | calls / parcel | "
             "credits / parcel | push-to-store p50 / p95 / p99 / max (s) | samples |",
             "|---|---:|---|---:|---:|---|---:|"]
    for r in pushes:
        lat = r["latency"]
        shown = (f"{statistics.median(lat):.2f} / {percentile(lat, 0.95):.2f} / "
                 f"{percentile(lat, 0.99):.2f} / {max(lat):.2f}") if lat else "-"
        lines.append(f"| {r['service']} | {r['delivered']}/{r['parcels']} | {r['calls']} | "
                     f"{r['calls_per_parcel']:.3f} | {r['credits_per_parcel']:.2f} | {shown} | "
                     f"{len(lat)} |")
    lines += ["", "Push off: the fallback poll alone (simulated clock, 12 days, hourly sweeps; "
              "DHL is pull only):\n",
              "| service | delivered seen | calls by endpoint | calls / parcel | "
              "delivery learned late by (h, median / max) |", "|---|---:|---|---:|---|"]
    for r in fallbacks:
        late = r["late_hours"]
        shown = f"{statistics.median(late):.1f} / {max(late):.1f}" if late else "-"
        lines.append(f"| {r['service']} | {r['delivered']}/{r['parcels']} | {r['calls']} | "
                     f"{r['calls_per_parcel']:.3f} | {shown} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=20)
    parser.add_argument("--append-doc", action="store_true")
    args = parser.parse_args()
    pushes, fallbacks = [], []
    for service in ("17track", "aftership"):
        began = time.monotonic()
        pushes.append(with_push(service, args.parcels))
        print(f"{service} with push: {time.monotonic() - began:.0f} s", file=sys.stderr)
    for service in ("17track", "aftership", "dhl"):
        began = time.monotonic()
        fallbacks.append(fallback(service, args.parcels))
        print(f"{service} push off: {time.monotonic() - began:.0f} s", file=sys.stderr)
    text = report(pushes, fallbacks, args.parcels)
    print(text)
    if args.append_doc:
        append_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
