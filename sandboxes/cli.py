"""`droptrack sandbox NAME`: one sandbox (a local stand-in for Shopify, WooCommerce or a
supplier), registered with the `droptrack` command through the `droptrack.commands` entry point.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sandboxes.registry import SANDBOXES

if TYPE_CHECKING:
    from flask import Flask


@click.command("sandbox")
@click.argument("name", type=click.Choice(sorted(SANDBOXES)))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=0, help="0 picks a free port")
@click.option("--https", "use_https", is_flag=True,
              help="serve HTTPS with a throwaway CA, whose certificate goes to --ca-file")
@click.option("--ca-file", type=click.Path(dir_okay=False), default="sandbox-ca.pem",
              show_default=True)
def sandbox(name: str, host: str, port: int, use_https: bool, ca_file: str) -> None:
    """Run one sandbox (a local stand-in for Shopify, WooCommerce or a supplier)."""
    from core.clock import SystemClock
    from sandboxes import registry
    from sandboxes.server import serve_forever
    from sandboxes.tls import make_tls

    tls = make_tls(host) if use_https else None
    scheme = "https" if tls else "http"
    if tls is not None:
        Path(ca_file).write_bytes(tls.ca_pem)
        click.echo(f"CA certificate for clients: {Path(ca_file).resolve()}")

    def app_for(bound_port: int) -> Flask:
        public_url = f"{scheme}://{host}:{bound_port}"
        built = registry.build(name, SystemClock(), public_url=public_url)
        click.echo(f"{name} sandbox on {public_url}")
        return built

    # Ctrl-C (and SIGTERM) stop it even when started from a shell that ignores SIGINT in
    # background jobs, which Python would otherwise inherit.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    serve_forever(app_for, host, port, tls.server_context if tls else None)


COMMANDS: list[click.Command] = [sandbox]
