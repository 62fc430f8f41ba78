"""The order status page extension (`extensions/order-status/`) built, and a small page that
hosts it the way Shopify's customer account host does: a `shopify` global with the order, the
extension's settings, `sessionToken.get()` (a token the Shopify sandbox mints over HTTP) and
`fulfillmentId`, then the target's default export called to render into `document.body`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, jsonify, send_from_directory

from sandboxes.server import BackgroundServer

EXTENSION_DIR = Path(__file__).resolve().parents[2] / "extensions" / "order-status"
DIST = EXTENSION_DIR / "dist"

HARNESS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order status</title></head>
<body>
<script type="module">
const params = new URLSearchParams(location.search);
const signal = (value) => ({value, subscribe(listener) { listener(value); return () => {}; }});
globalThis.shopify = {
  extension: {target: params.get('target')},
  order: signal({id: params.get('order'), name: params.get('name') || ''}),
  settings: signal({droptrack_url: params.get('droptrack')}),
  fulfillmentId: params.get('fulfillment') || undefined,
  sessionToken: {get: async () => (await (await fetch('/token')).json()).token},
};
const module = await import(`/ext/${params.get('bundle')}.js`);
await module.default();
document.documentElement.dataset.rendered = 'yes';
</script>
</body></html>
"""


@pytest.fixture(scope="session", name="built_extension")
def built_extension_fixture() -> Path:
    """`npm run build` in the extension's folder (scripts/test ran `npm ci` there first)."""
    npm = shutil.which("npm")
    if npm is None or not (EXTENSION_DIR / "node_modules").is_dir():
        pytest.fail("the extension's packages are missing: ./scripts/test installs node and "
                    "runs `npm ci` in extensions/order-status")
    subprocess.run([npm, "run", "--silent", "build"], cwd=EXTENSION_DIR, check=True,
                   timeout=120)
    return DIST


def customer_account_host(built: Path, mint: Callable[[], str]) -> Iterator[str]:
    """Serve the harness page, the built bundles and `/token` (from `mint`)."""
    app = Flask("customer_account_host")

    @app.get("/")
    def page() -> Response:
        return Response(HARNESS, content_type="text/html; charset=utf-8")

    @app.get("/ext/<name>.js")
    def bundle(name: str) -> Response:
        return send_from_directory(built, f"{name}.js", mimetype="text/javascript")

    @app.get("/token")
    def token() -> Response:
        return jsonify(token=mint())

    with BackgroundServer(app) as server:
        yield server.url
