"""The reference supplier over HTTPS: the only code here that does HTTP.

Every request (in-call retries included) first asks the supplier's `RequestLimiter`: at most
`requests_per_second` (0 = no cap), and nothing while the supplier said to wait. A 429 or 503
with Retry-After pauses the supplier for everyone sharing the limiter: every thread with the
in-process one, every worker with the Redis-backed one (integration/ratelimits.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from connectors.http import HttpClient, HttpError, parse_retry_after
from connectors.suppliers.base import CreateResult, SupplierOrderRequest, SupplierOrderView
from connectors.suppliers.rest import mapper
from connectors.suppliers.rest.settings import RestSupplierSettings
from integration.errors import RetryableError

PAUSING_STATUSES = frozenset({429, 503})
MIN_WAIT_SECONDS = 0.005


class RequestLimiter(Protocol):
    """Requests to one remote system (`key`), shared by everyone holding the same limiter."""

    def acquire(self, key: str, rate: float) -> None:
        """Block until one request to `key` may go: at most `rate` per second (0 = no cap) and
        not while paused. Raise RetryableError (with the wait) when that is too far away to
        block a worker for."""

    def pause(self, key: str, seconds: float) -> None:
        """Send nothing to `key` for `seconds` (the server's Retry-After)."""

    def remaining_pause(self, key: str) -> float:
        """Seconds until `key` may be called again after a pause (0 when not paused)."""


def too_long(key: str, wait: float) -> RetryableError:
    return RetryableError(f"{key}: asked to wait {wait:.1f}s before the next request",
                          retry_after_seconds=wait)


@dataclass
class _Slot:
    next_at: float = 0.0
    paused_until: float = 0.0


@dataclass
class InProcessRequestLimiter:
    """The embedded mode's limiter: shared by the threads of one process (monotonic time)."""

    max_wait_seconds: float = 5.0
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, key: str, rate: float) -> None:
        while True:
            with self._lock:
                slot = self._slots.setdefault(key, _Slot())
                now = self.now()
                paused = slot.paused_until - now
                if paused <= 0:
                    start = max(slot.next_at, now)
                    wait = start - now
                    if wait > self.max_wait_seconds:
                        raise too_long(key, wait)
                    if rate > 0:
                        slot.next_at = start + 1.0 / rate
                    break
            if paused > self.max_wait_seconds:
                raise too_long(key, paused)
            self.sleep(max(paused, MIN_WAIT_SECONDS))
        if wait > 0:
            self.sleep(wait)

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
            slot.paused_until = max(slot.paused_until, self.now() + seconds)

    def remaining_pause(self, key: str) -> float:
        with self._lock:
            slot = self._slots.get(key)
            return max(slot.paused_until - self.now(), 0.0) if slot else 0.0


class LimitedAdapter(HTTPAdapter):
    """Asks the limiter before every request and tells it about every Retry-After."""

    def __init__(self, limiter: RequestLimiter, key: str, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter
        self.key = key
        self.rate = rate

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        self.limiter.acquire(self.key, self.rate)
        response = super().send(request, *args, **kwargs)
        if response.status_code in PAUSING_STATUSES:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait:
                self.limiter.pause(self.key, wait)
        return response


class RestSupplier:
    def __init__(self, settings: RestSupplierSettings, *,
                 limiter: RequestLimiter | None = None, limit_key: str = "",
                 requests_per_second: float = 0.0) -> None:
        self.http = HttpClient(
            settings.base_url.rstrip("/") + "/v1",
            timeout=(5.0, settings.timeout_seconds),
            verify=settings.ca_bundle or True,
            headers={"Authorization": f"Bearer {settings.api_key}"},
        )
        if limiter is not None:
            adapter = LimitedAdapter(limiter, limit_key or settings.base_url,
                                     requests_per_second, pool_connections=10, pool_maxsize=10,
                                     max_retries=0)
            self.http.session.mount("http://", adapter)
            self.http.session.mount("https://", adapter)

    def create_order(self, request: SupplierOrderRequest,
                     idempotency_key: str) -> CreateResult:
        try:
            response = self.http.request("POST", "/orders", json=mapper.build_order(request),
                                         headers={"Idempotency-Key": idempotency_key})
        except HttpError as error:
            rejection = mapper.parse_rejection(error.status, _json(error.body))
            if rejection is None:
                raise
            return CreateResult(rejection=rejection)
        body = response.json()
        return CreateResult(external_id=str(body["id"]),
                            replayed=response.headers.get("Idempotent-Replayed") == "true")

    def get_order(self, external_id: str) -> SupplierOrderView:
        return mapper.parse_order(self.http.get_json(f"/orders/{external_id}"))

    def cancel_order(self, external_id: str) -> bool:
        try:
            self.http.request("POST", f"/orders/{external_id}/cancel",
                              headers={"Idempotency-Key": f"cancel:{external_id}"})
        except HttpError as error:
            if error.status == 409:
                return False  # already shipped
            raise
        return True

    def register_webhook(self, url: str, secret: str) -> str:
        """Ask the supplier to push updates to `url`, signed with `secret`. Returns its id."""
        body = self.http.post_json("/webhooks", {"url": url, "secret": secret},
                                   headers={"Idempotency-Key": f"webhook:{url}"})
        return str(body["id"])

    def close(self) -> None:
        self.http.close()


def _json(body: str) -> object:
    import json

    try:
        return json.loads(body)
    except ValueError:
        return None
