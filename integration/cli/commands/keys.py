"""`droptrack keys ...`: the encryption keys of secrets at rest.
"""

from __future__ import annotations

import os

import click
import tomlkit

from integration.accounts.keys import reencrypt_all
from integration.base.config import (
    ENV_PREFIX,
    resolve_config_path,
)
from integration.cli.commands.setup import write_private_file
from integration.cli.context import Context, pass_context
from integration.kernel.runtime import build_runtime
from integration.security.crypto import SecretDecryptionError, generate_key


@click.group()
def keys() -> None:
    """Encryption keys for secrets at rest."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new encryption key."""
    click.echo(generate_key())


@keys.command("rotate")
@click.option("--retire-old", is_flag=True,
              help="after re-encrypting, remove the old keys from the config file")
@pass_context
def keys_rotate(ctx: Context, retire_old: bool) -> None:
    """Put a new key first in the config file and re-encrypt every stored secret under it.

    When the keys come from DROPTRACK_SECURITY_ENCRYPTION_KEYS instead, put a key from
    `droptrack keys generate` in front of that list yourself and run `keys rotate` to
    re-encrypt: the file is then left alone.
    """
    from_env = bool(os.environ.get(ENV_PREFIX + "SECURITY_ENCRYPTION_KEYS"))
    path = resolve_config_path(ctx.config_path)
    settings = ctx.settings()
    if from_env:
        keys_now = settings.security.encryption_keys
    else:
        if path is None or not path.exists():
            raise click.ClickException("no config file holds the encryption keys")
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        security = document.setdefault("security", tomlkit.table())
        keys_now = [generate_key(), *settings.security.encryption_keys]
        security["encryption_keys"] = keys_now
        write_private_file(path, tomlkit.dumps(document))
    runtime = build_runtime(ctx.settings(security={
        "secret_key": settings.security.secret_key, "encryption_keys": keys_now,
    }))
    try:
        count = reencrypt_all(runtime)
    except SecretDecryptionError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()
    click.echo(f"re-encrypted {count} secrets under the new primary key")
    if retire_old and not from_env and path is not None:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        document["security"]["encryption_keys"] = keys_now[:1]
        write_private_file(path, tomlkit.dumps(document))
        click.echo("old keys removed from the config file")


COMMANDS: list[click.Command] = [keys]
