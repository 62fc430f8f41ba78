"""The HTTP client every connector builds on: keep-alive, timeouts, Retry-After, honest errors.

Connectors put platform specifics (auth, paths, payloads) on top; this module only knows HTTP.
Failures are raised as `RetryableError` (network, timeout, 408/425/429/5xx, with the server's
Retry-After when it gave one) or `PermanentError` (any other 4xx), so the outbox knows what to do.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from core.errors import PermanentError, RetryableError

log = logging.getLogger(__name__)

USER_AGENT = "DropTrack/0.1 (order tracking integration; +docs/supplier-protocol.md)"
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
MAX_BODY_IN_ERROR = 500


class HttpError(PermanentError):
    """A 4xx answer that retrying will not change."""

    def __init__(self, status: int, message: str, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class TransientHttpError(RetryableError):
    """A failure worth retrying later (after `retry_after_seconds` when the server said)."""

    def __init__(self, message: str, status: int | None = None,
                 retry_after_seconds: float | None = None) -> None:
        super().__init__(message, retry_after_seconds, throttled=status == 429)
        self.status = status


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """One keep-alive session per remote system, with bounded in-call retries.

    In-call retries are short (`max_retry_wait_seconds`); a longer Retry-After is handed to the
    caller as a TransientHttpError so the outbox reschedules instead of blocking a worker.
    Non-idempotent requests are retried only when they carry an Idempotency-Key.
    """

    def __init__(self, base_url: str, *, timeout: tuple[float, float] = (5.0, 30.0),
                 retries: int = 2, max_retry_wait_seconds: float = 5.0,
                 verify: bool | str = True, auth: Any = None,
                 headers: Mapping[str, str] | None = None, pool_size: int = 10,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.max_retry_wait_seconds = max_retry_wait_seconds
        self._sleep = sleep
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # Passed per request: requests lets REQUESTS_CA_BUNDLE override a session's `verify`.
        self.verify = verify
        self.session.auth = auth
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        if headers:
            self.session.headers.update(headers)
        self.calls = 0

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request; return a 2xx/3xx response or raise HttpError/TransientHttpError."""
        method = method.upper()
        headers = kwargs.get("headers") or {}
        # `retry_safe=True`: the caller knows this request may be repeated (a POST whose
        # repeat the remote system recognises, e.g. registering a tracking number twice).
        retry_safe = bool(kwargs.pop("retry_safe", False))
        may_retry = (retry_safe or method in IDEMPOTENT_METHODS
                     or "Idempotency-Key" in headers)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("allow_redirects", False)
        attempt = 0
        while True:
            attempt += 1
            try:
                self.calls += 1
                response = self.session.request(method, self.url(path), **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = f"{method} {path}: {type(exc).__name__}"
                failure: HttpError | TransientHttpError = TransientHttpError(reason)
                wait = None
            else:
                if response.status_code < 300:
                    return response
                if response.status_code < 400:
                    # Never follow: a redirect could point anywhere (an SSRF guard's bypass).
                    location = response.headers.get("Location", "?")
                    raise HttpError(response.status_code,
                                    f"{method} {path}: redirect to {location} not followed")
                failure = self._failure(method, path, response)
                wait = failure.retry_after_seconds if isinstance(failure, RetryableError) else None
            if not isinstance(failure, RetryableError) or not may_retry or attempt > self.retries:
                raise failure
            delay = wait if wait is not None else min(2.0 ** (attempt - 1) * 0.2, 2.0)
            if delay > self.max_retry_wait_seconds:
                raise failure
            log.info("retrying %s %s in %.1fs (%s)", method, path, delay, failure)
            self._sleep(delay)

    @staticmethod
    def _failure(method: str, path: str,
                 response: requests.Response) -> HttpError | TransientHttpError:
        body = response.text[:MAX_BODY_IN_ERROR]
        message = f"{method} {path}: HTTP {response.status_code}"
        if response.status_code in RETRYABLE_STATUSES:
            return TransientHttpError(message, response.status_code,
                                      parse_retry_after(response.headers.get("Retry-After")))
        return HttpError(response.status_code, f"{message}: {body}", body)

    def get_json(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post_json(self, path: str, payload: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, json=payload, **kwargs).json()
