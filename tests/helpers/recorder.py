"""A tiny HTTP server standing in for a supplier's order endpoint: it honours idempotency keys.

Every request is counted; an order is created only the first time its key is seen, as the
reference supplier protocol requires.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.orders: dict[str, object] = {}
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                key = self.headers.get("Idempotency-Key", "")
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with recorder.lock:
                    recorder.requests[key] += 1
                    created = key not in recorder.orders
                    if created:
                        recorder.orders[key] = json.loads(body)
                self.send_response(201 if created else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"created": created}).encode())

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/orders"

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
