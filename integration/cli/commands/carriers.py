"""`droptrack carriers ...`: which carrier issued a tracking number.
"""

from __future__ import annotations

import click


@click.group()
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


COMMANDS: list[click.Command] = [carriers]
