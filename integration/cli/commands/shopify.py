"""`droptrack shopify ...` commands."""

from __future__ import annotations

import click

from integration.accounts import stores
from integration.cli.context import Context, pass_context


@click.group("shopify")
def group() -> None:
    """Shopify commands."""


@group.command("connect-custom")
@click.option("--shop", required=True, help="name.myshopify.com")
@click.option("--client-id", required=True, help="The custom app's client id.")
@click.option("--client-secret", required=True, prompt=True, hide_input=True,
              help="The custom app's client secret (asked for when not given).")
@pass_context
def connect_custom(ctx: Context, shop: str, client_id: str, client_secret: str) -> None:
    """Connect a store through the merchant's own custom app (client credentials grant).

    Prints the new store id. Webhooks are subscribed by the next dispatcher run."""
    from integration.sync.shopify.install import connect_custom_app

    try:
        store_id = connect_custom_app(ctx.runtime(), shop, client_id, client_secret)
    except stores.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(store_id)


@group.command("check-webhooks")
@pass_context
def check_webhooks_command(ctx: Context) -> None:
    """Queue a webhook subscription check (create missing, repair stale) for every store."""
    from integration.sync.shopify.webhooks import check_webhooks

    check_webhooks(ctx.runtime())
    click.echo("queued")


@group.command("fulfillment-mode")
@click.argument("store_id", type=int)
@click.argument("mode", type=click.Choice(["merchant_managed", "fulfillment_service"]))
@pass_context
def fulfillment_mode(ctx: Context, store_id: int, mode: str) -> None:
    """Choose how a store hands orders to DropTrack.

    merchant_managed (default): orders arrive by webhook and DropTrack fulfils them from the
    merchant's locations. fulfillment_service: DropTrack registers itself as a fulfillment
    service (needs the write_assigned_fulfillment_orders scope) and accepts or rejects the
    fulfillment requests Shopify sends it. Registration happens at the next dispatcher run."""
    from integration.sync.shopify.fulfillment_service import set_fulfillment_mode

    try:
        set_fulfillment_mode(ctx.runtime(), store_id, mode, actor="cli")
    except stores.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"store {store_id}: {mode}")


COMMANDS: list[click.Command] = [group]
