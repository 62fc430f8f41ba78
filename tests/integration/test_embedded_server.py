"""The server `droptrack serve` runs, over real sockets: slow and idle clients cannot take it
down, and bodies over DropTrack's limit are refused without being read."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from typing import Any

import pytest
import requests
from flask import Flask

from integration.base.config import Settings
from integration.web.server import build_server
from tests.conftest import make_settings
from tests.helpers.webhook_fixtures import ConnectedStore, shopify_headers, shopify_order_body

LIMIT = 4096
Address = tuple[str, int]
WAIT = 15.0  # a safety net on every socket read: a broken server fails the test, never hangs


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, webhooks={"max_body_bytes": LIMIT})


@pytest.fixture
def serve(app: Flask, settings: Settings) -> Iterator[Callable[..., Address]]:
    """Start `droptrack serve`'s server for the test app with some [server] settings."""
    stops: list[tuple[threading.Event, threading.Thread]] = []

    def start(**server: Any) -> Address:
        tuned = settings.model_copy(update={"server": settings.server.model_copy(update=server)})
        embedded = build_server(app, tuned, "127.0.0.1", 0)
        stop = threading.Event()
        thread = threading.Thread(target=embedded.serve_until, args=(stop,), daemon=True)
        thread.start()
        stops.append((stop, thread))
        return embedded.addresses[0]

    yield start
    for stop, thread in stops:
        stop.set()
        thread.join(10)


def connect(address: Address) -> socket.socket:
    sock = socket.create_connection(address, timeout=WAIT)
    return sock


def status_of(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        part = sock.recv(4096)
        if not part:
            break
        head += part
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0


def test_a_trickling_client_is_cut_off(serve: Callable[..., Address]) -> None:
    """A client that keeps sending a header line now and then is never idle; it still has to
    finish its request within request_read_seconds."""
    address = serve(request_read_seconds=1)
    with closing(connect(address)) as slow:
        slow.sendall(b"POST /webhooks/shopify HTTP/1.1\r\nHost: droptrack\r\n")
        slow.settimeout(0.1)
        for line in range(300):  # 30 s of trickling at most
            try:
                if slow.recv(1) == b"":
                    break  # the server closed the connection
            except TimeoutError:
                pass
            except ConnectionResetError:
                break
            try:
                slow.sendall(f"X-Slow-{line}: a\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            pytest.fail("a trickling client kept its connection for 30 s")


def test_webhooks_and_health_answer_while_slow_clients_hold_connections(
        serve: Callable[..., Address], connected_shopify: ConnectedStore) -> None:
    address = serve()
    with ExitStack() as stack:
        for _ in range(150):  # more than waitress's default connection limit (100)
            slow = stack.enter_context(closing(connect(address)))
            slow.sendall(b"POST /webhooks/shopify HTTP/1.1\r\nHost: droptrack\r\nX-Slow: ")
        url = f"http://{address[0]}:{address[1]}"
        body = shopify_order_body()
        answer = requests.post(f"{url}/webhooks/shopify", data=body,
                               headers=shopify_headers(body), timeout=WAIT)
        assert (answer.status_code, answer.json()["status"]) == (200, "stored")
        assert requests.get(f"{url}/healthz", timeout=WAIT).status_code == 200


def test_a_body_over_the_limit_is_refused_from_its_content_length(
        serve: Callable[..., Address]) -> None:
    address = serve()
    with closing(connect(address)) as client:
        client.sendall(b"POST /webhooks/shopify HTTP/1.1\r\nHost: droptrack\r\n"
                       b"Content-Length: 900000000\r\n\r\n")  # and not one byte of it
        assert status_of(client) == 413


def test_a_body_of_exactly_the_limit_reaches_droptrack(serve: Callable[..., Address]) -> None:
    """The server's limit is DropTrack's own: one byte more is refused, not one byte less."""
    address = serve()
    url = f"http://{address[0]}:{address[1]}/webhooks/shopify"
    body = b"{" + b" " * (LIMIT - 2) + b"}"
    answer = requests.post(url, data=body, headers=shopify_headers(body), timeout=WAIT)
    assert answer.status_code == 401  # read and judged by the intake: unknown shop
    answer = requests.post(url, data=body + b" ", headers=shopify_headers(body), timeout=WAIT)
    assert answer.status_code == 413


def test_a_chunked_body_is_cut_at_the_limit(serve: Callable[..., Address]) -> None:
    """The server answers as soon as the chunks pass the limit, without waiting for the end."""
    address = serve()
    with closing(connect(address)) as client:
        client.sendall(b"POST /webhooks/shopify HTTP/1.1\r\nHost: droptrack\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
        for _ in range(LIMIT // 1024 + 1):
            client.sendall(chunk)
        assert status_of(client) == 413  # no terminating chunk was ever sent
