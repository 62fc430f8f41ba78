"""`droptrack stores ...`: connected stores.
"""

from __future__ import annotations

import click

from integration.accounts import stores
from integration.cli.context import Context, pass_context


@click.group("stores")
def stores_group() -> None:
    """Connected stores."""


def _added(store_id: int, description: str) -> None:
    click.echo(f"connected {description}")
    click.echo(str(store_id))


@stores_group.command("add-shopify")
@click.option("--shop", required=True, help="NAME.myshopify.com")
@click.option("--client-id", default=None,
              help="the Dev Dashboard app's client id (client credentials grant; the 2026 way)")
@click.option("--client-secret", default=None,
              help="the Dev Dashboard app's client secret (also signs its webhooks)")
@click.option("--token", default=None, help="a legacy custom app's Admin API access token")
@click.option("--webhook-secret", default=None,
              help="with --token: the legacy app's client secret (signs webhooks)")
@pass_context
def stores_add_shopify(ctx: Context, shop: str, client_id: str | None,
                       client_secret: str | None, token: str | None,
                       webhook_secret: str | None) -> None:
    """Connect a Shopify store; prints the store id last.

    With --client-id and --client-secret (an app created in the Dev Dashboard and installed on
    your store), DropTrack fetches its ~24 h tokens itself and fetches new ones before they
    expire. --token and --webhook-secret connect a legacy custom app's static token."""
    by_app, by_token = (client_id, client_secret), (token, webhook_secret)
    if any(v is not None for v in by_app) == any(v is not None for v in by_token):
        raise click.ClickException(
            "give either --client-id and --client-secret (a Dev Dashboard app) or --token and "
            "--webhook-secret (a legacy custom app)")
    try:
        if client_id is not None or client_secret is not None:
            from integration.sync.shopify.install import connect_custom_app

            store_id = connect_custom_app(ctx.runtime(), shop, client_id or "",
                                          client_secret or "")
        else:
            store_id = stores.add_shopify_store(ctx.runtime(), shop, token or "",
                                                webhook_secret or "")
    except stores.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    _added(store_id, f"Shopify store {shop.strip().lower()}")


@stores_group.command("add-woocommerce")
@click.option("--url", required=True, help="the store's site URL, e.g. https://shop.example")
@click.option("--key", required=True, help="REST API consumer key (ck_...)")
@click.option("--secret", required=True, help="REST API consumer secret (cs_...)")
@click.option("--webhook-secret", required=True, help="secret to sign webhook deliveries")
@pass_context
def stores_add_woocommerce(ctx: Context, url: str, key: str, secret: str,
                           webhook_secret: str) -> None:
    """Connect a WooCommerce store with REST API keys; prints the store id last."""
    try:
        store_id = stores.add_woocommerce_store(ctx.runtime(), url, key, secret, webhook_secret)
    except stores.StoreError as exc:
        raise click.ClickException(str(exc)) from None
    runtime = ctx.runtime()
    click.echo("point its webhooks at "
               f"{runtime.settings.app.public_url}/webhooks/woocommerce/{store_id}")
    _added(store_id, f"WooCommerce store {stores.normalize_store_url(url)}")


@stores_group.command("list")
@pass_context
def stores_list(ctx: Context) -> None:
    """List connected stores."""
    rows = stores.list_stores(ctx.runtime())
    if not rows:
        click.echo("no stores connected")
    for row in rows:
        click.echo(f"{row.id}\t{row.platform}\t{row.domain}\t{row.state}")


COMMANDS: list[click.Command] = [stores_group]
