"""`droptrack mappings ...`: SKU mappings as the owner's spreadsheet.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from integration.cli.context import Context, pass_context


@click.group("mappings")
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


COMMANDS: list[click.Command] = [mappings_group]
