"""What every tracking-service connector offers DropTrack, in DropTrack's own terms.

A service is given tracking numbers to watch (`register`), tells DropTrack about them by
signed push (`verify_push` + `parse_push`) or when asked (`track`), and charges for the
watching (`quota`). Per-number refusals come back as data (`NumberProblem`), never raised:
one bad number in a batch of 40 must not lose the other 39. Request-level failures are
raised as `core.errors` (RetryableError: try again later; PermanentError: it will not work).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.domain import CarrierEvent
from core.errors import RetryableError


class ProblemKind(StrEnum):
    """Why a service refused one number, in terms DropTrack acts on."""

    ALREADY_TRACKED = "already_tracked"  # idempotent success: it is being tracked
    NOT_TRACKED = "not_tracked"  # the service does not know the number
    INVALID_NUMBER = "invalid_number"  # malformed: the owner must correct it
    CARRIER_UNKNOWN = "carrier_unknown"  # the owner must name the carrier
    QUOTA_EXHAUSTED = "quota_exhausted"  # wait for quota: nothing is wrong with the number
    NOT_ALLOWED = "not_allowed"  # the operation does not apply in the number's state
    OTHER = "other"


@dataclass(frozen=True)
class NumberProblem:
    number: str
    kind: ProblemKind
    code: str  # the service's own code, for the owner and the logs
    message: str


@dataclass(frozen=True)
class TrackRequest:
    number: str
    carrier: str | None = None  # DropTrack carrier id (connectors/carriers/registry.py)
    service_carrier: str | None = None  # the service's own carrier code, when known
    tag: str = ""  # our label, echoed back in pushes


@dataclass(frozen=True)
class Accepted:
    number: str
    service_carrier: str | None = None


@dataclass(frozen=True)
class BatchResult:
    accepted: Sequence[Accepted] = ()
    problems: Sequence[NumberProblem] = ()


@dataclass(frozen=True)
class TrackedParcel:
    """What a service knows about one number, mapped to DropTrack's statuses."""

    number: str
    service_carrier: str | None
    carrier: str | None  # DropTrack carrier id, None when the service's carrier is unmapped
    carrier_name: str  # the service's name for the carrier (shown when unmapped)
    events: Sequence[CarrierEvent] = ()
    last_mile_number: str | None = None
    last_mile_carrier: str | None = None  # DropTrack carrier id
    last_mile_carrier_name: str = ""
    estimated_delivery_at: datetime | None = None
    expired: bool = False  # the service gave up: no news for too long (an alert, not a status)
    invalid_number: bool = False  # the carrier says the number does not exist
    stopped: bool = False
    raw_status: str = ""


@dataclass(frozen=True)
class PushUpdate:
    """One verified push, parsed: a parcel update, or the service stopped tracking."""

    event: str
    number: str
    parcel: TrackedParcel | None = None
    stopped: bool = False
    problems: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Quota:
    total: int
    used: int
    remaining: int
    today_used: int = 0
    daily_max: int | None = None


class QuotaExhausted(RetryableError):
    """The whole request was refused for quota: retry when quota returns (at `resume_at`
    when the service says when, e.g. DHL's daily budget at 00:00 GMT)."""

    def __init__(self, message: str, resume_at: datetime | None = None) -> None:
        super().__init__(message, throttled=True)  # the service is up, only out of budget
        self.resume_at = resume_at


class TrackingService(Protocol):
    """The interface every tracking-service connector implements the same way."""

    name: str
    max_batch: int
    # The service answers `quota()` from its own books (17TRACK's getquota); False: it has no
    # quota API and `quota()` reports DropTrack's own count (or nothing to count).
    quota_api: bool
    # Calls a day the account may make (DHL: 250), None when the service has no daily cap.
    daily_calls: int | None

    @property
    def calls(self) -> int:
        """HTTP requests made so far (retries included): what a daily budget counts."""
        ...

    def register(self, requests: Sequence[TrackRequest]) -> BatchResult: ...

    def track(self, numbers: Sequence[TrackRequest]) -> tuple[list[TrackedParcel],
                                                              list[NumberProblem]]: ...

    def change_carrier(self, number: str, old: str, new: str) -> BatchResult: ...

    def stop(self, numbers: Sequence[TrackRequest]) -> BatchResult: ...

    def retrack(self, numbers: Sequence[TrackRequest]) -> BatchResult: ...

    def delete(self, numbers: Sequence[TrackRequest]) -> BatchResult: ...

    def quota(self) -> Quota: ...

    def verify_push(self, body: bytes, headers: Mapping[str, str]) -> bool: ...

    def close(self) -> None: ...
