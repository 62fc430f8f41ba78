"""`droptrack demo` end to end, as a newcomer runs it: a subprocess on a free port at high
speed; both stores connect through their install flows, orders from both reach DropTrack and
both suppliers, tracking shows on each store's own customer page (real Chromium), the
dashboard's needs-attention queue has work and one owner action (confirming an address) sends
the order on, the tracking page finds an order, and SIGTERM stops everything with exit 0."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from playwright.sync_api import Page

from demo.walk import customer_stops, owner_stops, walk

pytestmark = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE_BACKEND") == "postgresql",
    reason="the demo always runs on its own SQLite: tested in the SQLite pass")

SPEED = "28800"  # 8 simulated hours per real second
RUN_FOR_SECONDS = 90  # the demo's own bound; the test stops it earlier with SIGTERM
WAIT_SECONDS = 40.0


class DemoProcess:
    """The demo on `--port 0` (it binds a free port itself, no pick-then-bind race); its
    address is what it prints."""

    def __init__(self, cwd: Path) -> None:
        self.database = cwd / "var" / "demo" / "droptrack.db"
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DROPTRACK_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "integration.cli", "demo", "--port", "0",
             "--speed", SPEED, "--orders-per-minute", "20", "--duration", str(RUN_FOR_SECONDS)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.process.stdout, self.lines),
                                              (self.process.stderr, self.errors))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._lock:
                into.append(line.rstrip("\n"))

    @property
    def base(self) -> str:
        return self.wait_for(r"Dashboard\s+(http://127\.0\.0\.1:\d+)/admin").group(1)

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for reader in self._readers:
            reader.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = WAIT_SECONDS) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found is not None:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"demo output never matched {pattern!r}:\n{self.output()}")

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        connection = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def eventually(self, check: Callable[[], bool], what: str,
                   timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.5)
        raise AssertionError(f"never true: {what}\n{self.output()}")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoProcess]:
    running = DemoProcess(tmp_path)
    try:
        yield running
    finally:
        running.close()


def test_the_demo_tells_the_whole_story_and_stops_cleanly(demo: DemoProcess, page: Page) -> None:
    login = demo.wait_for(r"sign in with\s+(\S+) / (\S+)")
    email, password = login.group(1), login.group(2)

    # Both stores were connected through their install flows (OAuth, wc-auth).
    installs = demo.query("SELECT action FROM audit_log WHERE action IN "
                          "('store.installed', 'store.connected') ORDER BY id")
    assert [row[0] for row in installs] == ["store.installed", "store.connected"]
    platforms = demo.query("SELECT platform FROM stores WHERE state = 'active' ORDER BY id")
    assert [row[0] for row in platforms] == ["shopify", "woocommerce"]

    # Every address the banner prints opens a page (no 404 or 401 at a sandbox's root).
    banner = demo.output().split("Press Ctrl-C", 1)[0].split("is running", 1)[1]
    printed = re.findall(r"^\s+[A-Za-z0-9 ()]+?\s{2,}(http://127\.0\.0\.1:\d+\S*)", banner,
                         re.MULTILINE)
    assert len(printed) >= 8, banner
    for address in printed:
        response = page.request.get(address)
        assert response.status == 200, f"{address} answered {response.status}"

    # Tracking reaches each store's own customer page, and moves beyond "shipped".
    shopify_url = demo.wait_for(
        r"Shopify order #\d+ is now '[^']+' on the store's page:\s+(\S+)").group(1)
    woo_url = demo.wait_for(
        r"WooCommerce order \d+ is now '[^']+' on the store's page:\s+(\S+)").group(1)
    page.goto(shopify_url)
    assert page.locator("a.tracking-number").count() >= 1
    assert page.inner_text(".shipment-status") not in ("", "Shipped")
    page.goto(woo_url)
    number = page.locator("tr.tracking .tracking-number a")
    assert number.count() == 1 and number.inner_text()
    assert page.locator(".woocommerce-OrderUpdate-description").count() >= 1

    # Orders from both stores reached DropTrack and went to every supplier (CJ, AliExpress).
    def forwarded_to_all() -> bool:
        kinds = demo.query("SELECT DISTINCT s.kind FROM supplier_orders o JOIN suppliers s "
                           "ON s.id = o.supplier_id WHERE o.forwarded_at IS NOT NULL")
        return {row[0] for row in kinds} == {"rest", "csv", "cj", "aliexpress"}

    demo.eventually(forwarded_to_all,
                    "orders forwarded to the REST, CSV, CJ and AliExpress suppliers")

    # The spreadsheet supplier sends only numbers: the 17TRACK sandbox tracks its parcels, and
    # its signed pushes move them beyond "shipped" (statuses from a tracking service).
    def moved_by_17track() -> bool:
        return bool(demo.query(
            "SELECT 1 FROM tracked_numbers t JOIN shipments s ON s.id = t.shipment_id "
            "JOIN tracking_events e ON e.shipment_id = s.id WHERE t.service = '17track' "
            "AND e.event_key LIKE '17track:%' AND s.status IN "
            "('in_transit', 'out_for_delivery', 'ready_for_pickup', 'delivered', "
            "'undelivered', 'exception') LIMIT 1")) and bool(demo.query(
            "SELECT 1 FROM inbox WHERE source = '17track' AND state = 'processed' LIMIT 1"))

    demo.eventually(moved_by_17track, "spreadsheet parcels moved on by 17TRACK's pushes")

    # The REST supplier's signed pushes are accepted on the demo's fast clock (the replay
    # window bounds real time in flight), and none is refused as stale.
    demo.eventually(lambda: bool(demo.query("SELECT 1 FROM inbox WHERE source = 'supplier'")),
                    "a supplier push accepted")
    stores_with_orders = demo.query("SELECT COUNT(DISTINCT store_id) FROM orders")
    assert stores_with_orders == [(2,)]

    # DropTrack's tracking page finds an order by number and e-mail.
    tracked = demo.wait_for(r"tracking page \(order (\S+), e-mail (\S+)\):\s+(\S+)")
    page.goto(tracked.group(3))
    page.fill("#email", tracked.group(2))
    page.click("button[type=submit]")
    assert tracked.group(1) in page.content()

    # The dashboard: the needs-attention queue has work; confirming an address forwards.
    page.goto(f"{demo.base}/admin/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.goto(f"{demo.base}/admin/attention")
    assert int(page.inner_text("h1 .badge")) >= 1
    address_item = page.locator("article.queue-item", has_text="Address to confirm").first
    order_link = address_item.locator("h2 a")
    order_number = order_link.inner_text().removeprefix("Order ").strip()
    address_item.locator("a.button", has_text="Correct the address").click()
    page.fill("#ship_address1", "12 Elm Street")
    page.click("#address-card button[type=submit]")
    assert "Address saved" in page.content()
    demo.eventually(lambda: bool(demo.query(
        "SELECT 1 FROM supplier_orders s JOIN orders o ON o.id = s.order_id "
        "WHERE o.number = ? AND o.status != 'pending' AND s.forwarded_at IS NOT NULL",
        order_number)), f"order {order_number} forwarded after the address was confirmed")

    # Variety: orders in at least six statuses.
    demo.eventually(lambda: len(demo.query("SELECT DISTINCT status FROM orders")) >= 6,
                    "orders in six different statuses")

    # The main pages at 1280 px: no sideways scroll, no internal keys, the owner's words only,
    # readable charts (the same walk makes the README's screenshots: scripts/screenshots).
    [(order_id,)] = demo.query("SELECT id FROM orders ORDER BY id LIMIT 1")
    findings = walk(page, owner_stops(demo.base, f"/admin/orders/{order_id}")
                    + customer_stops(shopify_url, woo_url))
    assert findings == [], "\n".join(findings)

    # Alerts that mean something: the stuck parcel is flagged once it is past its route's usual
    # transit time, no parcel delivered within its route's usual time ever was, and the owner's
    # e-mails about orders come as at most one digest a simulated day.
    demo.eventually(lambda: bool(demo.query(
        "SELECT 1 FROM alerts WHERE kind = 'stuck_in_transit'")), "a stuck parcel flagged",
        timeout=60)
    assert_alerts_mean_something(demo)

    # Ctrl-C / SIGTERM: everything stops, exit 0, no traceback, the port is free again.
    port = demo.port
    demo.process.send_signal(signal.SIGTERM)
    assert demo.process.wait(30) == 0
    demo.close()
    errors = "\n".join(demo.errors)
    assert "Traceback" not in errors, errors
    log = (demo.database.parent / "droptrack.log").read_text(encoding="utf-8")
    assert "stale or future push" not in log
    assert "Demo stopped" in demo.output()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def assert_alerts_mean_something(demo: DemoProcess) -> None:
    from email import message_from_bytes

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from integration.engine.eta import delivery_window

    engine = create_engine(f"sqlite:///file:{demo.database}?mode=ro&uri=true")
    try:
        with Session(engine) as session:
            flagged = demo.query(
                "SELECT s.id, so.supplier_id, o.ship_country, "
                "julianday(s.delivered_at) - julianday(s.created_at) "
                "FROM alerts a JOIN shipments s ON s.id = a.shipment_id "
                "JOIN orders o ON o.id = s.order_id "
                "JOIN supplier_orders so ON so.id = s.supplier_order_id "
                "WHERE a.kind = 'stuck_in_transit' AND s.delivered_at IS NOT NULL")
            for shipment, supplier, country, days in flagged:
                usual = delivery_window(session, int(str(supplier)), str(country))[1]
                assert float(str(days)) > usual, (
                    f"parcel {shipment} delivered in {days} days (its route: up to {usual}) "
                    "was flagged stuck")
    finally:
        engine.dispose()
    digests = [str(row[0]) for row in demo.query(
        "SELECT idempotency_key FROM outbox WHERE kind = 'notify.owner_digest'")]
    assert digests and len(set(digests)) == len(digests)  # one per simulated day, by its key
    mail = sorted((demo.database.parent / "mail").glob("*.eml"))
    subjects = [str(message_from_bytes(path.read_bytes())["Subject"]) for path in mail]
    owner = [subject for subject in subjects if subject.startswith("DropTrack:")]
    per_alert = [subject for subject in owner if "needs attention (" in subject]
    assert per_alert == [], per_alert  # order alerts go in the digest
    assert 1 <= sum("your attention" in subject for subject in owner) <= len(digests)
    for subject in subjects:  # short, whole sentences
        assert subject == subject.strip() and len(subject) <= 80, subject


def test_the_readme_quick_start_runs_the_demo() -> None:
    """The README's two set-up commands, parsed from README.md, are the scripts; the run
    script runs the demo (so what the README promises is what `./scripts/run` does)."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"```sh\n(.*?)\n```", quick_start, re.DOTALL) == [
        "./scripts/run", "./scripts/test"]
    script = (root / "scripts" / "run").read_text(encoding="utf-8")
    assert script.rstrip().splitlines()[-1] == 'exec "$VENV/bin/droptrack" demo "$@"'
    for image in re.findall(r"\]\((docs/images/[^)]+\.png)\)", readme):
        assert (root / image).stat().st_size < 200_000, image
