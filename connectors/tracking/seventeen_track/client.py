"""The only code that talks HTTP to 17TRACK: `17token` auth, the envelope, limits, retries.

Every endpoint is a POST of JSON to `{base}/<name>`. Requests go through the shared request
limiter (3 a second per key, paused by a 429's Retry-After for every worker); 429 and 5xx are
retried in the call with backoff, and beyond that handed to the outbox as RetryableError.
Every 17TRACK call is safe to repeat (registering a registered number is refused with
-18019901, which the connector treats as success), so POSTs are retried too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connectors.http import HttpError
from connectors.request_limits import RequestLimiter
from connectors.tracking.base import ProblemKind, QuotaExhausted
from connectors.tracking.common import ServiceClient
from connectors.tracking.seventeen_track import units
from connectors.tracking.seventeen_track.mapper import Envelope, parse_envelope
from connectors.tracking.seventeen_track.settings import SeventeenTrackSettings
from core.errors import PermanentError, RetryableError

log = logging.getLogger(__name__)

AUTH_HEADER = "17token"


class SeventeenTrackAuthError(PermanentError):
    """The key was refused (wrong key, IP not whitelisted, account disabled)."""


class SeventeenTrackClient(ServiceClient):
    AUTH_HEADER = AUTH_HEADER

    def __init__(self, settings: SeventeenTrackSettings, limiter: RequestLimiter, *,
                 retries: int = 3, sleep: Callable[[float], None] | None = None) -> None:
        super().__init__(settings, limiter, retries=retries, sleep=sleep)
        self.settings = settings

    def call(self, endpoint: str, payload: Any) -> Envelope:
        """POST one endpoint; the envelope, or an error saying whether to retry."""
        try:
            body_args: dict[str, Any] = {"json": payload} if payload is not None else {
                "data": b""}
            response = self.http.request("POST", endpoint, retry_safe=True, **body_args)
        except HttpError as exc:
            if exc.status == 401:
                raise SeventeenTrackAuthError(f"17TRACK {endpoint}: the API key was refused "
                                              "(HTTP 401)") from None
            raise
        try:
            body = response.json()
        except ValueError:
            raise RetryableError(f"17TRACK {endpoint}: the answer is not JSON") from None
        envelope, problems = parse_envelope(body)
        if envelope is None:
            raise RetryableError(f"17TRACK {endpoint}: unreadable answer ({'; '.join(problems)})")
        self._raise_for_request_error(endpoint, envelope)
        return envelope

    @staticmethod
    def _raise_for_request_error(endpoint: str, envelope: Envelope) -> None:
        code = envelope.error_code
        if not code:
            return
        message = f"17TRACK {endpoint}: error {code} {envelope.error_message}".rstrip()
        if code in units.AUTH_ERRORS:
            raise SeventeenTrackAuthError(message)
        if code in units.RETRY_ERRORS:
            raise RetryableError(message)
        if units.problem_kind(code) is ProblemKind.QUOTA_EXHAUSTED:
            raise QuotaExhausted(message)
        raise PermanentError(message)
