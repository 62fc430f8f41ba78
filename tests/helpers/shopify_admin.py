"""Shopify admin as the browser tests see it: a page that frames the embedded app and gives it
App Bridge (`app_bridge_stub.js`), with session tokens minted by the Shopify sandbox.

DropTrack is reached as `https://droptrack.example` (APP_ORIGIN), each request passed over HTTP
to the live server (Chromium refuses a public page framing a loopback address); the admin's
own origin (`parent`) serves the framing page and `/_admin/session-token`, which asks the
sandbox's stand-in for App Bridge inside the admin
(`POST /shops/<shop>/admin/apps/<client id>/session_token`) for a fresh token.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import urljoin

import httpx
from playwright.sync_api import Page, Route

APP_ORIGIN = "https://droptrack.example"
APP_BRIDGE_STUB = (Path(__file__).parent / "app_bridge_stub.js").read_text(encoding="utf-8")

_PARENT = """<!doctype html><html lang="en"><title>Shopify admin</title>
<iframe id="app" name="app-iframe" title="DropTrack" src="{src}" width="1100" height="760">
</iframe>
<script>
window.addEventListener("message", async function (event) {{
  if (!event.data || event.data.type !== "app-bridge-stub:id-token") return;
  const answer = await fetch("/_admin/session-token", {{method: "POST"}});
  const token = (await answer.json()).token;
  event.source.postMessage({{type: "app-bridge-stub:id-token", id: event.data.id, token: token}},
                           event.origin);
}});
</script></html>"""


def admin_frame(page: Page, parent: str, app_url: str, live_url: str, *,
                token_url: str = "", app_bridge: bool = True) -> None:
    """Serve `parent` (Shopify admin, or a stranger's site) as a page framing `app_url`.
    `token_url`: where the admin gets a session token (the sandbox's); `app_bridge=False`
    serves no App Bridge at all (the app opened where Shopify's script does not run)."""
    def serve_app(route: Route) -> None:
        request = route.request
        answer = route.fetch(url=request.url.replace(APP_ORIGIN, live_url, 1), max_redirects=0)
        location = answer.headers.get("location", "")
        if not 300 <= answer.status < 400 or not location:
            route.fulfill(response=answer)
            return
        # Chromium does not route the request a fulfilled redirect leads to, so the redirect
        # is followed here, as the browser would: a document navigates to it (a refresh to
        # the same URL, so the frame's address is the redirect's); a fetch gets the answer of
        # a GET with the same headers (same origin: Authorization kept, as the Fetch
        # standard keeps it).
        target = urljoin(request.url, location)
        if request.resource_type == "document":
            route.fulfill(status=200, content_type="text/html", body=(
                f'<!doctype html><meta http-equiv="refresh" content="0;url={escape(target)}">'))
            return
        headers = {key: value for key, value in request.headers.items()
                   if key.lower() not in ("content-type", "content-length")}
        followed = httpx.get(target.replace(APP_ORIGIN, live_url, 1), headers=headers)
        route.fulfill(status=followed.status_code, body=followed.content,
                      headers=dict(followed.headers))

    def serve_parent(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=_PARENT.format(src=app_url))

    def serve_token(route: Route) -> None:
        if not token_url:
            route.fulfill(status=404, body="")
            return
        route.fulfill(response=route.fetch(url=token_url, method="POST"))

    def serve_app_bridge(route: Route) -> None:
        if app_bridge:
            route.fulfill(status=200, content_type="text/javascript", body=APP_BRIDGE_STUB)
        else:
            route.abort()

    page.route(f"{APP_ORIGIN}/**", serve_app)
    page.route(f"{parent}/**", serve_parent)
    page.route(f"{parent}/_admin/session-token", serve_token)
    page.route("https://cdn.shopify.com/**", serve_app_bridge)
