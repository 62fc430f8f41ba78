"""Pytest fixtures for the WooCommerce sandbox: a store over plain HTTP (OAuth 1.0a only), one
over HTTPS (basic auth / query-string keys, trusted through a throwaway CA) and a tiny webhook
receiver that records what it gets and answers with a status the test chooses.

Webhooks are delivered only when a test calls `sandbox.deliver_pending()` (deterministic).
The clock is frozen at the real current second, because `woocommerce.API` signs OAuth requests
with the machine's time; advance it to make the client's timestamps stale.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from werkzeug.serving import make_server
from woocommerce import API

from core.clock import FrozenClock
from sandboxes.server import BackgroundServer
from sandboxes.tls import make_tls
from sandboxes.woocommerce import WebhookDispatcher, WooCommerceStore, build
from sandboxes.woocommerce.state import ApiKey, DeliveryRecord


@dataclass
class WooCommerceSandbox:
    """A running sandbox store and the handles a test needs."""

    app: Flask
    server: BackgroundServer
    clock: FrozenClock
    ca_path: str | None = None

    @property
    def store(self) -> WooCommerceStore:
        store: WooCommerceStore = self.app.extensions["sandbox"]
        return store

    @property
    def dispatcher(self) -> WebhookDispatcher:
        dispatcher: WebhookDispatcher = self.app.extensions["sandbox_webhooks"]
        return dispatcher

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def verify(self) -> str | bool:
        """What `requests`/`woocommerce.API` need to trust this server."""
        return self.ca_path if self.ca_path else True

    def api(self, key: ApiKey, **options: Any) -> Any:
        """The official client, unchanged, pointed at this store."""
        return API(url=self.url, consumer_key=key.consumer_key,
                   consumer_secret=key.consumer_secret, verify_ssl=self.verify, timeout=10,
                   **options)

    def deliver_pending(self) -> list[DeliveryRecord]:
        return self.dispatcher.deliver_pending()


def _start_sandbox(tmp_path: Path, *, https: bool, **options: Any) -> WooCommerceSandbox:
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    app = build(clock, public_url="http://127.0.0.1", webhook_delivery="queued", **options)
    ca_path: str | None = None
    ssl_context = None
    if https:
        tls = make_tls("localhost", "127.0.0.1")
        ca_file = tmp_path / "woocommerce-sandbox-ca.pem"
        ca_file.write_bytes(tls.ca_pem)
        ca_path, ssl_context = str(ca_file), tls.server_context
    server = BackgroundServer(app, ssl_context=ssl_context)
    app.extensions["sandbox"].set_site_url(server.url)
    server.start()
    return WooCommerceSandbox(app=app, server=server, clock=clock, ca_path=ca_path)


@pytest.fixture
def wc_sandbox(tmp_path: Path) -> Iterator[WooCommerceSandbox]:
    """A WooCommerce store over plain HTTP: only OAuth 1.0a authenticates."""
    sandbox = _start_sandbox(tmp_path, https=False)
    try:
        yield sandbox
    finally:
        sandbox.server.stop()


@pytest.fixture
def wc_sandbox_https(tmp_path: Path) -> Iterator[WooCommerceSandbox]:
    """A WooCommerce store over HTTPS: basic auth or query-string keys (OAuth still works)."""
    sandbox = _start_sandbox(tmp_path, https=True)
    try:
        yield sandbox
    finally:
        sandbox.server.stop()


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    content_type: str


@dataclass
class WebhookReceiver:
    """Records every request; answers `status` (change it mid-test)."""

    status: int = 200
    received: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def posts(self, path: str) -> list[ReceivedRequest]:
        with self.lock:
            return [r for r in self.received if r.method == "POST" and r.path == path]


def _serve_receiver(ssl_context: ssl.SSLContext | None) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = Flask("wc_webhook_receiver")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def receive(path: str) -> Response:
        with receiver.lock:
            receiver.received.append(ReceivedRequest(
                method=request.method, path="/" + path, headers=dict(request.headers),
                body=request.get_data(), content_type=request.content_type or ""))
            status = receiver.status
        return Response("ok", status=status)

    # Not BackgroundServer: a short poll interval makes shutdown (every test's teardown) fast.
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    scheme = "https" if ssl_context else "http"
    receiver.url = f"{scheme}://127.0.0.1:{server.port}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def wc_receiver() -> Iterator[WebhookReceiver]:
    yield from _serve_receiver(None)


@pytest.fixture
def wc_https_receiver() -> Iterator[WebhookReceiver]:
    """The receiver over https with a throwaway certificate: WooCommerce posts wc-auth keys
    only to an https callback_url."""
    yield from _serve_receiver(make_tls("127.0.0.1").server_context)
