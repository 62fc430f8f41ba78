"""`droptrack demo`: the whole story on one machine."""

from __future__ import annotations

import click


@click.command("demo")
def group() -> None:
    """Run DropTrack with sandbox stores and suppliers (not built yet)."""
    raise click.ClickException("the demo is not built yet")
