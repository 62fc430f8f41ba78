"""`droptrack admin ...` commands."""

from __future__ import annotations

import click


@click.group("admin")
def group() -> None:
    """Admin commands."""
