"""What every tracking-service connector needs the same way: the request limiter's key for an
account, stable event keys, and the small JSON readers their mappers share."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
