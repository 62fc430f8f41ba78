"""Start everything, run the story, stop everything: `droptrack demo`'s body.

Order of things: the workspace and the one clock (at real pace while setting up), the sandboxes,
DropTrack's web app, the install flows and the rest of the setup, then the dispatcher and the
scheduler, and only then simulated time speeds up and the customers arrive. Stopping reverses
it; every server closes its socket and every thread is joined.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import select

from core.clock import AcceleratedClock
from demo.csv_partner import CsvPartner
from demo.links import Reporter
from demo.mailbox import MailSink
from demo.orders import SHOPIFY, STORY_CYCLE, WOOCOMMERCE, OrderStream
from demo.sandboxes import Sandboxes, port_is_free, preferred_port, start_sandboxes
from demo.setup import SHOPIFY_DOMAIN, Connected, connect_everything
from demo.workspace import (
    DEFAULT_DIR,
    OWNER_EMAIL,
    SUPPLIER_API_KEY,
    DemoSecrets,
    Workspace,
    demo_settings,
    simulated_start,
    simulated_time,
)
from integration.jobs.dispatcher import Dispatcher
from integration.kernel.runtime import Runtime, build_runtime
from integration.scheduling.scheduler import build_scheduler
from integration.storage import migrate
from integration.storage.models import Binding, Order
from integration.web.app import create_app
from sandboxes.server import BackgroundServer

log = logging.getLogger(__name__)
Echo = Callable[[str], None]

TICK_SECONDS = 0.25
SUMMARY_EVERY_SECONDS = 30.0
SAVE_EVERY_SECONDS = 5.0
SWEEP_MIN_SECONDS = 1.0
SWEEP_MAX_SECONDS = 20.0
DEFAULT_PORT = 8080


class DemoError(RuntimeError):
    """The demo cannot start as asked; the message says why and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    port: int | None = None  # None: DEFAULT_PORT when free, else any free port; 0: any
    speed: float = 7200.0  # simulated seconds per real second
    orders_per_minute: float = 6.0
    fresh: bool = True
    duration: float = 0.0  # real seconds; 0: until stopped
    workspace: Path = DEFAULT_DIR
    first_orders: int = len(STORY_CYCLE)  # placed at once, so every story starts right away


@dataclass
class _Running:
    """What has been started so far, stopped in reverse order."""

    stops: list[tuple[str, Callable[[], object]]] = field(default_factory=list)

    def add(self, name: str, stop: Callable[[], object]) -> None:
        self.stops.append((name, stop))

    def stop_all(self) -> None:
        for name, stop in reversed(self.stops):
            try:
                stop()
            except Exception:
                log.exception("demo: stopping %s failed", name)
        self.stops.clear()


def retime_scheduler(scheduler: BaseScheduler, speed: float) -> None:
    """Scale every sweep's interval from simulated to real time, within sane bounds (a sweep
    meant for every 5 simulated minutes runs every second at 3600x, not 12 times a second)."""
    for job in scheduler.get_jobs():
        trigger = job.trigger
        if not isinstance(trigger, IntervalTrigger):
            continue
        seconds = trigger.interval.total_seconds() / speed
        scheduler.reschedule_job(job.id, trigger="interval", seconds=min(
            SWEEP_MAX_SECONDS, max(SWEEP_MIN_SECONDS, seconds)))


def configure_logging(log_file: Path) -> None:
    """DropTrack's log goes to a file; the terminal keeps the story (and errors only)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_droptrack", False):
            handler.setLevel(logging.ERROR)
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == log_file
               for h in root.handlers):
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file_handler)
    for name in ("droptrack", "integration", "connectors", "webhooks"):
        logging.getLogger(name).setLevel(logging.INFO)


def _secrets_for(workspace: Workspace, options: DemoOptions, echo: Echo) -> DemoSecrets:
    if not options.fresh and workspace.exists():
        echo(f"Resuming the demo in {workspace.root}: DropTrack keeps its database, login, "
             "suppliers and history (only what happens from now on is printed). The sandbox "
             "stores and the REST supplier live in memory and restart empty: DropTrack "
             "reconnects to them, new orders and tracking numbers continue after the old "
             "ones, and parcels that were in flight stop updating (their polls fail and show "
             "under Needs attention).")
        return workspace.load()
    if not options.fresh:
        echo(f"Nothing to resume in {workspace.root}: starting a fresh demo.")
    workspace.wipe()
    workspace.prepare()
    state = DemoSecrets.fresh(simulated_start())
    workspace.save(state)
    return state


def _continue_numbering(runtime: Runtime, sandboxes: Sandboxes, connected: Connected) -> None:
    """A resumed demo's new sandbox stores must not reuse the order ids and numbers DropTrack
    already knows (it would take a new order for an old one): move their counters past them."""
    with runtime.db.read() as session:
        def highest(store_id: int) -> int:
            ids = session.scalars(select(Binding.external_id).where(
                Binding.owner_id == store_id, Binding.kind == "order"))
            return max((int(i) for i in ids if i.isdigit()), default=0)

        shopify_id, woo_id = highest(connected.shopify_store_id), \
            highest(connected.woocommerce_store_id)
        numbers = session.scalars(select(Order.number).where(
            Order.store_id == connected.shopify_store_id))
        shopify_number = max((int(n.lstrip("#")) for n in numbers if n.lstrip("#").isdigit()),
                             default=1000)
    state = sandboxes.shopify.state
    shop = state.shops[SHOPIFY_DOMAIN]
    shop.order_counter = itertools.count(shopify_number + 1)
    while state.next_id() <= shopify_id:
        pass
    while sandboxes.woocommerce.add_product("(retired)", sku="").id <= woo_id:
        pass


def _banner(runtime: Runtime, sandboxes: Sandboxes, workspace: Workspace,
            state: DemoSecrets, options: DemoOptions, echo: Echo) -> None:
    public = runtime.settings.app.public_url
    hours = options.speed / 3600
    pace = f"1 real second = {hours:g} simulated hour{'s' if hours != 1 else ''}"
    echo("")
    echo(f"DropTrack demo is running ({pace}). Open:")
    echo(f"  Dashboard        {public}/admin")
    echo(f"     sign in with  {OWNER_EMAIL} / {state.owner_password}   (demo only)")
    echo(f"  Needs attention  {public}/admin/attention")
    echo(f"  Shopify store    {sandboxes.shopify_url}  (sandbox shop {SHOPIFY_DOMAIN})")
    echo(f"  WooCommerce      {sandboxes.woocommerce_shop_url}  (sandbox store)")
    echo(f"  Supplier (REST)  {sandboxes.supplier_url}  (reference supplier sandbox)")
    if sandboxes.cj_server is not None:
        echo(f"  CJdropshipping   {sandboxes.cj_server.url}  (CJ Open API sandbox)")
    if sandboxes.aliexpress_server is not None:
        echo(f"  AliExpress       {sandboxes.aliexpress_server.url}  (AliExpress DS API sandbox)")
    echo(f"  Supplier (CSV)   {workspace.csv_outbox.parent}  (order batches and tracking files)")
    echo(f"  17TRACK          {sandboxes.tracker_server.url}  (tracking service sandbox: "
         "follows the spreadsheet supplier's parcels)")
    echo(f"  E-mails sent     {workspace.mail_folder}  (customer and owner e-mails, .eml)")
    echo(f"  DropTrack's log  {workspace.log_file}")
    echo("Customer order pages and the tracking page are printed below as soon as parcels "
         "have tracking.")
    echo("Press Ctrl-C to stop.")
    echo("")


def _port_to_bind(options: DemoOptions) -> int:
    if options.port is None:
        return DEFAULT_PORT if port_is_free(DEFAULT_PORT) else 0
    return options.port


def run_demo(options: DemoOptions, echo: Echo, stop: threading.Event) -> None:
    """Run until `stop` is set or `options.duration` real seconds have passed."""
    workspace = Workspace(options.workspace)
    if options.port and not port_is_free(options.port):
        raise DemoError(f"port {options.port} is in use: stop what runs there, or choose "
                        "another with --port (or leave --port out: the demo then takes a "
                        "free one)")
    state = _secrets_for(workspace, options, echo)
    workspace.prepare()
    configure_logging(workspace.log_file)
    clock = AcceleratedClock(simulated_time(state), 1.0)
    running = _Running()
    try:
        # Bind DropTrack's port first (another demo may hold 8080), then build the app that
        # needs to know its own address; nothing here needs a fixed port.
        server = BackgroundServer(Flask("droptrack-demo-starting"), port=_port_to_bind(options))
        port = server.port
        running.add("DropTrack's port", server.stop)
        sandboxes = start_sandboxes(clock, first_port=port + 1,
                                    ca_file=workspace.ca_file,
                                    supplier_api_key=SUPPLIER_API_KEY,
                                    droptrack_url=f"http://127.0.0.1:{port}",
                                    speed=options.speed)
        running.add("sandboxes", sandboxes.stop)
        mailbox = MailSink(workspace.mail_folder).start()
        running.add("mailbox", mailbox.stop)
        runtime = build_runtime(demo_settings(workspace, state, port=port,
                                              speed=options.speed,
                                              shopify_admin_url=sandboxes.shopify_url,
                                              smtp_port=mailbox.port,
                                              tracking_url=sandboxes.tracker_url), clock)
        running.add("database", runtime.close)
        migrate.upgrade(runtime.db)
        web = create_app(runtime=runtime)
        server.serve(web).start()
        running.add("DropTrack web", server.stop)  # stops before the database closes
        # WooCommerce posts its keys only to an https callback: DropTrack is also served
        # over https (the demo's CA) on the same host, where the WooCommerce connect runs.
        secure = BackgroundServer(web, port=preferred_port(port + 8),
                                  ssl_context=sandboxes.tls.server_context).start()
        running.add("DropTrack web (https)", secure.stop)

        echo("Connecting the sandbox stores through their install flows...")
        connected = connect_everything(runtime, sandboxes, workspace, state, secure.url)
        if not options.fresh:
            _continue_numbering(runtime, sandboxes, connected)
        echo(f"  Shopify store {SHOPIFY_DOMAIN} installed (DropTrack store "
             f"{connected.shopify_store_id}); WooCommerce store {sandboxes.woocommerce_url} "
             f"connected (store {connected.woocommerce_store_id}); the suppliers (REST, "
             "spreadsheet, CJdropshipping, AliExpress) and SKU mappings added.")

        dispatcher = Dispatcher(runtime)
        dispatcher.start()
        running.add("dispatcher", dispatcher.stop)
        scheduler = build_scheduler(runtime)
        retime_scheduler(scheduler, options.speed)
        scheduler.start()
        running.add("scheduler", lambda: scheduler.shutdown(wait=True))

        clock.set_factor(options.speed)
        _banner(runtime, sandboxes, workspace, state, options, echo)
        _story(runtime, sandboxes, workspace, connected, clock, options, echo, stop)
    finally:
        echo("Stopping the demo...")
        running.stop_all()
        state.simulated_now = clock.now().isoformat()
        workspace.save(state)
        echo("Demo stopped. `droptrack demo --resume` continues with this database.")


def _story(runtime: Runtime, sandboxes: Sandboxes, workspace: Workspace,
           connected: Connected, clock: AcceleratedClock, options: DemoOptions,
           echo: Echo, stop: threading.Event) -> None:
    stream = OrderStream(sandboxes, clock, connected.woocommerce_products,
                         orders_per_minute=options.orders_per_minute)
    partner = CsvPartner(workspace.csv_outbox, workspace.csv_inbox, clock)
    reporter = Reporter(runtime, sandboxes, stream,
                        {connected.shopify_store_id: SHOPIFY,
                         connected.woocommerce_store_id: WOOCOMMERCE}, echo)
    if not options.fresh:
        reporter.remember_history()
    started = time.monotonic()
    for order in stream.place_burst(options.first_orders):
        reporter.placed(order)
    last_summary = last_save = started
    while not stop.wait(TICK_SECONDS):
        now = time.monotonic()
        if options.duration and now - started >= options.duration:
            break
        try:
            for order in stream.tick(now):
                reporter.placed(order)
            partner.tick()
            sandboxes.tracker.deliver_due()  # 17TRACK pushes what the carriers scanned
            reporter.tick()
        except Exception:  # one bad tick (say, a busy database) must not end the demo
            log.exception("demo tick failed; carrying on")
        if now - last_summary >= SUMMARY_EVERY_SECONDS:
            last_summary = now
            reporter.say(reporter.summary())
        if now - last_save >= SAVE_EVERY_SECONDS:
            last_save = now
            _save_time(workspace, clock)


def _save_time(workspace: Workspace, clock: AcceleratedClock) -> None:
    state = workspace.load()
    state.simulated_now = clock.now().isoformat()
    workspace.save(state)

