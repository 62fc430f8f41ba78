"""The only code that talks HTTP to AliExpress: signed calls, the envelope, the QPS ban.

Business APIs are POSTed as a form to `{base}/sync` with `method=<api name>`, signed over the
sorted parameters with no path prefix; the token APIs go to `{base}/rest/auth/token/...`,
signed with the path (`/auth/token/create`) in front (FACTS §2). Every request goes through
the shared request limiter under the app's key; the 1-second ban after the QPS limit pauses
that key for every worker sharing the limiter, and the call waits it out once before giving
the outbox a throttled RetryableError. A create is never repeated inside the call (a timeout
may have placed the order: the next attempt carries the same `out_order_id`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from connectors.http import HttpClient, HttpError
from connectors.request_limits import RequestLimiter, limit_requests
from connectors.suppliers.aliexpress import mapper
from connectors.suppliers.aliexpress import settings as config
from connectors.suppliers.aliexpress.mapper import PlatformError
from connectors.suppliers.aliexpress.settings import AliExpressSettings
from connectors.suppliers.aliexpress.units import PlatformProblem
from connectors.suppliers.base import SupplierAuthError
from core.errors import PermanentError, RetryableError

log = logging.getLogger(__name__)

THROTTLE_RETRIES = 2
CREATE_METHOD = "aliexpress.ds.order.create"


class AliExpressError(PermanentError):
    """AliExpress refused the call for a reason retrying cannot change."""

    def __init__(self, message: str, problem: PlatformProblem) -> None:
        super().__init__(message)
        self.problem = problem


class AliExpressTokenError(AliExpressError, SupplierAuthError):
    """The access (or refresh) token was refused: expired, revoked, or never granted."""


def _epoch_ms() -> int:
    return int(time.time() * 1000)


class AliExpressClient:
    def __init__(self, settings: AliExpressSettings, limiter: RequestLimiter, *,
                 clock_ms: Callable[[], int] = _epoch_ms,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.settings = settings
        self.limiter = limiter
        self.clock_ms = clock_ms
        options: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = HttpClient(settings.base_url, timeout=(5.0, settings.timeout_seconds),
                               verify=settings.verify, **options)
        limit_requests(self.http, limiter, settings.limiter_key, settings.requests_per_second)

    @property
    def calls(self) -> int:
        return self.http.calls

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One business API call; its `result` (business errors inside it are the caller's
        to read), or an error saying whether to retry."""
        if not self.settings.access_token:
            raise AliExpressTokenError("AliExpress: the account is not authorized yet",
                                       PlatformProblem.TOKEN)
        for attempt in range(THROTTLE_RETRIES + 1):
            signed = mapper.system_params(self.settings.app_key, self.clock_ms(),
                                          method=method,
                                          access_token=self.settings.access_token) | dict(params)
            signed["sign"] = mapper.sign(signed, self.settings.app_secret)
            body = self._post(config.BUSINESS_PATH, signed, method,
                              retry_safe=method != CREATE_METHOD)
            error = mapper.parse_platform_error(body)
            if error is None:
                result, problems = mapper.parse_envelope(method, body)
                if result is None:
                    raise RetryableError(f"AliExpress {method}: {'; '.join(problems)}")
                return result
            if error.problem is not PlatformProblem.THROTTLED or attempt == THROTTLE_RETRIES:
                raise self._error(method, error)
            # The ban is refused at the gateway, before the API: nothing was done, so even a
            # create may go again, once the ban is over (the limiter waits for it).
            self.limiter.pause(self.settings.limiter_key, config.BAN_SECONDS)
            log.info("AliExpress %s: QPS ban, waiting %.0fs", method, config.BAN_SECONDS)
        raise AssertionError("unreachable")

    def token(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """A system (token) API: `/auth/token/create` or `/auth/token/refresh`."""
        signed = mapper.system_params(self.settings.app_key, self.clock_ms()) | dict(params)
        signed["sign"] = mapper.sign(signed, self.settings.app_secret, api_path=path)
        body = self._post("/rest" + path, signed, path, retry_safe=False)
        error = mapper.parse_platform_error(body)
        if error is not None:
            raise self._error(path, error)
        if not isinstance(body, dict):
            raise RetryableError(f"AliExpress {path}: the answer is not an object")
        return body

    def _post(self, path: str, form: dict[str, str], what: str, *, retry_safe: bool) -> Any:
        try:
            response = self.http.request("POST", path, data=form, retry_safe=retry_safe)
        except HttpError as exc:  # the gateway answers errors in a 200; a 4xx is unusual
            error = mapper.parse_platform_error(_json(exc.body))
            if error is not None:
                raise self._error(what, error) from None
            raise
        try:
            return response.json()
        except ValueError:
            raise RetryableError(f"AliExpress {what}: the answer is not JSON") from None

    def _error(self, what: str, error: PlatformError) -> Exception:
        message = f"AliExpress {what}: {error}"
        if error.problem is PlatformProblem.THROTTLED:
            self.limiter.pause(self.settings.limiter_key, config.BAN_SECONDS)
            return RetryableError(message, retry_after_seconds=config.BAN_SECONDS,
                                  throttled=True)
        if error.problem is PlatformProblem.TEMPORARY:
            return RetryableError(message)
        if error.problem is PlatformProblem.TOKEN:
            return AliExpressTokenError(message, error.problem)
        if error.problem is PlatformProblem.SIGNATURE:
            # Our signature was refused: the app secret DropTrack holds is not the app's.
            # Only the owner can fix it (connect again with the right secret).
            return AliExpressTokenError(f"{message}: the app secret is not the one of app "
                                        f"{self.settings.app_key}", error.problem)
        return AliExpressError(message, error.problem)


def _json(body: str) -> Any:
    import json

    try:
        return json.loads(body)
    except ValueError:
        return None
