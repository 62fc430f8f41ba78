"""`droptrack admin ...`: dashboard accounts, their second factor, and API tokens."""

from __future__ import annotations

import click

from integration.accounts import owners as accounts
from integration.cli.context import Context, pass_context


@click.group("admin")
def group() -> None:
    """Dashboard accounts and API tokens."""


@group.command("create-user")
@click.argument("email")
@click.password_option(prompt="Password (12 characters or more)")
@pass_context
def create_user(ctx: Context, email: str, password: str) -> None:
    """Create a dashboard account for EMAIL (the password is asked for, never echoed)."""
    runtime = ctx.runtime()
    try:
        with runtime.db.write() as session:
            user_id = accounts.create_user(session, email, password, runtime.clock.now())
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"account {user_id} created for {accounts.normalize_email(email)}")


@group.command("set-password")
@click.argument("email")
@click.password_option(prompt="New password (12 characters or more)")
@pass_context
def set_password(ctx: Context, email: str, password: str) -> None:
    """Change EMAIL's password; every open session of that account is signed out."""
    runtime = ctx.runtime()
    try:
        with runtime.db.write() as session:
            user = accounts.find_user(session, email)
            if user is None:
                raise accounts.AccountError(f"there is no account for {email}")
            accounts.set_password(session, user.id, password, runtime.clock.now())
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("password changed; existing sessions are signed out")


@group.command("enable-totp")
@click.argument("email")
@pass_context
def enable_totp(ctx: Context, email: str) -> None:
    """Turn on the second factor for EMAIL: add the shown key to an authenticator app, then
    type the code it shows."""
    runtime = ctx.runtime()
    with runtime.db.read() as session:
        user = accounts.find_user(session, email)
        if user is None:
            raise click.ClickException(f"there is no account for {email}")
        user_id, address = user.id, user.email
    secret = accounts.new_totp_secret()
    click.echo("Add this to your authenticator app (or turn the URI into a QR code):")
    click.echo(f"  key: {secret}")
    click.echo(f"  uri: {accounts.totp_uri(secret, address)}")
    code = click.prompt("Code shown by the app")
    with runtime.db.write() as session:
        ok = accounts.enable_totp(session, runtime.secrets, user_id, secret, code,
                                  runtime.clock.now(), "cli")
    if not ok:
        raise click.ClickException("that code does not match: nothing changed, try again")
    click.echo("second factor enabled; sign in again with a code")


@group.command("create-token")
@click.option("--store", "store_id", type=int, required=True, help="the store the token reads")
@click.option("--name", default="", help="what the token is for")
@pass_context
def create_token(ctx: Context, store_id: int, name: str) -> None:
    """Create a JSON API token for one store. It is shown once; only its hash is kept."""
    runtime = ctx.runtime()
    try:
        with runtime.db.write() as session:
            issued = accounts.create_token(session, store_id, name, runtime.clock.now())
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {issued.id} for store {store_id} (shown once, keep it safe):")
    click.echo(issued.token)


@group.command("revoke-token")
@click.argument("token_id", type=int)
@pass_context
def revoke_token(ctx: Context, token_id: int) -> None:
    """Stop a JSON API token from working."""
    runtime = ctx.runtime()
    with runtime.db.write() as session:
        revoked = accounts.revoke_token(session, token_id, runtime.clock.now())
    if not revoked:
        raise click.ClickException(f"token {token_id} does not exist or is already revoked")
    click.echo(f"token {token_id} revoked")


COMMANDS: list[click.Command] = [group]
