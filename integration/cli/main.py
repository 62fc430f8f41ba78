"""The `droptrack` command line: the root group, and every command group registered on it.

Each module of `integration.cli.commands` contributes its commands as `COMMANDS`; packages
outside the product (the sandboxes, the demo) contribute theirs through the
`droptrack.commands` entry point group, so the product never imports them.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

import click

from integration.base import logs
from integration.cli.context import Context

COMMAND_MODULES = ("setup", "processes", "database", "keys", "stores", "suppliers", "mappings",
                   "carriers", "jobs", "admin", "shopify", "woocommerce", "tracking")
ENTRY_POINT_GROUP = "droptrack.commands"


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="config file (default: $DROPTRACK_CONFIG, then ./config.toml)")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """DropTrack: forward dropshipping orders to suppliers and bring tracking back."""
    logs.configure("INFO", "text")
    ctx.obj = Context(config_path)
    ctx.call_on_close(ctx.obj.close)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"integration.cli.commands.{name}")
        for command in module.COMMANDS:
            main.add_command(command)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        for command in entry.load():
            main.add_command(command)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
