"""`droptrack init`: a private `config.toml` with fresh secrets.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import click
import tomlkit

from integration.base.config import DEFAULT_CONFIG_FILE
from integration.security.crypto import generate_key


def render_initial_config() -> str:
    document = tomlkit.document()
    document.add(tomlkit.comment("DropTrack configuration written by `droptrack init`."))
    document.add(tomlkit.comment("Every key is explained in config.example.toml. Keep this file"))
    document.add(tomlkit.comment("private: it holds the keys that decrypt your store credentials."))
    app = tomlkit.table()
    app.add("mode", "production")
    app.add("public_url", "http://127.0.0.1:8080")
    document.add("app", app)
    database = tomlkit.table()
    database.add("url", "sqlite:///droptrack.db")
    document.add("database", database)
    security = tomlkit.table()
    security.add("secret_key", secrets.token_urlsafe(48))
    security.add("encryption_keys", [generate_key()])
    document.add("security", security)
    return tomlkit.dumps(document)


def write_private_file(path: Path, text: str) -> None:
    """Write atomically with owner-only permissions."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command()
def init() -> None:
    """Write ./config.toml with freshly generated secrets (never overwrites one)."""
    path = Path(DEFAULT_CONFIG_FILE)
    if path.exists():
        raise click.ClickException(f"{path} already exists: not overwriting it")
    write_private_file(path, render_initial_config())
    click.echo(f"wrote {path.resolve()} (mode 600) with a new secret key and encryption key")


COMMANDS: list[click.Command] = [init]
