"""The only code that talks HTTP to AfterShip: `as-api-key` auth, the `{meta, data}`
envelope, rate limits, retries.

Requests go through the shared request limiter (the strictest per-endpoint limit, 5 a second
per key, shared by every worker); 429 (`TooManyRequests`) and 5xx are retried in the call with
backoff, beyond that handed to the outbox as RetryableError. Creating a tracking twice is
refused with meta code 4003, which the connector treats as success, so POST /trackings is safe
to repeat. A 4xx whose envelope names a per-number problem comes back as an Envelope (the
connector turns it into a NumberProblem); a refused key raises AfterShipAuthError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from connectors.http import HttpError
from connectors.request_limits import RequestLimiter
from connectors.tracking.aftership import units
from connectors.tracking.aftership.mapper import Envelope, parse_envelope
from connectors.tracking.aftership.settings import AfterShipSettings
from connectors.tracking.base import ProblemKind
from connectors.tracking.common import ServiceClient
from core.errors import PermanentError, RetryableError

AUTH_HEADER = "as-api-key"


class AfterShipAuthError(PermanentError):
    """The key was refused (wrong key, or the request is not allowed for this account)."""


class AfterShipClient(ServiceClient):
    AUTH_HEADER = AUTH_HEADER

    def __init__(self, settings: AfterShipSettings, limiter: RequestLimiter, *,
                 retries: int = 3, sleep: Callable[[float], None] | None = None) -> None:
        super().__init__(settings, limiter, retries=retries, sleep=sleep)
        self.settings = settings

    def call(self, method: str, path: str, **kwargs: Any) -> Envelope:
        """One request; the envelope (also of a 4xx naming a problem), or an error saying
        whether to retry."""
        what = f"AfterShip {method} {path}"
        try:
            response = self.http.request(method, path, retry_safe=True, **kwargs)
            raw: Any = response.content
        except HttpError as exc:
            if exc.status in units.AUTH_ERRORS:
                raise AfterShipAuthError(f"{what}: the API key was refused "
                                         f"(HTTP {exc.status})") from None
            raw = exc.body.encode()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise RetryableError(f"{what}: the answer is not JSON") from None
        envelope, problems = parse_envelope(body)
        if envelope is None:
            raise PermanentError(f"{what}: unreadable answer ({'; '.join(problems)})")
        if envelope.code in units.AUTH_ERRORS:
            raise AfterShipAuthError(f"{what}: {envelope.code} {envelope.message}")
        if not envelope.ok and units.problem_kind(envelope.code) is ProblemKind.OTHER:
            raise PermanentError(f"{what}: {envelope.code} {envelope.type} {envelope.message}")
        return envelope
