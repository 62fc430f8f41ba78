"""`droptrack shopify ...` commands."""

from __future__ import annotations

import click


@click.group("shopify")
def group() -> None:
    """Shopify commands."""
