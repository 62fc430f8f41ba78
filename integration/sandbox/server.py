"""Serve a sandbox app on a loopback port: in a background thread (tests) or in the foreground."""

from __future__ import annotations

import ssl
import threading
from types import TracebackType

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server


class BackgroundServer:
    """A threaded HTTP(S) server for one app on 127.0.0.1; port 0 picks a free one."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, ssl_context=ssl_context
        )
        self.scheme = "https" if ssl_context is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"sandbox-{app.name}", daemon=True)

    @property
    def host(self) -> str:
        return str(self._server.host)

    @property
    def port(self) -> int:
        return int(self._server.port)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def serve_forever(app: Flask, host: str, port: int,
                  ssl_context: ssl.SSLContext | None = None) -> None:
    server = make_server(host, port, app, threaded=True, ssl_context=ssl_context)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
