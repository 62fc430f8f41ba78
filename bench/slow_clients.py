"""Slow clients and oversized bodies against `droptrack serve` (the embedded waitress server).

Phases, each against a fresh `droptrack serve` on SQLite (dispatcher and scheduler off, so only
the web server and the intake are measured):

1. baseline: signed Shopify deliveries (one connection each) and GET /healthz, latency;
2. the same while `--slow` clients (default 300) hold connections: each sends a request head
   one header line at a time, a line every `--trickle` seconds, and opens a new connection
   whenever the server closes one (so the pressure never lets up);
3. oversized bodies: a Content-Length of 1 GB with no body (time to the 413, and bytes
   sent), and a chunked body that never ends (bytes sent before the server refuses it).

`--server waitress-defaults` runs the app under waitress with only `threads` set, as
`droptrack serve` did before the server was held (for comparison).

    .venv/bin/python bench/slow_clients.py
    .venv/bin/python bench/slow_clients.py --server waitress-defaults --deliveries 60
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from webhook_intake import (
    Outcome,
    RequestFactory,
    Server,
    droptrack_env,
    fmt,
    free_port,
    percentile,
    prepare_database,
    send,
    stop_server,
    temp_dir,
    venv_bin,
    wait_healthy,
)

SECRET = "bench slow clients secret"
SLOW_HEAD = b"POST /webhooks/shopify HTTP/1.1\r\nHost: droptrack\r\n"
OLD_SERVER = ("from waitress import serve; from integration.web.app import create_app; "
              "serve(create_app(), host='127.0.0.1', port={port}, threads=8)")


def start_server(kind: str, env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log_path = workdir / f"{kind}.log"
    if kind == "droptrack":
        command = [venv_bin("droptrack"), "serve", "--port", str(port)]
    else:
        command = [sys.executable, "-c", OLD_SERVER.format(port=port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Server(name=kind, process=process, port=port, log_path=log_path)


class SlowClients:
    """`count` connections trickling request heads, reopened when the server closes them."""

    def __init__(self, port: int, count: int, trickle_s: float) -> None:
        self.port, self.count, self.trickle_s = port, count, trickle_s
        self.selector = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.opened = self.closed_by_server = self.failed_connects = 0
        self.thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(SLOW_HEAD)
        except OSError:
            self.failed_connects += 1
            sock.close()
            return
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, data=[0])
        self.opened += 1

    def start(self) -> None:
        for _ in range(self.count):
            self._open()
        self.thread.start()

    def holding(self) -> int:
        return len(self.selector.get_map())

    def _run(self) -> None:
        next_line = time.monotonic() + self.trickle_s
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                with contextlib.suppress(OSError):
                    if sock.recv(4096):
                        continue  # an answer (408/400): the close follows
                self._drop(sock)
            if time.monotonic() >= next_line:
                next_line += self.trickle_s
                for key in list(self.selector.get_map().values()):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    key.data[0] += 1
                    try:
                        sock.send(f"X-Slow-{key.data[0]}: a\r\n".encode())
                    except OSError:
                        self._drop(sock)
            while self.holding() < self.count and not self.stop.is_set():
                before = self.failed_connects
                self._open()
                if self.failed_connects > before:
                    break

    def _drop(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)
        sock.close()
        self.closed_by_server += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.selector.close()


def health(port: int, timeout: float) -> Outcome:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(time.perf_counter() - started, None, error=type(exc).__name__)
    finally:
        conn.close()
    return Outcome(time.perf_counter() - started, response.status)


def latency_row(phase: str, what: str, outcomes: Sequence[Outcome]) -> str:
    answered = sorted(o.latency_s * 1000 for o in outcomes if o.status is not None)
    ok = sum(1 for o in outcomes if o.status == 200)
    return (f"| {phase} | {what} | {len(outcomes)} | {ok} | {fmt(percentile(answered, 0.5))} | "
            f"{fmt(percentile(answered, 0.99))} | {fmt(answered[-1] if answered else 0.0)} |")


def measure(port: int, factory: RequestFactory, deliveries: int, timeout: float,
            phase: str, at_least_s: float = 0.0) -> list[str]:
    """Alternate a delivery and a health check, `deliveries` of each and for `at_least_s`."""
    hooks: list[Outcome] = []
    checks: list[Outcome] = []
    ends = time.monotonic() + at_least_s
    while len(hooks) < deliveries or time.monotonic() < ends:
        hooks.append(send(port, factory.make(1)[0], timeout))
        checks.append(health(port, timeout))
    return [latency_row(phase, "webhook", hooks), latency_row(phase, "/healthz", checks)]


def oversize_declared(port: int, timeout: float) -> str:
    """Content-Length of 1 GB, then wait: the answer must come from the headers alone."""
    head = (b"POST /webhooks/shopify HTTP/1.1\r\nHost: droptrack\r\n"
            b"Content-Length: 1000000000\r\n\r\n")
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            status = sock.recv(64).split(b" ", 2)[1].decode()
        except (OSError, IndexError):
            status = "no answer"
    elapsed = (time.perf_counter() - started) * 1000
    return (f"| Content-Length 1 GB, no body | {status} | {fmt(elapsed)} ms | "
            f"{len(head)} (head only) |")


def oversize_chunked(port: int, timeout: float, limit: int) -> str:
    """1 KB chunks, never a last chunk, until the server answers or 4x the limit is sent."""
    head = (b"POST /webhooks/shopify HTTP/1.1\r\nHost: droptrack\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    sent, status = 0, "no answer"
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
        sock.sendall(head)
        with selectors.DefaultSelector() as answered:
            answered.register(sock, selectors.EVENT_READ)
            while sent < 4 * limit and not answered.select(timeout=0):
                try:
                    sock.sendall(chunk)
                except OSError:
                    break
                sent += 1024
        with contextlib.suppress(OSError, IndexError):
            answer = sock.recv(64)
            status = answer.split(b" ", 2)[1].decode() if answer else "closed"
    elapsed = (time.perf_counter() - started) * 1000
    return (f"| chunked, never ending | {status} | {fmt(elapsed)} ms | "
            f"{sent} of body, socket buffers included (limit {limit}) |")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["droptrack", "waitress-defaults"],
                        default="droptrack")
    parser.add_argument("--slow", type=int, default=300, help="slow connections to hold")
    parser.add_argument("--trickle", type=float, default=1.0,
                        help="seconds between header lines of a slow client")
    parser.add_argument("--deliveries", type=int, default=400,
                        help="webhooks (and as many /healthz) per phase")
    parser.add_argument("--hold", type=float, default=25.0,
                        help="seconds the slow phase lasts at least (past the read deadline)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    limit = 2 * 1024 * 1024  # webhooks.max_body_bytes default
    with temp_dir(args.keep, "droptrack-slow-") as workdir:
        env = droptrack_env(workdir)
        prepare_database(env, SECRET)
        server = start_server(args.server, env, workdir)
        try:
            wait_healthy(server)
            factory = RequestFactory(SECRET.encode())
            measure(server.port, factory, 20, args.timeout, "warm-up")
            rows = measure(server.port, factory, args.deliveries, args.timeout, "baseline")
            slow = SlowClients(server.port, args.slow, args.trickle)
            slow.start()
            try:
                holding = slow.holding()
                rows += measure(server.port, factory, args.deliveries, args.timeout,
                                f"{holding} slow clients", at_least_s=args.hold)
            finally:
                slow.close()
            oversize = [oversize_declared(server.port, args.timeout),
                        oversize_chunked(server.port, args.timeout, limit)]
        finally:
            stop_server(server)
    print(f"\nserver: {args.server}; slow clients trickle a header line every "
          f"{args.trickle:g} s\n")
    print("| phase | request | sent | 200 | p50 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nslow connections opened {slow.opened}, closed by the server {slow.closed_by_server}"
          f", connects refused or timed out {slow.failed_connects}\n")
    print("| oversized body | answer | time to answer | bytes sent |")
    print("|---|---|---:|---:|")
    print("\n".join(oversize))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
