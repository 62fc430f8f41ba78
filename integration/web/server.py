"""The embedded web server of `droptrack serve`: waitress, held against slow and idle clients.

Waitress reads every request (headers and body) on its one event loop before a worker thread
sees it, so a slow client costs a connection slot, not a thread. Left at its defaults, that
slot is the weak point: a client that sends a byte now and then counts as active for ever,
and at 100 connections the server stops accepting, webhooks included. Here:

* a request must arrive whole within `server.request_read_seconds` of its first byte,
  however steadily it trickles; an idle keep-alive connection closes after
  `server.idle_seconds`;
* the connection limit is `server.connection_limit` (poll(), not select(), so it is not
  capped at 1024 descriptors), far above what a few hundred slow clients take;
* the request body limit is DropTrack's own (`webhooks.max_body_bytes`): a declared
  Content-Length over it is refused with 413 from the headers, before any of the body is
  read or spooled to disk, and a chunked body is cut as soon as it passes the limit.
"""

from __future__ import annotations

import logging
import resource
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from integration.base.config import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger("droptrack.server")

# How often the event loop looks for connections past their deadline (seconds).
SWEEP_SECONDS = 0.5


class DeadlineChannel(HTTPChannel):  # type: ignore[misc]
    """A connection that remembers when the request it is reading began."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_started: float | None = None

    def received(self, data: bytes) -> bool:
        if data and self.request is None:
            self.request_started = time.monotonic()
        result: bool = super().received(data)
        if self.request is None:
            self.request_started = None
        return result

    def reading_since(self) -> float | None:
        """When the request still being read started (None between requests or while one
        is being answered)."""
        if self.requests or self.request is None:
            return None
        return self.request_started


class GuardedServer(TcpWSGIServer):  # type: ignore[misc]
    channel_class = DeadlineChannel
    request_read_seconds: float = 10.0
    cut_connections = 0

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections (waitress's channel_timeout)
        cutoff = time.monotonic() - self.request_read_seconds
        for channel in list(self.active_channels.values()):
            started = channel.reading_since() if isinstance(channel, DeadlineChannel) else None
            if started is not None and started < cutoff and not channel.will_close:
                channel.will_close = True
                self.cut_connections += 1
                log.info("closed a connection from %s: request not received within %.0f s",
                         channel.addr[0] if channel.addr else "?", self.request_read_seconds)


class EmbeddedServer:
    """One or more listening sockets on one event loop and one pool of worker threads."""

    def __init__(self, servers: list[GuardedServer], adjustments: Adjustments,
                 socket_map: dict[int, Any], dispatcher: ThreadedTaskDispatcher) -> None:
        self.servers = servers
        self.adjustments = adjustments
        self.map = socket_map
        self.dispatcher = dispatcher

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(server.effective_host, int(server.effective_port)) for server in self.servers]

    @property
    def cut_connections(self) -> int:
        return sum(server.cut_connections for server in self.servers)

    def run(self) -> None:
        """Serve until interrupted (KeyboardInterrupt / SystemExit)."""
        if len(self.servers) == 1:
            self.servers[0].run()
            return
        MultiSocketServer(self.map, self.adjustments, self.addresses, self.dispatcher,
                          self.servers[0].log_info).run()

    def serve_until(self, stop: threading.Event) -> None:
        """Serve until `stop` is set, then close every connection (for tests and benches)."""
        try:
            while not stop.is_set():
                wasyncore.loop(timeout=SWEEP_SECONDS, map=self.map, use_poll=True, count=1)
        finally:
            self.close()

    def close(self) -> None:
        self.dispatcher.shutdown()
        wasyncore.close_all(self.map)


def adjustments(settings: Settings, host: str, port: int) -> Adjustments:
    server = settings.server
    return Adjustments(
        host=host, port=port, threads=server.threads, ident="droptrack",
        connection_limit=server.connection_limit,
        channel_timeout=server.idle_seconds,
        cleanup_interval=SWEEP_SECONDS,
        asyncore_use_poll=True,
        # waitress refuses a body of max_request_body_size or more; DropTrack one over its limit
        max_request_body_size=settings.webhooks.max_body_bytes + 1,
        max_request_header_size=server.max_header_bytes,
    )


def build_server(app: WSGIApplication, settings: Settings, host: str, port: int,
                 ) -> EmbeddedServer:
    """The server for `app`, listening (port 0 picks a free port), not yet serving."""
    adj = adjustments(settings, host, port)
    raise_open_files_limit(adj.connection_limit + 64)
    socket_map: dict[int, Any] = {}
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    servers = []
    for sockinfo in adj.listen:
        server = GuardedServer(app, socket_map, dispatcher=dispatcher, adj=adj,
                               sockinfo=sockinfo)
        server.request_read_seconds = float(settings.server.request_read_seconds)
        servers.append(server)
    return EmbeddedServer(servers, adj, socket_map, dispatcher)


def raise_open_files_limit(wanted: int,
                           warn: Callable[[str], None] = log.warning) -> None:
    """Each connection is a file descriptor: lift the soft limit towards `wanted` (never above
    the hard limit), and say so when it stays lower than the connection limit needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        warn(f"open files are limited to {target}: fewer than the {wanted} that "
             f"server.connection_limit needs (raise `ulimit -n`)")
