"""Webhook-intake benchmark: DropTrack's POST /webhooks/shopify against a bare HMAC endpoint.

    .venv/bin/python bench/webhook_intake.py [--rate 200 --duration 20 --workers 2]

What it does, in one run:

1. makes a temp dir, prepares a SQLite database there with the `droptrack` CLI (db upgrade,
   one Shopify store with a known webhook secret) and starts DropTrack (`integration.web.wsgi:app`)
   under gunicorn on a free 127.0.0.1 port;
2. starts the baseline, `bench/bare_endpoint.py` (verify the HMAC, answer 200), under the same
   gunicorn settings on another port;
3. per target, one at a time: a warm-up, then (a) a fixed-rate open-loop run (Python threads send
   request i at start + i/rate and latency counts from that intended time, so a stalled server
   cannot hide its queueing: no coordinated omission) and (b) a closed-loop max-throughput run
   with `wrk` (Debian's wrk 4.1 has no constant-rate mode, hence the Python generator for (a));
4. checks that every "stored" acknowledgement has its row in DropTrack's `inbox` table;
5. prints a markdown table of the results and the targets;
6. stops both servers, whatever happened.

Every request carries a realistic ~6 KB orders/create body with its own order id and its own
X-Shopify-Webhook-Id, signed with the store's secret. wrk's Lua has no HMAC, so the requests are
pre-signed here and written to one data file per wrk thread that the Lua script reads in order.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from cpu_meter import CpuMeter
from scale_common import machine_summary

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
SHOP = "bench.myshopify.com"
TOPIC = "orders/create"
API_VERSION = "2026-07"
WEBHOOK_PATH = "/webhooks/shopify"
TARGET_P99_MS = 50.0
TARGET_THROUGHPUT_RATIO = 0.5
TRIGGERED_AT = "2026-07-10T16:15:47.000000Z"

# Why `--workers 2 --worker-class sync` by default on a 2-core machine: intake is CPU-bound
# Python plus one SQLite write transaction, and SQLite admits one writer at a time. One
# process per core keeps both cores busy; 3 or 4 workers measured no better (0.45 each on
# 2026-11-26), and gthread threads share one GIL per process. See docs/benchmarks.md.
GUNICORN_CHOICE = "sync workers, one per core"
NOISY_PEAK_PCT = 50.0  # a phase is flagged when other processes took this much of a CPU for 1 s

# ---------------------------------------------------------------------------------------------
# Request bodies and signatures
# ---------------------------------------------------------------------------------------------


def money_set(amount: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "USD"},
    }


def address(first: str, last: str, street: str, city: str, zip_code: str) -> dict[str, Any]:
    return {
        "first_name": first, "address1": street, "phone": "555-555-0142", "city": city,
        "zip": zip_code, "province": "Kentucky", "country": "United States", "last_name": last,
        "address2": None, "company": None, "latitude": None, "longitude": None,
        "name": f"{first} {last}", "country_code": "US", "province_code": "KY",
    }


PRODUCTS = (
    ("Aviator sunglasses", "SKU2006-001", "89.99", 100),
    ("Mid-century lounger", "SKU2006-020", "159.99", 1000),
    ("Bamboo phone stand", "SKU2006-034", "24.50", 180),
    ("Linen tote bag", "SKU2006-051", "32.00", 250),
)


def line_item(item_id: int, product: tuple[str, str, str, int], quantity: int) -> dict[str, Any]:
    name, sku, price, grams = product
    return {
        "id": item_id, "admin_graphql_api_id": f"gid://shopify/LineItem/{item_id}",
        "attributed_staffs": [], "current_quantity": quantity,
        "fulfillable_quantity": quantity, "fulfillment_service": "manual",
        "fulfillment_status": None, "gift_card": False, "grams": grams, "name": name,
        "price": price, "price_set": money_set(price), "product_exists": True,
        "product_id": 788032119674292922 + item_id % 1000, "properties": [],
        "quantity": quantity, "requires_shipping": True, "sales_line_item_group_id": None,
        "sku": sku, "taxable": True, "title": name, "total_discount": "0.00",
        "total_discount_set": money_set("0.00"), "variant_id": 642667041472713922,
        "variant_inventory_management": "shopify", "variant_title": None, "vendor": "Acme",
        "tax_lines": [], "duties": [], "discount_allocations": [],
    }


LINE_ITEMS = 1  # keeps the compact body at ~5.5 KB


def order_payload(order_id: int, rng: random.Random) -> dict[str, Any]:
    """An orders/create body shaped like Shopify's 2026-07 sample, unique through its ids."""
    items = [line_item(order_id * 10 + n, rng.choice(PRODUCTS), rng.randint(1, 3))
             for n in range(LINE_ITEMS)]
    subtotal = sum(float(item["price"]) * item["quantity"] for item in items)
    tax = round(subtotal * 0.06, 2)
    total = subtotal + tax + 10.0
    sub, tax_s, tot = f"{subtotal:.2f}", f"{tax:.2f}", f"{total:.2f}"
    number = order_id % 1_000_000
    customer_id = 115310627314723954 + number
    shipping = address("Steve", "Shipper", "123 Shipping Street", "Shippington", "40003")
    return {
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": None, "browser_ip": None, "buyer_accepts_marketing": True,
        "cancel_reason": None, "cancelled_at": None,
        "cart_token": None, "checkout_token": None, "client_details": None,
        "closed_at": None, "confirmation_number": f"X{number:08d}", "confirmed": True,
        "contact_email": "jon@example.com", "created_at": "2026-07-10T12:15:47-04:00",
        "currency": "USD", "current_shipping_price_set": money_set("10.00"),
        "current_subtotal_price": sub, "current_subtotal_price_set": money_set(sub),
        "current_total_additional_fees_set": None, "current_total_discounts": "0.00",
        "current_total_discounts_set": money_set("0.00"), "current_total_duties_set": None,
        "current_total_price": tot, "current_total_price_set": money_set(tot),
        "current_total_tax": tax_s, "current_total_tax_set": money_set(tax_s),
        "customer_locale": "en", "device_id": None, "discount_codes": [],
        "duties_included": False, "email": "jon@example.com", "estimated_taxes": False,
        "financial_status": "paid", "fulfillment_status": None, "landing_site": "/",
        "landing_site_ref": None, "location_id": None,
        "merchant_business_entity_id": "MTU0ODM4MDAwOQ", "merchant_of_record_app_id": None,
        "name": f"#{number}", "note": None, "note_attributes": [], "number": number,
        "order_number": 1000 + number,
        "order_status_url": f"https://{SHOP}/548380009/orders/{order_id:x}/authenticate",
        "original_total_additional_fees_set": None, "original_total_duties_set": None,
        "payment_gateway_names": ["shopify_payments"], "phone": None, "po_number": None,
        "presentment_currency": "USD", "processed_at": "2026-07-10T12:15:47-04:00",
        "reference": None, "referring_site": None, "source_identifier": None,
        "source_name": "web", "source_url": None, "subtotal_price": sub,
        "subtotal_price_set": money_set(sub), "tags": "", "tax_exempt": False,
        "tax_lines": [{"channel_liable": False, "price": tax_s, "price_set": money_set(tax_s),
                       "rate": 0.06, "title": "KY State Tax"}],
        "taxes_included": False, "test": False, "token": uuid.UUID(int=rng.getrandbits(128)).hex,
        "total_discounts": "0.00", "total_discounts_set": money_set("0.00"),
        "total_line_items_price": sub, "total_line_items_price_set": money_set(sub),
        "total_outstanding": "0.00", "total_price": tot, "total_price_set": money_set(tot),
        "total_shipping_price_set": money_set("10.00"), "total_tax": tax_s,
        "total_tax_set": money_set(tax_s), "total_tip_received": "0.00",
        "total_weight": sum(item["grams"] * item["quantity"] for item in items),
        "updated_at": "2026-07-10T12:15:48-04:00", "user_id": None,
        "billing_address": shipping,
        "customer": {
            "id": customer_id, "created_at": None, "updated_at": None,
            "first_name": "Jon", "last_name": "Doe",
            "state": "enabled", "note": None, "verified_email": True,
            "multipass_identifier": None, "tax_exempt": False, "email": "jon@example.com",
            "phone": None, "currency": "USD", "tax_exemptions": [],
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        },
        "discount_applications": [], "fulfillments": [], "line_items": items,
        "payment_terms": None, "refunds": [], "shipping_address": shipping,
        "shipping_lines": [{
            "id": order_id + 7, "carrier_identifier": None, "code": "Standard",
            "discounted_price": "10.00",
            "is_removed": False, "phone": None, "price": "10.00",
            "price_set": money_set("10.00"), "requested_fulfillment_service_id": None,
            "source": "shopify", "title": "Standard Shipping", "tax_lines": [],
            "discount_allocations": [],
        }],
        "returns": [], "line_item_groups": [],
    }


@dataclass(frozen=True)
class SignedRequest:
    webhook_id: str
    event_id: str
    signature: str
    body: bytes
    path: str = WEBHOOK_PATH  # where it is POSTed (bench/push_to_page.py posts other hooks)
    shop: str = SHOP

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": self.signature,
            "X-Shopify-Topic": TOPIC,
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-Event-Id": self.event_id,
            "X-Shopify-Triggered-At": TRIGGERED_AT,
        }


class RequestFactory:
    """Signed deliveries, each with a fresh order id and webhook id for the whole run.
    `shops`: (shop domain, webhook secret) of several stores, taken in turn (default: SHOP
    with `secret`)."""

    def __init__(self, secret: bytes, seed: int = 2026,
                 shops: Sequence[tuple[str, bytes]] = ()) -> None:
        self.secret = secret
        self.shops = list(shops) or [(SHOP, secret)]
        self.rng = random.Random(seed)
        self.next_order_id = 5_500_000_000_000
        self.sizes: list[int] = []

    def make(self, count: int) -> list[SignedRequest]:
        made = []
        for _ in range(count):
            self.next_order_id += 1
            body = json.dumps(order_payload(self.next_order_id, self.rng),
                              separators=(",", ":")).encode("utf-8")
            shop, secret = self.shops[len(self.sizes) % len(self.shops)]
            digest = hmac.new(secret, body, hashlib.sha256).digest()
            made.append(SignedRequest(
                webhook_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                event_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                signature=base64.b64encode(digest).decode("ascii"), body=body, shop=shop,
            ))
            self.sizes.append(len(body))
        return made


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------


def venv_bin(name: str) -> str:
    for candidate in (REPO / ".venv" / "bin" / name, Path(sys.executable).parent / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found (install the project with its dev extras)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def gunicorn_args(workers: int, threads: int) -> list[str]:
    worker_class = "sync" if threads == 1 else "gthread"
    return ["--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
            "--timeout", "30", "--graceful-timeout", "10", "--backlog", "2048",
            "--log-level", "warning"]


def start_gunicorn(name: str, app_spec: str, settings: list[str], env: dict[str, str],
                   workdir: Path, extra: Sequence[str] = ()) -> Server:
    port = free_port()
    log_path = workdir / f"{name}.log"
    command = [venv_bin("gunicorn"), "--bind", f"127.0.0.1:{port}", *settings, *extra, app_spec]
    with log_path.open("wb") as log:
        # Own session: a Ctrl-C in the terminal reaches only this script, which stops the server.
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Server(name=name, process=process, port=port, log_path=log_path)


def wait_healthy(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n"
                               f"{server.log_tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not healthy after {timeout:.0f}s:\n{server.log_tail()}")


def stop_server(server: Server, timeout: float = 20.0) -> None:
    """SIGTERM to the gunicorn arbiter (graceful), then SIGKILL to its own process group."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"{server.name}: no exit after {timeout:.0f}s, killing", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the session this script created
            process.wait(timeout=10)
    print(f"stopped {server.name} (exit {process.returncode})", file=sys.stderr)


def droptrack_env(workdir: Path) -> dict[str, str]:
    config = workdir / "droptrack.toml"
    config.write_text(
        "[app]\nmode = \"production\"\n\n"
        f"[database]\nurl = \"sqlite:///{workdir / 'droptrack.db'}\"\n\n"
        "[dispatcher]\nenabled = false\n\n[scheduler]\nenabled = false\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPTRACK_")}
    env["DROPTRACK_CONFIG"] = str(config)
    env["DROPTRACK_DATABASE_URL"] = f"sqlite:///{workdir / 'droptrack.db'}"
    env["DROPTRACK_DISPATCHER_ENABLED"] = "false"
    env["DROPTRACK_SCHEDULER_ENABLED"] = "false"
    env["DROPTRACK_SECURITY_SECRET_KEY"] = secrets.token_urlsafe(48)
    env["DROPTRACK_SECURITY_ENCRYPTION_KEYS"] = run_cli(["keys", "generate"], env).strip()
    return env


def run_cli(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([venv_bin("droptrack"), *args], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"droptrack {' '.join(args[:2])} failed:\n{result.stderr}")
    return result.stdout


def prepare_database(env: dict[str, str], webhook_secret: str) -> int:
    run_cli(["db", "upgrade"], env)
    out = run_cli(["stores", "add-shopify", "--shop", SHOP, "--token", "t",
                   "--webhook-secret", webhook_secret], env)
    return int(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Load generation
# ---------------------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    target: str
    mode: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    responses: int = 0
    stored: int = 0
    duplicates: int = 0
    other_cpu_pct: float = math.nan  # CPU used by processes outside this benchmark
    other_cpu_peak_pct: float = math.nan  # the same, busiest 1 s window
    # wrk phase: CPU time (user + system) of the server's processes per answered request,
    # which depends far less on what else runs on the machine than requests/s does
    server_cpu_us: float = math.nan
    notes: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    latency_s: float
    status: int | None  # None: no HTTP response (connection error, timeout, not sent)
    inbox_id: int | None = None
    duplicate: bool = False
    error: str = ""


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def send(port: int, request: SignedRequest, timeout: float) -> Outcome:
    """One delivery on a fresh connection (gunicorn sync workers close after each response)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", request.path, body=request.body, headers=request.headers())
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(time.perf_counter() - started, None, error=type(exc).__name__)
    finally:
        conn.close()
    outcome = Outcome(time.perf_counter() - started, response.status)
    if response.status == 200:
        with contextlib.suppress(ValueError):
            answer = json.loads(data)
            if answer.get("status") == "stored" and isinstance(answer.get("id"), int):
                outcome.inbox_id = answer["id"]
            elif answer.get("status") == "duplicate":
                outcome.duplicate = True
    return outcome


def summarize(target: str, mode: str, outcomes: Sequence[Outcome], seconds: float) -> PhaseResult:
    answered = sorted(o.latency_s * 1000 for o in outcomes if o.status is not None)
    ok = [o for o in outcomes if o.status is not None and 200 <= o.status < 300]
    errors = len(outcomes) - len(ok)
    result = PhaseResult(
        target=target, mode=mode, requests_per_s=len(ok) / seconds if seconds > 0 else 0.0,
        p50_ms=percentile(answered, 0.50), p99_ms=percentile(answered, 0.99),
        max_ms=answered[-1] if answered else math.nan, errors=errors, responses=len(answered),
        stored=sum(1 for o in ok if o.inbox_id is not None),
        duplicates=sum(1 for o in ok if o.duplicate),
    )
    kinds: dict[str, int] = {}
    for o in outcomes:
        if o.status is None or not 200 <= o.status < 300:
            key = o.error or f"HTTP {o.status}"
            kinds[key] = kinds.get(key, 0) + 1
    if kinds:
        result.notes.append("errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items())))
    return result


def warm_up(port: int, requests: Sequence[SignedRequest]) -> list[Outcome]:
    return [send(port, request, timeout=10) for request in requests]


def open_loop(port: int, requests: Sequence[SignedRequest], rate: float, client_threads: int,
              timeout: float) -> tuple[list[Outcome], float]:
    """Send request i at start + i/rate from a thread pool; latency from the intended time.

    A request whose intended time has passed (all threads busy with a slow server) goes out
    as soon as a thread frees up and its wait counts in its latency. Bounded: requests not
    sent by the deadline are errors, threads are joined with a timeout.
    """
    total = len(requests)
    interval = 1.0 / rate
    start = time.perf_counter() + 0.1
    send_deadline = start + total * interval + timeout
    outcomes: list[Outcome | None] = [None] * total
    lock = threading.Lock()
    cursor = [0]

    def worker() -> None:
        while True:
            with lock:
                index = cursor[0]
                cursor[0] += 1
            if index >= total:
                return
            intended = start + index * interval
            now = time.perf_counter()
            if now > send_deadline:
                outcomes[index] = Outcome(now - intended, None, error="not sent")
                continue
            if intended > now:
                time.sleep(intended - now)
            outcome = send(port, requests[index], timeout)
            outcome.latency_s = time.perf_counter() - intended
            outcomes[index] = outcome

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(client_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, send_deadline + timeout + 5 - time.perf_counter()))
    finished = time.perf_counter()
    final = [o if o is not None else Outcome(finished - start, None, error="unfinished")
             for o in outcomes]
    last = max((start + i * interval + o.latency_s for i, o in enumerate(final)
                if o.status is not None), default=finished)
    return final, last - start


WRK_SCRIPT = r"""
-- Cycles through pre-signed deliveries, one data file per wrk thread; a line is
-- webhook_id TAB event_id TAB signature TAB body. Records the inbox ids acknowledged "stored".
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  data = assert(io.open(args[1] .. "." .. tid, "r"))
  issued, wrapped, stored, duplicate, other = 0, 0, 0, 0, 0
  acked = {}
end

function request()
  local line = data:read("*l")
  if line == nil then
    wrapped = wrapped + 1
    data:seek("set")
    line = data:read("*l")
  end
  issued = issued + 1
  local webhook_id, event_id, signature, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  return wrk.format("POST", "/webhooks/shopify", {
    ["Host"] = wrk.host .. ":" .. wrk.port,
    ["Content-Type"] = "application/json",
    ["X-Shopify-Hmac-Sha256"] = signature,
    ["X-Shopify-Topic"] = "orders/create",
    ["X-Shopify-Shop-Domain"] = "bench.myshopify.com",
    ["X-Shopify-API-Version"] = "2026-07",
    ["X-Shopify-Webhook-Id"] = webhook_id,
    ["X-Shopify-Event-Id"] = event_id,
    ["X-Shopify-Triggered-At"] = "2026-07-10T16:15:47.000000Z",
  }, body)
end

function response(status, headers, body)
  if status == 200 and body:find('"stored"', 1, true) then
    stored = stored + 1
    local id = body:match('"id"%s*:%s*(%d+)')
    if id then acked[#acked + 1] = id end
  elseif status == 200 and body:find('"duplicate"', 1, true) then
    duplicate = duplicate + 1
  elseif status ~= 200 then
    other = other + 1
  end
end

function done(summary, latency, requests)
  local totals = {issued = 0, wrapped = 0, stored = 0, duplicate = 0, other = 0}
  local out = assert(io.open(os.getenv("BENCH_WRK_ACKED"), "w"))
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + (thread:get(key) or 0)
    end
    local ids = thread:get("acked")
    if ids then
      for _, id in ipairs(ids) do out:write(id, "\n") end
    end
  end
  out:close()
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%.1f,"p99_us":%.1f,"max_us":%.1f,"issued":%d,' ..
    '"wrapped":%d,"stored":%d,"duplicate":%d,"non200":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, totals.issued,
    totals.wrapped, totals.stored, totals.duplicate, totals.other))
end
"""


def write_wrk_data(path_prefix: Path, requests: Sequence[SignedRequest], threads: int) -> None:
    for tid in range(threads):
        with open(f"{path_prefix}.{tid}", "wb") as handle:
            for request in requests[tid::threads]:
                assert b"\t" not in request.body and b"\n" not in request.body
                handle.write(f"{request.webhook_id}\t{request.event_id}\t"
                             f"{request.signature}\t".encode() + request.body + b"\n")


def run_wrk(target: str, port: int, script: Path, data_prefix: Path, acked_path: Path,
            threads: int, connections: int, duration: int) -> tuple[PhaseResult, list[int]]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}{WEBHOOK_PATH}", "--",
               str(data_prefix)]
    env = {**os.environ, "BENCH_WRK_ACKED": str(acked_path)}
    result = subprocess.run(command, capture_output=True, text=True, env=env,
                            timeout=duration + 120, check=False)
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    stats = json.loads(line.removeprefix("BENCH_JSON "))
    seconds = stats["duration_us"] / 1e6
    errors = sum(stats[k] for k in ("connect", "read", "write", "status", "timeout"))
    phase = PhaseResult(
        target=target, mode=f"max throughput (wrk -t{threads} -c{connections} -d{duration}s)",
        requests_per_s=(stats["requests"] - stats["status"]) / seconds,
        p50_ms=stats["p50_us"] / 1000, p99_ms=stats["p99_us"] / 1000,
        max_ms=stats["max_us"] / 1000, errors=errors, responses=stats["requests"],
        stored=stats["stored"], duplicates=stats["duplicate"],
    )
    if stats["wrapped"]:
        phase.notes.append(f"wrk cycled its request pool {stats['wrapped']} time(s)")
    if errors:
        phase.notes.append("wrk errors: " + ", ".join(
            f"{k} {stats[k]}" for k in ("connect", "read", "write", "status", "timeout")
            if stats[k]))
    phase.notes.append(f"wrk issued {stats['issued']} requests, {stats['requests']} answered")
    acked = [int(x) for x in acked_path.read_text().split()] if acked_path.exists() else []
    return phase, acked


# ---------------------------------------------------------------------------------------------
# Other load on the machine (the numbers mean little when something else shares the cores)
# ---------------------------------------------------------------------------------------------

class NoiseSampler:
    """Samples other processes' CPU use in 1 s windows while a phase runs (average and peak)."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._total = CpuMeter()

    def start(self) -> None:
        self.samples = []
        self._stop.clear()
        self._total.start()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        meter = CpuMeter()
        for _ in range(100_000):  # bounded; stop() ends it long before
            meter.start()
            if self._stop.wait(self.window):
                return
            self.samples.append(meter.other_pct())

    def stop(self) -> tuple[float, float]:
        """(average, peak window) percent of one CPU used by other processes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self._total.other_pct(), max(self.samples, default=math.nan)


def wait_for_quiet(limit_pct: float, max_wait: float, window: float = 3.0) -> float:
    """Wait (bounded) until other processes use under limit_pct of one CPU; return that use."""
    deadline = time.monotonic() + max_wait
    meter = CpuMeter()
    while True:
        meter.start()
        time.sleep(window)
        other = meter.other_pct()
        if other < limit_pct or time.monotonic() + window > deadline:
            return other
        print(f"  machine busy with other work ({other:.0f}% of a CPU), waiting ...",
              file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def session_cpu_seconds(leader: int) -> float:
    """User + system CPU seconds of the live processes in the session `leader` started (the
    gunicorn arbiter and its workers: `start_new_session`)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == leader:  # field 6 (session id), counted after "pid (comm)"
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def fmt(value: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def markdown_table(results: Sequence[PhaseResult]) -> str:
    rows = ["| target | mode | requests/s | p50 ms | p99 ms | max ms | errors "
            "| other CPU avg / peak |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    rows += [f"| {r.target} | {r.mode} | {fmt(r.requests_per_s)} | {fmt(r.p50_ms)} | "
             f"{fmt(r.p99_ms)} | {fmt(r.max_ms)} | {r.errors} | "
             f"{fmt(r.other_cpu_pct, 0)}% / {fmt(r.other_cpu_peak_pct, 0)}% |" for r in results]
    return "\n".join(rows)


def inbox_check(db_path: Path, store_id: int, acked_ids: Sequence[int], stored: int,
                in_flight_bound: int) -> tuple[bool, str]:
    """Every "stored" acknowledgement has its inbox row; rows without an ack are explained."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
        keys = db.execute("SELECT COUNT(DISTINCT dedupe_key) FROM inbox").fetchone()[0]
        ids = {row[0] for row in db.execute("SELECT id FROM inbox WHERE store_id = ?",
                                            (store_id,))}
    acked = set(acked_ids)
    missing = acked - ids
    unacked = rows - len(acked)
    ok = (not missing and len(acked) == len(acked_ids) == stored and rows == keys
          and 0 <= unacked <= in_flight_bound)
    text = (f"inbox rows: {rows} (distinct dedupe keys: {keys}); \"stored\" responses: {stored}; "
            f"acknowledged ids missing from inbox: {len(missing)}; rows committed without a "
            f"received ack (in flight when wrk stopped, or timed out): {unacked} "
            f"(at most {in_flight_bound} possible)")
    return ok, text


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0, help="fixed rate, requests/s")
    parser.add_argument("--duration", type=int, default=20, help="fixed-rate run, seconds")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn workers (default 2: one per core, see GUNICORN_CHOICE)")
    parser.add_argument("--threads", type=int, default=1,
                        help="gunicorn threads per worker (1: sync workers, >1: gthread)")
    parser.add_argument("--client-threads", type=int, default=64,
                        help="open-loop sender threads (max requests in flight)")
    parser.add_argument("--max-duration", type=int, default=10,
                        help="max-throughput (wrk) run, seconds")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=16)
    parser.add_argument("--wrk-pool", type=int, default=30000,
                        help="distinct signed requests for DropTrack's wrk run (no reuse)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests per target")
    parser.add_argument("--quiet-limit", type=float, default=10.0,
                        help="before each phase wait until other processes use less than this "
                             "percent of one CPU (0 disables the wait)")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="longest wait for a quiet machine before each phase, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (DB, logs)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if not (1 <= args.rate <= 10_000 and 1 <= args.duration <= 600
            and 1 <= args.max_duration <= 600 and 1 <= args.workers <= 64
            and 1 <= args.threads <= 64 and 1 <= args.client_threads <= 512
            and 1 <= args.wrk_threads <= args.wrk_connections <= 1024
            and 0 <= args.warmup <= 10_000 and 1_000 <= args.wrk_pool <= 200_000
            and 0 <= args.quiet_limit <= 200 and 0 <= args.quiet_wait <= 3600):
        parser.error("an option is out of its sensible range")
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def temp_dir(keep: bool, prefix: str = "droptrack-bench-") -> Iterator[Path]:
    """A scratch folder, removed afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack) -> int:
    webhook_secret = secrets.token_hex(24)
    settings = gunicorn_args(args.workers, args.threads)
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}", file=sys.stderr)
    print(f"machine: {machine_summary()}", file=sys.stderr)
    print(f"gunicorn: {' '.join(settings)}", file=sys.stderr)

    env = droptrack_env(workdir)
    store_id = prepare_database(env, webhook_secret)
    droptrack = start_gunicorn("droptrack", "integration.web.wsgi:app", settings, env, workdir)
    stack.callback(stop_server, droptrack)
    bare_env = {**os.environ, "BENCH_WEBHOOK_SECRET": webhook_secret}
    bare = start_gunicorn("bare", "bare_endpoint:app", settings, bare_env, workdir,
                          extra=["--pythonpath", str(BENCH_DIR)])
    stack.callback(stop_server, bare)
    wait_healthy(droptrack)
    wait_healthy(bare)
    print(f"droptrack on :{droptrack.port}, bare on :{bare.port}, store id {store_id}",
          file=sys.stderr)

    factory = RequestFactory(webhook_secret.encode("utf-8"))
    fixed_count = math.ceil(args.rate * args.duration)
    wrk_script = workdir / "intake.lua"
    wrk_script.write_text(WRK_SCRIPT)
    generated: dict[str, dict[str, Any]] = {}
    for name, pool in (("droptrack", args.wrk_pool), ("bare", min(args.wrk_pool, 5000))):
        generated[name] = {
            "warmup": factory.make(args.warmup),
            "fixed": factory.make(fixed_count),
        }
        prefix = workdir / f"wrk-{name}.tsv"
        write_wrk_data(prefix, factory.make(pool), args.wrk_threads)
        generated[name]["wrk_prefix"] = prefix
    sizes = sorted(factory.sizes)
    body_note = (f"body: {sizes[0]}-{sizes[-1]} bytes (median {sizes[len(sizes) // 2]}), "
                 f"{len(sizes)} distinct signed deliveries")
    print(body_note, file=sys.stderr)

    targets = (("DropTrack", droptrack, "droptrack"), ("bare", bare, "bare"))
    results: list[PhaseResult] = []
    acked_ids: list[int] = []
    stored_total = 0
    # Requests that may have been committed without their answer reaching us: those in flight
    # when wrk stopped, and those that failed in transport (timeouts) after being sent.
    unanswered = 0

    for label, server, key in targets:
        warm = warm_up(server.port, generated[key]["warmup"])
        bad = sum(1 for o in warm if o.status != 200)
        print(f"{label}: warm-up {len(warm)} requests, {bad} not 200", file=sys.stderr)
        if label == "DropTrack":
            acked_ids += [o.inbox_id for o in warm if o.inbox_id is not None]
            stored_total += sum(1 for o in warm if o.inbox_id is not None)
            unanswered += sum(1 for o in warm if o.status is None)

    noise = NoiseSampler()

    def before_phase(what: str) -> None:
        print(f"{what} ...", file=sys.stderr)
        if args.quiet_limit > 0:
            wait_for_quiet(args.quiet_limit, args.quiet_wait)
        noise.start()

    def after_phase(phase: PhaseResult) -> None:
        phase.other_cpu_pct, phase.other_cpu_peak_pct = noise.stop()
        if (phase.other_cpu_pct >= max(args.quiet_limit, 5.0)
                or phase.other_cpu_peak_pct >= NOISY_PEAK_PCT):
            phase.notes.append(
                f"NOISY: other processes used {phase.other_cpu_pct:.0f}% of a CPU on average, "
                f"{fmt(phase.other_cpu_peak_pct, 0)}% in the busiest second")

    mode = f"fixed {args.rate:g} req/s, {args.duration}s (open loop)"
    for label, server, key in targets:
        before_phase(f"{label}: {mode}")
        outcomes, seconds = open_loop(server.port, generated[key]["fixed"], args.rate,
                                      args.client_threads, timeout=10.0)
        phase = summarize(label, mode, outcomes, seconds)
        after_phase(phase)
        results.append(phase)
        if label == "DropTrack":
            acked_ids += [o.inbox_id for o in outcomes if o.inbox_id is not None]
            stored_total += phase.stored
            unanswered += sum(1 for o in outcomes if o.status is None and o.error != "not sent")

    for label, server, key in targets:
        before_phase(f"{label}: wrk max throughput")
        cpu_before = session_cpu_seconds(server.process.pid)
        phase, acked = run_wrk(label, server.port, wrk_script, generated[key]["wrk_prefix"],
                               workdir / f"acked-{key}.txt", args.wrk_threads,
                               args.wrk_connections, args.max_duration)
        cpu = session_cpu_seconds(server.process.pid) - cpu_before
        phase.server_cpu_us = 1e6 * cpu / max(phase.responses, 1)
        phase.notes.append(f"server CPU {cpu:.2f} s: {phase.server_cpu_us:.0f} µs per request")
        after_phase(phase)
        results.append(phase)
        if label == "DropTrack":
            acked_ids += acked
            stored_total += phase.stored
            unanswered += args.wrk_connections + phase.errors

    time.sleep(1.0)  # let requests abandoned by wrk at its deadline finish committing
    ok, check_text = inbox_check(workdir / "droptrack.db", store_id, acked_ids, stored_total,
                                 in_flight_bound=unanswered)

    by = {(r.target, r.mode.split(" ")[0]): r for r in results}
    ratio = by[("DropTrack", "max")].requests_per_s / by[("bare", "max")].requests_per_s
    p99 = by[("DropTrack", "fixed")].p99_ms
    fixed = by[("DropTrack", "fixed")]
    p99_met = p99 < TARGET_P99_MS and fixed.errors == 0
    ratio_met = ratio >= TARGET_THROUGHPUT_RATIO
    # The same comparison by the servers' CPU per request: bare / DropTrack.
    cpu_ratio = by[("bare", "max")].server_cpu_us / by[("DropTrack", "max")].server_cpu_us

    print()
    print(f"Machine: {machine_summary()}")
    print(f"gunicorn: {' '.join(settings)}")
    print(f"Request {body_note}")
    print()
    print(markdown_table(results))
    print()
    print(f"DropTrack throughput / bare throughput: {ratio:.2f}")
    print()
    print(f"- p99 < {TARGET_P99_MS:g} ms at {args.rate:g} req/s on SQLite: "
          f"{'MET' if p99_met else 'MISSED'} (p99 {fmt(p99)} ms, {fixed.errors} errors)")
    print(f"- throughput >= {TARGET_THROUGHPUT_RATIO:.0%} of bare: "
          f"{'MET' if ratio_met else 'MISSED'} ({ratio:.0%}); by the servers' CPU per "
          f"request (bare / DropTrack): {cpu_ratio:.2f}")
    print(f"- no delivery lost: {'OK' if ok else 'FAILED'} ({check_text})")
    print("- other CPU: % of one CPU used by processes outside this benchmark during the phase "
          "(average / busiest second); rows with a high value measured a shared machine")
    for r in results:
        for note in r.notes:
            print(f"- {r.target}, {r.mode}: {note}")
        if r.duplicates:
            print(f"- {r.target}, {r.mode}: {r.duplicates} duplicate answers")

    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine_summary(), "gunicorn": settings, "body": body_note,
            "results": [r.__dict__ for r in results], "ratio": ratio, "cpu_ratio": cpu_ratio,
            "p99_met": p99_met, "ratio_met": ratio_met, "inbox_ok": ok,
            "inbox_check": check_text,
        }, indent=2))
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    with temp_dir(args.keep) as workdir, contextlib.ExitStack() as stack:
        try:
            return run(args, workdir, stack)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
