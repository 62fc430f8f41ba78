"""Pytest fixtures for the reference supplier sandbox (sandboxes.supplier).

* ``supplier_sandbox``: the supplier served over real HTTP on a loopback port (one server per
  session, reset before each test; its FrozenClock set to SUPPLIER_EPOCH), with
  ``.url``, ``.api_key``, ``.state`` (seed/inspect/reset/deliver_due), ``.clock``,
  ``.headers()`` and ``.create_order(...)``. Background push and rate limiting are off: a
  frozen clock never refills a token bucket, so a client honouring Retry-After would wait
  forever. Turn the limit on with ``state.rate_limiter.configure(10)`` to test it.
* ``supplier_clock``: the FrozenClock the sandbox reads (2026-11-02 09:00 UTC at start).
* ``supplier_push_receiver``: a loopback endpoint that records pushed requests (raw body and
  headers) and answers the statuses queued in ``.responses`` (then 200).
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from flask import Flask, Response, request

from core.clock import FrozenClock
from sandboxes.server import BackgroundServer
from sandboxes.supplier import DEFAULT_API_KEY, SupplierState, build

SUPPLIER_EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def sample_order(order_number: str = "#1001", **recipient: str) -> dict[str, Any]:
    """A valid order body (US recipient, two in-stock lines); recipient fields overridable."""
    return {
        "external_reference": {"store": "demo-store.myshopify.com", "order_number": order_number},
        "recipient": {
            "name": "Jane Doe",
            "address1": "742 Evergreen Terrace",
            "address2": "Apt 3",
            "city": "Springfield",
            "province": "IL",
            "postcode": "62704",
            "country": "US",
            "phone": "+1 217 555 0134",
            "email": "jane@example.com",
            **recipient,
        },
        "lines": [
            {"supplier_sku": "MUG-CERAMIC-11OZ", "quantity": 2},
            {"supplier_sku": "TEE-BLACK-M", "quantity": 1},
        ],
    }


@dataclass
class SupplierSandbox:
    server: BackgroundServer
    state: SupplierState
    clock: FrozenClock
    api_key: str = DEFAULT_API_KEY

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def create_order(self, body: dict[str, Any] | None = None, *,
                     idempotency_key: str | None = None,
                     timeout: float = 5.0) -> requests.Response:
        return requests.post(f"{self.url}/v1/orders", json=body or sample_order(),
                             headers=self.headers(idempotency_key or str(uuid.uuid4())),
                             timeout=timeout)

    def get_order(self, order_id: str) -> dict[str, Any]:
        response = requests.get(f"{self.url}/v1/orders/{order_id}", headers=self.headers(),
                                timeout=5)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def track(self, *numbers: str) -> list[dict[str, Any]]:
        response = requests.post(f"{self.url}/v1/tracking/batch", headers=self.headers(),
                                 json={"tracking_numbers": list(numbers)}, timeout=5)
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results


@pytest.fixture(scope="session")
def _supplier_server() -> Iterator[SupplierSandbox]:
    """One server for the session (starting and stopping one costs ~0.5 s); reset per test."""
    clock = FrozenClock(SUPPLIER_EPOCH)
    app = build(clock, public_url="http://127.0.0.1", background_push=False,
                rate_limit_per_second=None, push_timeout_seconds=2.0)
    state: SupplierState = app.extensions["sandbox"]
    with BackgroundServer(app) as server:
        state.public_url = server.url
        yield SupplierSandbox(server, state, clock)
    state.close()


@pytest.fixture
def supplier_sandbox(_supplier_server: SupplierSandbox) -> SupplierSandbox:
    """The reference supplier, reset: no orders, default stock, clock at SUPPLIER_EPOCH."""
    _supplier_server.clock.set(SUPPLIER_EPOCH)
    _supplier_server.state.reset()
    return _supplier_server


@pytest.fixture
def supplier_clock(supplier_sandbox: SupplierSandbox) -> FrozenClock:
    """The frozen clock the supplier sandbox reads."""
    return supplier_sandbox.clock


@dataclass
class ReceivedPush:
    body: bytes
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    server: BackgroundServer
    received: list[ReceivedPush] = field(default_factory=list)
    responses: deque[int] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.server.url}/webhooks/supplier"


@pytest.fixture
def supplier_push_receiver() -> Iterator[WebhookReceiver]:
    app = Flask("supplier_push_receiver")
    holder: list[WebhookReceiver] = []

    @app.post("/webhooks/supplier")
    def receive() -> Response:
        receiver = holder[0]
        with receiver.lock:
            receiver.received.append(ReceivedPush(request.get_data(), dict(request.headers)))
            status = receiver.responses.popleft() if receiver.responses else 200
        return Response("", status=status)

    with BackgroundServer(app) as server:
        holder.append(WebhookReceiver(server))
        yield holder[0]
