"""`droptrack woocommerce ...` commands: check a store, set it up, sync it now."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from core.errors import PermanentError, RetryableError
from integration.cli.context import Context

if TYPE_CHECKING:
    from integration.kernel.runtime import Runtime
    from integration.storage.models import Store


@click.group("woocommerce")
def group() -> None:
    """WooCommerce stores: connection test, webhooks, reconciliation, statuses."""


def _store(runtime: Runtime, store_id: int) -> Store:
    from integration.sync.woocommerce import store as woocommerce_sync
    store = woocommerce_sync.load_store(runtime, store_id)
    if store is None:
        raise click.ClickException(f"there is no active WooCommerce store {store_id}")
    return store


@group.command("test-connection")
@click.argument("store_id", type=int)
@click.pass_obj
def test_connection(ctx: Context, store_id: int) -> None:
    """Check the address, the REST API and the keys; say what is wrong in plain words."""
    from connectors.woocommerce.connection import check_connection
    from integration.sync.woocommerce import store as woocommerce_sync
    from integration.sync.writeback import store_access

    runtime = ctx.runtime()
    store = _store(runtime, store_id)
    report = check_connection(store_access(runtime, store))
    if report.capabilities is not None:
        woocommerce_sync.update_store_settings(
            runtime, store_id, capabilities=report.capabilities.to_settings())
    woocommerce_sync.record_health(runtime, store_id, "; ".join(report.problems) or None)
    if not report.ok:
        raise click.ClickException(report.summary())
    click.echo(report.summary())


def _run(ctx: Context, store_id: int, what: str) -> int:
    from integration.sync.woocommerce import reconcile, statuses, webhooks
    from integration.sync.woocommerce import store as woocommerce_sync

    runtime = ctx.runtime()
    store = _store(runtime, store_id)
    connector = woocommerce_sync.connector_for(runtime, store)
    try:
        if what == "webhooks":
            webhooks.check_webhooks(runtime, store, connector)
            return 0
        if what == "reconcile":
            return reconcile.reconcile(runtime, store, connector)
        return statuses.flush_statuses(runtime, store, connector)
    except (PermanentError, RetryableError) as failure:
        raise click.ClickException(str(failure)) from None
    finally:
        connector.close()


@group.command("ensure-webhooks")
@click.argument("store_id", type=int)
@click.pass_obj
def ensure_webhooks(ctx: Context, store_id: int) -> None:
    """Create missing order webhooks and re-enable disabled ones."""
    _run(ctx, store_id, "webhooks")
    click.echo("webhooks order.created and order.updated are active")


@group.command("reconcile")
@click.argument("store_id", type=int)
@click.pass_obj
def reconcile(ctx: Context, store_id: int) -> None:
    """Read orders changed since the last poll now."""
    click.echo(f"{_run(ctx, store_id, 'reconcile')} changed orders read")


@group.command("flush-statuses")
@click.argument("store_id", type=int)
@click.pass_obj
def flush_statuses(ctx: Context, store_id: int) -> None:
    """Send the order statuses DropTrack owes the store now (orders/batch)."""
    click.echo(f"{_run(ctx, store_id, 'statuses')} order statuses updated")


@group.command("configure")
@click.argument("store_id", type=int)
@click.option("--complete-on", type=click.Choice(["shipped", "delivered"]),
              help="when an order becomes completed")
@click.option("--status-updates", type=click.Choice(["batched", "immediate"]),
              help="statuses by the batch sweep, or by each write-back")
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False),
              help="CA certificates to trust for this store's https")
@click.pass_obj
def configure(ctx: Context, store_id: int, complete_on: str | None,
              status_updates: str | None, ca_bundle: str | None) -> None:
    """Change how DropTrack writes to this store."""
    from integration.sync.woocommerce import store as woocommerce_sync

    runtime = ctx.runtime()
    _store(runtime, store_id)
    changes = {name: value for name, value in (
        ("complete_on", complete_on), ("status_updates", status_updates),
        ("ca_bundle", ca_bundle)) if value is not None}
    if changes:
        woocommerce_sync.update_store_settings(runtime, store_id, **changes)
    click.echo(", ".join(f"{k}={v}" for k, v in changes.items()) or "nothing changed")


COMMANDS: list[click.Command] = [group]
