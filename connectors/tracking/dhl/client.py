"""The only code that talks HTTP to DHL: `DHL-API-Key` auth, problem+json errors, the daily
budget.

One GET per number (`/shipments?trackingNumber=...`), at most 1 a second through the shared
request limiter. A short 429 (Retry-After of a few seconds: the per-second limit) and 5xx are
retried in the call; a 429 with a long or no Retry-After is the daily budget (DHL answers 429
until 00:00 GMT), raised as `QuotaExhausted` with `resume_at` = the next 00:00 GMT, so the
caller keeps the parcels waiting instead of retrying into the wall.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from connectors.http import HttpError, TransientHttpError
from connectors.request_limits import RequestLimiter
from connectors.tracking.base import QuotaExhausted
from connectors.tracking.common import ServiceClient
from connectors.tracking.dhl import mapper, units
from connectors.tracking.dhl.settings import DhlSettings
from core.errors import PermanentError

AUTH_HEADER = "DHL-API-Key"
PER_SECOND_WAIT_SECONDS = 5.0  # a longer Retry-After than this is the daily budget


class DhlAuthError(PermanentError):
    """The key was refused."""


class DhlProblem(PermanentError):
    """A problem+json answer about the number (404 not found, 400 bad parameters)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DhlClient(ServiceClient):
    AUTH_HEADER = AUTH_HEADER
    JSON_BODIES = False  # GET only

    def __init__(self, settings: DhlSettings, limiter: RequestLimiter, *,
                 now: Callable[[], datetime] | None = None, retries: int = 2,
                 sleep: Callable[[float], None] | None = None) -> None:
        super().__init__(settings, limiter, retries=retries, sleep=sleep,
                         max_retry_wait_seconds=PER_SECOND_WAIT_SECONDS)
        self.settings = settings
        self.now = now or (lambda: datetime.now(UTC))

    def shipments(self, number: str, service: str | None = None) -> Any:
        """The `shipments` answer for one number, or DhlProblem / DhlAuthError /
        QuotaExhausted / RetryableError."""
        params = {"trackingNumber": number, "language": "en"}
        if service:
            params["service"] = service  # disambiguates numbers shared by two DHL services
        try:
            response = self.http.request("GET", "shipments", params=params)
        except HttpError as exc:
            try:
                body = orjson.loads(exc.body) if exc.body else {}
            except orjson.JSONDecodeError:
                body = {}
            status, words = mapper.parse_problem(body, exc.status)
            if exc.status in units.AUTH_STATUSES:
                raise DhlAuthError(f"DHL: the API key was refused ({words})") from None
            raise DhlProblem(status, f"DHL {number}: {words}") from None
        except TransientHttpError as exc:
            wait = exc.retry_after_seconds
            if exc.status == 429 and (wait is None or wait > PER_SECOND_WAIT_SECONDS):
                resume = units.next_reset(self.now())
                raise QuotaExhausted(f"DHL: the daily call budget is spent until "
                                     f"{resume:%Y-%m-%d %H:%M} GMT", resume) from None
            raise
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise PermanentError(f"DHL {number}: the answer is not JSON") from None
