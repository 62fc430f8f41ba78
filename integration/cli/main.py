"""The `droptrack` command line."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

import click
import tomlkit

from integration.accounts import stores
from integration.jobs import outbox
from integration.kernel import logs, startup
from integration.kernel.config import (
    DEFAULT_CONFIG_FILE,
    ENV_PREFIX,
    ConfigError,
    Settings,
    load_settings,
    resolve_config_path,
)
from integration.kernel.runtime import Runtime, build_runtime
from integration.security.crypto import SecretDecryptionError, generate_key
from integration.security.keys import reencrypt_all
from integration.storage import migrate
from sandboxes.registry import SANDBOXES

log = logging.getLogger("droptrack")


class Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._runtime: Runtime | None = None

    def settings(self, **overrides: dict[str, Any]) -> Settings:
        try:
            return load_settings(self.config_path, overrides=overrides or None)
        except ConfigError as exc:
            raise click.ClickException(f"invalid configuration: {exc}") from None

    def runtime(self, require_schema: bool = True) -> Runtime:
        if self._runtime is None:
            self._runtime = build_runtime(self.settings())
        if require_schema and not migrate.is_current(self._runtime.db):
            raise click.ClickException(
                "the database schema is not current: run `droptrack db upgrade` first"
            )
        return self._runtime

    def checked_runtime(self, require_schema: bool = True) -> Runtime:
        """The runtime of a long-running command, after the start-up checks: a database
        that does not open or keys that do not open the stored secrets stop it in one line."""
        runtime = self.runtime(require_schema=False)
        try:
            startup.check_database(runtime)
            if require_schema:
                self.runtime(require_schema=True)
            startup.warn_about_settings(runtime, lambda line: click.echo(line, err=True))
            startup.check_encryption_keys(runtime)
        except startup.StartupError as exc:
            raise click.ClickException(str(exc)) from None
        return runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


pass_context = click.make_pass_decorator(Context)


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="config file (default: $DROPTRACK_CONFIG, then ./config.toml)")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """DropTrack: forward dropshipping orders to suppliers and bring tracking back."""
    logs.configure("INFO", "text")
    ctx.obj = Context(config_path)
    ctx.call_on_close(ctx.obj.close)


# -- init, serve ---------------------------------------------------------------------------

def render_initial_config() -> str:
    document = tomlkit.document()
    document.add(tomlkit.comment("DropTrack configuration written by `droptrack init`."))
    document.add(tomlkit.comment("Every key is explained in config.example.toml. Keep this file"))
    document.add(tomlkit.comment("private: it holds the keys that decrypt your store credentials."))
    app = tomlkit.table()
    app.add("mode", "production")
    app.add("public_url", "http://127.0.0.1:8080")
    document.add("app", app)
    database = tomlkit.table()
    database.add("url", "sqlite:///droptrack.db")
    document.add("database", database)
    security = tomlkit.table()
    security.add("secret_key", secrets.token_urlsafe(48))
    security.add("encryption_keys", [generate_key()])
    document.add("security", security)
    return tomlkit.dumps(document)


def write_private_file(path: Path, text: str) -> None:
    """Write atomically with owner-only permissions."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@main.command()
def init() -> None:
    """Write ./config.toml with freshly generated secrets (never overwrites one)."""
    path = Path(DEFAULT_CONFIG_FILE)
    if path.exists():
        raise click.ClickException(f"{path} already exists: not overwriting it")
    write_private_file(path, render_initial_config())
    click.echo(f"wrote {path.resolve()} (mode 600) with a new secret key and encryption key")


@main.command()
@click.option("--host", help="address to listen on (default: server.host)")
@click.option("--port", type=int, help="port to listen on (default: server.port)")
@pass_context
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Run the web app, the outbox dispatcher and the scheduler in one process."""
    from integration.jobs.dispatcher import Dispatcher
    from integration.scheduling.scheduler import build_scheduler
    from integration.web.app import create_app
    from integration.web.server import build_server

    runtime = ctx.runtime(require_schema=False)
    try:
        startup.check_database(runtime)
    except startup.StartupError as exc:
        raise click.ClickException(str(exc)) from None
    migrate.upgrade(runtime.db)
    runtime = ctx.checked_runtime()
    settings = runtime.settings
    app = create_app(runtime=runtime)
    dispatcher = Dispatcher(runtime) if settings.dispatcher.enabled else None
    scheduler = build_scheduler(runtime) if settings.scheduler.enabled else None

    def _terminate(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    listen_host = host or settings.server.host
    listen_port = port or settings.server.port
    server = build_server(app, settings, listen_host, listen_port)  # binds before work starts
    if dispatcher is not None:
        dispatcher.start()
    if scheduler is not None:
        scheduler.start()
    click.echo(f"DropTrack listening on http://{listen_host}:{listen_port}")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping DropTrack")
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if dispatcher is not None:
            dispatcher.stop()


@main.command()
@pass_context
def scheduler(ctx: Context) -> None:
    """Run the scaled-out scheduler: timed sweeps, and due jobs onto the queue (one active)."""
    import threading

    from integration.scheduling import process as scheduler_process

    runtime = ctx.checked_runtime()
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo("scheduler started (waits as a standby while another one is active)")
    scheduler_process.run(runtime, stop)
    click.echo("scheduler stopped")


@main.command()
@click.option("--processes", default=1, show_default=True)
@click.option("--threads", type=int, help="threads per process (default: workers.threads)")
@pass_context
def worker(ctx: Context, processes: int, threads: int | None) -> None:
    """Run a Dramatiq worker for outbox jobs (scaled-out mode)."""
    from integration.jobs.workers import QUEUE

    settings = ctx.checked_runtime().settings
    ctx.close()  # the workers open their own
    env = {**os.environ, "DROPTRACK_WORKER_PROCESS": "1"}
    config = resolve_config_path(ctx.config_path)
    if config is not None:
        env["DROPTRACK_CONFIG"] = str(config.resolve())
    args = [sys.executable, "-m", "dramatiq", "integration.jobs.workers", "--queues", QUEUE,
            "--processes", str(processes), "--threads", str(threads or settings.workers.threads)]
    os.execve(sys.executable, args, env)  # noqa: S606 - replaces this process by design


# -- db, keys ------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply pending migrations."""
    runtime = ctx.runtime(require_schema=False)
    migrate.upgrade(runtime.db)
    click.echo(f"database at revision {migrate.current_revision(runtime.db)}")


@main.group()
def keys() -> None:
    """Encryption keys for secrets at rest."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new encryption key."""
    click.echo(generate_key())


@keys.command("rotate")
@click.option("--retire-old", is_flag=True,
              help="after re-encrypting, remove the old keys from the config file")
@pass_context
def keys_rotate(ctx: Context, retire_old: bool) -> None:
    """Put a new key first in the config file and re-encrypt every stored secret under it.

    When the keys come from DROPTRACK_SECURITY_ENCRYPTION_KEYS instead, put a key from
    `droptrack keys generate` in front of that list yourself and run `keys rotate` to
    re-encrypt: the file is then left alone.
    """
    from_env = bool(os.environ.get(ENV_PREFIX + "SECURITY_ENCRYPTION_KEYS"))
    path = resolve_config_path(ctx.config_path)
    settings = ctx.settings()
    if from_env:
        keys_now = settings.security.encryption_keys
    else:
        if path is None or not path.exists():
            raise click.ClickException("no config file holds the encryption keys")
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        security = document.setdefault("security", tomlkit.table())
        keys_now = [generate_key(), *settings.security.encryption_keys]
        security["encryption_keys"] = keys_now
        write_private_file(path, tomlkit.dumps(document))
    runtime = build_runtime(ctx.settings(security={
        "secret_key": settings.security.secret_key, "encryption_keys": keys_now,
    }))
    try:
        count = reencrypt_all(runtime)
    except SecretDecryptionError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()
    click.echo(f"re-encrypted {count} secrets under the new primary key")
    if retire_old and not from_env and path is not None:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        document["security"]["encryption_keys"] = keys_now[:1]
        write_private_file(path, tomlkit.dumps(document))
        click.echo("old keys removed from the config file")


# -- sandbox -------------------------------------------------------------------------------

@main.command("sandbox")
@click.argument("name", type=click.Choice(sorted(SANDBOXES)))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, help="0 picks a free port")
@click.option("--https", "use_https", is_flag=True,
              help="serve HTTPS with a throwaway CA, whose certificate goes to --ca-file")
@click.option("--ca-file", type=click.Path(dir_okay=False), default="sandbox-ca.pem",
              show_default=True)
def sandbox(name: str, host: str, port: int, use_https: bool, ca_file: str) -> None:
    """Run one sandbox (a local stand-in for Shopify, WooCommerce or a supplier)."""
    from core.clock import SystemClock
    from sandboxes import registry
    from sandboxes.server import serve_forever
    from sandboxes.tls import make_tls

    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    tls = make_tls(host) if use_https else None
    scheme = "https" if tls else "http"
    public_url = f"{scheme}://{host}:{port}"
    app = registry.build(name, SystemClock(), public_url=public_url)
    if tls is not None:
        Path(ca_file).write_bytes(tls.ca_pem)
        click.echo(f"CA certificate for clients: {Path(ca_file).resolve()}")
    click.echo(f"{name} sandbox on {public_url}")
    serve_forever(app, host, port, tls.server_context if tls else None)


# -- suppliers and mappings ----------------------------------------------------------------

@main.group("suppliers")
def suppliers_group() -> None:
    """Suppliers orders are forwarded to."""


@suppliers_group.command("add-rest")
@click.option("--name", required=True)
@click.option("--url", required=True, help="the supplier API's base URL (https)")
@click.option("--api-key", required=True)
@click.option("--push/--no-push", default=True, show_default=True,
              help="register DropTrack's webhook at the supplier for push updates")
@pass_context
def suppliers_add_rest(ctx: Context, name: str, url: str, api_key: str, push: bool) -> None:
    """Add a supplier speaking DropTrack's supplier protocol; prints its id last."""
    from connectors.http import HttpError, TransientHttpError
    from connectors.suppliers.rest.client import RestSupplier
    from integration.accounts import suppliers
    from integration.storage.models import Supplier

    runtime = ctx.runtime()
    secret = secrets.token_urlsafe(32) if push else None
    try:
        supplier_id = suppliers.add_rest_supplier(runtime, name, url, api_key, secret)
    except suppliers.SupplierError as exc:
        raise click.ClickException(str(exc)) from None
    if secret is not None:
        callback = f"{runtime.settings.app.public_url}/webhooks/suppliers/{supplier_id}"
        with runtime.db.read() as session:
            row = session.get_one(Supplier, supplier_id)
        connector = suppliers.connector_for(runtime, row)
        try:
            if isinstance(connector, RestSupplier):
                connector.register_webhook(callback, secret)
                click.echo(f"push updates will arrive at {callback}")
        except (HttpError, TransientHttpError) as exc:
            click.echo(f"warning: could not register push updates ({exc}); DropTrack will poll")
        finally:
            connector.close()
    click.echo(f"added supplier {name}")
    click.echo(str(supplier_id))


@suppliers_group.command("add-csv")
@click.option("--name", required=True)
@click.option("--outbox", "outbox_dir", required=True, help="folder order batches are written to")
@click.option("--inbox", "inbox_dir", required=True, help="folder tracking CSVs are read from")
@pass_context
def suppliers_add_csv(ctx: Context, name: str, outbox_dir: str, inbox_dir: str) -> None:
    """Add a supplier who works by spreadsheet; prints its id last."""
    from integration.sync.suppliers.csv_exchange import CsvSupplierError, add_csv_supplier

    try:
        supplier_id = add_csv_supplier(ctx.runtime(), name, outbox_dir, inbox_dir)
    except CsvSupplierError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added spreadsheet supplier {name}")
    click.echo(str(supplier_id))


@suppliers_group.command("import-tracking")
@click.argument("supplier_id", type=int)
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@pass_context
def suppliers_import_tracking(ctx: Context, supplier_id: int, csv_file: Any) -> None:
    """Apply a spreadsheet supplier's tracking CSV (bad rows reported by line)."""
    from integration.sync.suppliers.csv_exchange import CsvSupplierError, import_tracking

    try:
        result = import_tracking(ctx.runtime(), supplier_id, csv_file.read())
    except CsvSupplierError as exc:
        raise click.ClickException(str(exc)) from None
    for error in result.errors:
        click.echo(error, err=True)
    click.echo(f"{result.applied} tracking numbers applied, {len(result.errors)} rejected")
    if result.errors:
        sys.exit(1)


@suppliers_group.command("list")
@pass_context
def suppliers_list(ctx: Context) -> None:
    """List suppliers."""
    from sqlalchemy import select

    from integration.storage.models import Supplier

    with ctx.runtime().db.read() as session:
        rows = list(session.scalars(select(Supplier).order_by(Supplier.id)))
        if not rows:
            click.echo("no suppliers")
        for row in rows:
            state = "active" if row.active else "inactive"
            click.echo(f"{row.id}\t{row.kind}\t{row.name}\t{state}")


@main.group("mappings")
def mappings_group() -> None:
    """SKU to supplier mappings (CSV)."""


@mappings_group.command("import")
@click.option("--store", "store_id", type=int, required=True)
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@pass_context
def mappings_import(ctx: Context, store_id: int, csv_file: Any) -> None:
    """Import mappings: sku,supplier[,supplier_sku,destination_country,backup_supplier,...]."""
    from integration.engine.mappings import import_csv
    from integration.storage.models import Store

    runtime = ctx.runtime()
    with runtime.db.write() as session:
        if session.get(Store, store_id) is None:
            raise click.ClickException(f"there is no store {store_id}")
        report = import_csv(session, store_id, csv_file.read(), runtime.clock.now())
    for error in report.errors:
        click.echo(error, err=True)
    click.echo(f"{report.created} created, {report.updated} updated, "
               f"{len(report.errors)} rejected")
    if report.errors:
        sys.exit(1)


@mappings_group.command("export")
@click.option("--store", "store_id", type=int, required=True)
@pass_context
def mappings_export(ctx: Context, store_id: int) -> None:
    """Print the store's mappings as CSV."""
    from integration.engine.mappings import export_csv

    with ctx.runtime().db.read() as session:
        click.echo(export_csv(session, store_id), nl=False)


# -- carriers ------------------------------------------------------------------------------

@main.group()
def carriers() -> None:
    """Carriers and tracking numbers."""


@carriers.command("detect")
@click.argument("numbers", nargs=-1, required=True)
def carriers_detect(numbers: tuple[str, ...]) -> None:
    """Print number, carrier id, Shopify company name and tracking URL, tab-separated."""
    from connectors.carriers.detect import detect

    for raw in numbers:
        found = detect(raw)
        click.echo("\t".join((raw, found.carrier_id, found.shopify_company, found.tracking_url)))


# -- stores --------------------------------------------------------------------------------

@main.group("stores")
def stores_group() -> None:
    """Connected stores."""


def _added(store_id: int, description: str) -> None:
    click.echo(f"connected {description}")
    click.echo(str(store_id))


@stores_group.command("add-shopify")
@click.option("--shop", required=True, help="NAME.myshopify.com")
@click.option("--token", required=True, help="Admin API access token")
@click.option("--webhook-secret", required=True, help="the app's client secret (signs webhooks)")
@pass_context
def stores_add_shopify(ctx: Context, shop: str, token: str, webhook_secret: str) -> None:
    """Connect a Shopify store with a custom app's token; prints the store id last."""
    try:
        store_id = stores.add_shopify_store(ctx.runtime(), shop, token, webhook_secret)
    except stores.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    _added(store_id, f"Shopify store {shop.strip().lower()}")


@stores_group.command("add-woocommerce")
@click.option("--url", required=True, help="the store's site URL, e.g. https://shop.example")
@click.option("--key", required=True, help="REST API consumer key (ck_...)")
@click.option("--secret", required=True, help="REST API consumer secret (cs_...)")
@click.option("--webhook-secret", required=True, help="secret to sign webhook deliveries")
@pass_context
def stores_add_woocommerce(ctx: Context, url: str, key: str, secret: str,
                           webhook_secret: str) -> None:
    """Connect a WooCommerce store with REST API keys; prints the store id last."""
    try:
        store_id = stores.add_woocommerce_store(ctx.runtime(), url, key, secret, webhook_secret)
    except stores.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    runtime = ctx.runtime()
    click.echo("point its webhooks at "
               f"{runtime.settings.app.public_url}/webhooks/woocommerce/{store_id}")
    _added(store_id, f"WooCommerce store {stores.normalize_store_url(url)}")


@stores_group.command("list")
@pass_context
def stores_list(ctx: Context) -> None:
    """List connected stores."""
    rows = stores.list_stores(ctx.runtime())
    if not rows:
        click.echo("no stores connected")
    for row in rows:
        click.echo(f"{row.id}\t{row.platform}\t{row.domain}\t{row.state}")


# -- jobs ----------------------------------------------------------------------------------

@main.group()
def jobs() -> None:
    """Outbox jobs."""


@jobs.command("list")
@click.option("--state", "states", multiple=True,
              type=click.Choice([outbox.PENDING, outbox.RUNNING, outbox.DONE, outbox.DEAD]))
@click.option("--limit", default=50, show_default=True)
@pass_context
def jobs_list(ctx: Context, states: tuple[str, ...], limit: int) -> None:
    """Show recent jobs, newest first."""
    runtime = ctx.runtime()
    with runtime.db.read() as session:
        rows = outbox.list_jobs(session, states, limit)
        if not rows:
            click.echo("no jobs")
        for row in rows:
            error = f"\t{row.last_error}" if row.last_error else ""
            click.echo(f"{row.id}\t{row.state}\t{row.kind}\tattempts={row.attempts}"
                       f"\tnext={row.next_run_at.isoformat()}{error}")


@jobs.command("replay")
@click.argument("job_id", type=int)
@pass_context
def jobs_replay(ctx: Context, job_id: int) -> None:
    """Queue a dead or finished job again with a fresh attempt budget."""
    runtime = ctx.runtime()
    with runtime.db.write() as session:
        replayed = outbox.replay(session, job_id, runtime.clock.now())
    if not replayed:
        raise click.ClickException(f"job {job_id} does not exist or is running right now")
    click.echo(f"job {job_id} queued again")


def _register_contributed_groups() -> None:
    from demo import cli as demo
    from integration.cli.commands import admin, shopify, woocommerce

    for module in (shopify, woocommerce, admin, demo):
        main.add_command(module.group)


_register_contributed_groups()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
