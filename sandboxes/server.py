"""Serve a sandbox app on a loopback port: in a background thread (tests) or in the foreground.

cheroot, not werkzeug's development server: real platforms speak HTTP/1.1 with keep-alive
(which werkzeug always closes) and HTTPS, and connection reuse is something we measure.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from types import TracebackType

from cheroot.ssl.builtin import BuiltinSSLAdapter
from cheroot.wsgi import Server
from flask import Flask

THREADS = 24
LISTEN_BACKLOG = 256  # cheroot's default (5) resets bursts of concurrent connections


class _ContextSSLAdapter(BuiltinSSLAdapter):
    """cheroot's adapter reads certificate files; use an in-memory ssl.SSLContext instead."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.certificate = self.private_key = self.certificate_chain = None
        self.private_key_password = self.ciphers = None
        self._server_env: dict[str, str] = {}


def _make_server(app: Flask, host: str, port: int,
                 ssl_context: ssl.SSLContext | None) -> Server:
    server = Server((host, port), app, numthreads=THREADS, server_name="sandbox",
                    request_queue_size=LISTEN_BACKLOG)
    # The serve loop notices stop() at this interval: short, so test teardown is quick.
    server.expiration_interval = 0.05
    if ssl_context is not None:
        server.ssl_adapter = _ContextSSLAdapter(ssl_context)
    server.prepare()
    return server


class BackgroundServer:
    """A threaded HTTP(S) server for one app on 127.0.0.1; port 0 picks a free one."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self._server = _make_server(app, host, port, ssl_context)
        self.scheme = "https" if ssl_context is not None else "http"
        self._stopped = False
        self._thread = threading.Thread(target=self._server.serve,
                                        name=f"sandbox-{app.name}", daemon=True)

    @property
    def host(self) -> str:
        return str(self._server.bind_addr[0])

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def serve(self, app: Flask) -> BackgroundServer:
        """Serve `app` instead of the one given at construction: bind a port first (port 0),
        build the app that needs to know its own address, then start."""
        self.app = app
        self._server.wsgi_app = app
        return self

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        if self._thread.is_alive():
            self._thread.join(5)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def serve_forever(app_for: Callable[[int], Flask], host: str, port: int,
                  ssl_context: ssl.SSLContext | None = None) -> None:
    """Bind first (port 0 picks a free one), then build the app for the port it got, then
    serve in the foreground until Ctrl-C. Binding first leaves no gap in which another
    process could take a port picked in advance."""
    server = _make_server(Flask("binding"), host, port, ssl_context)
    server.wsgi_app = app_for(int(server.bind_addr[1]))
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
