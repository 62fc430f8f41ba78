"""`droptrack suppliers ...`: the suppliers orders go to.
"""

from __future__ import annotations

import secrets
import sys
from typing import Any

import click

from integration.cli.context import Context, pass_context


@click.group("suppliers")
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


COMMANDS: list[click.Command] = [suppliers_group]
