"""Pytest fixtures for the Shopify sandbox: a real HTTP server, an httpx transport that routes
`*.myshopify.com` to it (the shopifyapp library hard-codes `https://{shop}.myshopify.com`), a
seeded store, a webhook receiver, and `validate_against_real_schema` for connector tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask, Response, request

from core.clock import FrozenClock
from sandboxes.server import BackgroundServer
from sandboxes.shopify import ShopifySandbox, build
from sandboxes.shopify.schema import (
    REAL_SDL_RELATIVE_PATH,
    load_real_schema,
    validation_errors,
)
from sandboxes.shopify.state import AccessToken, App, Shop

SHOPIFY_SANDBOX_START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "shared" / "contracts"


def validate_against_real_schema(operation: str) -> list[str]:
    """Errors of `operation` against Shopify's real Admin schema 2026-07 ([] = valid).

    Skips the calling test when shared/contracts is absent."""
    path = CONTRACTS_DIR / REAL_SDL_RELATIVE_PATH
    if not path.is_file():
        pytest.skip(f"Shopify's real Admin schema not found at {path} (shared/ is absent)")
    return validation_errors(load_real_schema(path), operation)


class SandboxTransport(httpx.BaseTransport):
    """Sends every request to the sandbox over real HTTP, keeping the original Host header
    (so `https://shop.myshopify.com/admin/...` reaches the sandbox as that shop)."""

    def __init__(self, sandbox_url: str) -> None:
        self.target = httpx.URL(sandbox_url)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not (request.url.host or "").endswith(".myshopify.com"):
            return self.inner.handle_request(request)
        rewritten = request.url.copy_with(scheme=self.target.scheme, host=self.target.host,
                                          port=self.target.port)
        headers = httpx.Headers(request.headers)
        headers["Host"] = request.url.host
        forwarded = httpx.Request(request.method, rewritten, headers=headers,
                                  content=request.read(), extensions=request.extensions)
        return self.inner.handle_request(forwarded)

    def close(self) -> None:
        self.inner.close()


@dataclass
class SeededStore:
    """One shop with DropTrack installed: what most tests start from."""

    sandbox: ShopifySandbox
    shop: Shop
    app: App
    token: AccessToken

    @property
    def domain(self) -> str:
        return self.shop.domain

    @property
    def handle(self) -> str:
        """The `shop` argument of shopifyapp calls (without `.myshopify.com`)."""
        return self.shop.domain.removesuffix(".myshopify.com")


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    query: str


@dataclass
class ShopifyWebhookReceiver:
    """An HTTP endpoint that records requests and answers with a configurable status."""

    url: str
    received: list[ReceivedRequest] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> str:
        return f"{self.url}{path}"


@pytest.fixture
def shopify_clock() -> FrozenClock:
    return FrozenClock(SHOPIFY_SANDBOX_START)


@pytest.fixture
def shopify_server(shopify_clock: FrozenClock) -> Iterator[BackgroundServer]:
    """The sandbox served on an ephemeral loopback port; its public URL is its own."""
    holder: dict[str, str] = {"url": "http://127.0.0.1"}
    app = build(shopify_clock, public_url=holder["url"])
    with BackgroundServer(app) as server:
        sandbox: ShopifySandbox = app.extensions["sandbox"]
        sandbox.public_url = sandbox.state.public_url = server.url
        yield server


@pytest.fixture
def shopify_sandbox(shopify_server: BackgroundServer) -> ShopifySandbox:
    sandbox: ShopifySandbox = shopify_server.app.extensions["sandbox"]
    return sandbox


@pytest.fixture
def shopify_http(shopify_server: BackgroundServer) -> Iterator[httpx.Client]:
    """An httpx client whose `*.myshopify.com` requests land on the sandbox."""
    with httpx.Client(transport=SandboxTransport(shopify_server.url), timeout=10.0) as client:
        yield client


@pytest.fixture
def shopify_store(shopify_sandbox: ShopifySandbox) -> SeededStore:
    """`droptrack-test.myshopify.com` (standard plan) with DropTrack installed, expiring token."""
    state = shopify_sandbox.state
    app = state.create_app(redirect_urls=["https://droptrack.example/shopify/callback"])
    shop = state.create_shop("droptrack-test")
    token = state.install(shop.domain, app)
    return SeededStore(shopify_sandbox, shop, app, token)


@pytest.fixture
def shopify_webhook_receiver() -> Iterator[ShopifyWebhookReceiver]:
    app = Flask("shopify_webhook_receiver")
    receiver = ShopifyWebhookReceiver(url="")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def record(path: str) -> Response:
        with receiver.lock:
            receiver.received.append(ReceivedRequest(
                path="/" + path, headers=dict(request.headers), body=request.get_data(),
                query=request.query_string.decode()))
        return Response("ok", status=receiver.status)

    with BackgroundServer(app) as server:
        receiver.url = server.url
        yield receiver


def graphql(http: httpx.Client, store: SeededStore, query: str,
            variables: dict[str, Any] | None = None, *, token: str | None = None,
            version: str = "2026-07") -> httpx.Response:
    """A raw Admin API call (when a test needs the HTTP status or the full body).
    `token=""` sends no X-Shopify-Access-Token header at all."""
    access_token = store.token.token if token is None else token
    headers = {"X-Shopify-Access-Token": access_token} if access_token else {}
    return http.post(f"https://{store.domain}/admin/api/{version}/graphql.json",
                     json={"query": query, "variables": variables or {}}, headers=headers)
