"""`droptrack db ...`: the database schema.
"""

from __future__ import annotations

import click

from integration.cli.context import Context, pass_context
from integration.storage import migrate


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply pending migrations."""
    runtime = ctx.runtime(require_schema=False)
    migrate.upgrade(runtime.db)
    click.echo(f"database at revision {migrate.current_revision(runtime.db)}")


COMMANDS: list[click.Command] = [db]
