"""What every tracking-service connector needs the same way: an account's settings and its
HTTP client (auth header, limiter, retries), the request limiter's key for an account, stable
event keys, the push signature check, and the small JSON readers their mappers share."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import orjson

from connectors.http import HttpClient
from connectors.request_limits import RequestLimiter, limit_requests
from core.domain import CarrierEvent
from core.status import Reason, Status


@dataclass(frozen=True)
class Unit:
    """One word of a service's status vocabulary, in DropTrack's terms."""

    status: Status | None  # None: not a status of ours (nothing yet, or unknown)
    reason: Reason | None = None
    expired: bool = False  # the service stopped hearing from the carrier: alert "stuck"
    invalid_number: bool = False  # the carrier does not know the number: owner's problem


def limiter_key(service: str, api_key: str) -> str:
    """The request limiter's key for one account: shared by every worker holding the same key,
    and no secret (a digest, since limiter keys show up in Redis)."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return f"{service}:{digest}"


def check_base_url(service: str, url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{service} base URL must start with http:// or https://")


@dataclass(frozen=True, repr=False)
class ServiceSettings:
    """One account at a tracking service. Each service's settings name the service and give
    their own defaults (declare them with repr=False: the repr never shows a key)."""

    SERVICE: ClassVar[str] = ""  # its name in limiter keys
    LABEL: ClassVar[str] = ""  # its name for people
    KEY_SETTING: ClassVar[str] = ""  # where the owner sets the key ([tracking] ...)

    api_key: str
    base_url: str = ""
    requests_per_second: float = 1.0
    timeout_seconds: float = 30.0
    verify: bool | str = True

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError(f"{self.LABEL} needs an API key (tracking.{self.KEY_SETTING})")
        check_base_url(self.LABEL, self.base_url)

    @property
    def limiter_key(self) -> str:
        return limiter_key(self.SERVICE, self.api_key)

    def __repr__(self) -> str:  # never the key or a secret
        return f"{type(self).__name__}(base_url={self.base_url!r})"


def service_http(settings: ServiceSettings, limiter: RequestLimiter,
                 headers: Mapping[str, str], *, retries: int,
                 sleep: Callable[[float], None] | None = None,
                 **options: Any) -> HttpClient:
    """The HTTP client of one account: its auth headers, retries, and the request limiter
    shared by every worker holding the same key."""
    if sleep is not None:
        options["sleep"] = sleep
    http = HttpClient(settings.base_url, timeout=(5.0, settings.timeout_seconds),
                      retries=retries, verify=settings.verify, headers=dict(headers), **options)
    limit_requests(http, limiter, settings.limiter_key, settings.requests_per_second)
    return http


class ServiceClient:
    """What every service's client does the same way: one HTTP client per account, with its
    auth header (`AUTH_HEADER` = the key), JSON bodies, retries and the shared limiter, and
    the count of calls it made. Each service's client adds its calls and envelope."""

    AUTH_HEADER: ClassVar[str] = ""
    JSON_BODIES: ClassVar[bool] = True

    def __init__(self, settings: ServiceSettings, limiter: RequestLimiter, *,
                 retries: int = 3, sleep: Callable[[float], None] | None = None,
                 **options: Any) -> None:
        headers = {self.AUTH_HEADER: settings.api_key}
        if self.JSON_BODIES:
            headers["Content-Type"] = "application/json"
        self.http = service_http(settings, limiter, headers, retries=retries, sleep=sleep,
                                 **options)

    @property
    def calls(self) -> int:
        return self.http.calls

    def close(self) -> None:
        self.http.close()


class HoldsClient:
    """A connector's calls so far and its close, for a connector that holds one client."""

    client: Any

    @property
    def calls(self) -> int:
        return int(self.client.calls)

    def close(self) -> None:
        self.client.close()


def signed_by_any(given: str, secrets: Sequence[str], expected: Callable[[str], str]) -> bool:
    """Constant-time check of a push's signature against every secret (old and new, in
    rotation); every secret is compared, so the time does not tell which one matched."""
    received = given.strip().encode()
    ok = False
    for secret in secrets:
        if secret:
            ok |= hmac.compare_digest(received, expected(secret).encode())
    return ok


def json_object(body: bytes) -> dict[str, Any] | None:
    """A push body as a JSON object; None when it is not one."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def event(service: str, number: str, happened_at: datetime, status: Status,
          reason: Reason | None, raw_status: str, message: str, location: str,
          identity: tuple[str, ...]) -> CarrierEvent:
    """A carrier event keyed by its time and what identifies it (raw status, text, place): the
    same scan seen again by push or poll is the same event, so it is stored once."""
    digest = hashlib.sha256("|".join((happened_at.isoformat(), *identity)).encode()
                            ).hexdigest()[:20]
    return CarrierEvent(key=f"{service}:{number}:{digest}", status=status,
                        happened_at=happened_at, reason=reason, raw_status=raw_status,
                        message=message, location=location)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
