"""`droptrack woocommerce ...` commands."""

from __future__ import annotations

import click


@click.group("woocommerce")
def group() -> None:
    """Woocommerce commands."""
