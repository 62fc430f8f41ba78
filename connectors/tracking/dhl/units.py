"""DHL Unified Tracking's vocabulary in DropTrack's terms: `statusCode`, problem statuses.

`statusCode` has five values (FACTS "Response 200"): pre-transit, transit, delivered, failure,
unknown. `status` and `description` are free text and are shown, never interpreted: DHL's
unified codes do not say "out for delivery" or "ready for pick-up", so those arrive as
"in transit". `unknown` and any value not in the table are unknown (None), never a guess.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final

from connectors.tracking.base import ProblemKind
from connectors.tracking.common import Unit
from core.status import Status

STATUS_CODES: Final = MappingProxyType({
    "pre-transit": Unit(Status.INFO_RECEIVED),
    "transit": Unit(Status.IN_TRANSIT),
    "delivered": Unit(Status.DELIVERED),
    "failure": Unit(Status.UNDELIVERED),
    "unknown": Unit(None),
})


def unit(status_code: str | None) -> Unit | None:
    return STATUS_CODES.get(status_code.strip().lower()) if status_code else None


# Problem+json `status` values (FACTS "Errors") for one number.
PROBLEM_BY_STATUS: Final = MappingProxyType({
    404: ProblemKind.NOT_TRACKED,  # no shipment with this number (yet: it takes 10-30 min)
    400: ProblemKind.INVALID_NUMBER,  # bad parameters, e.g. a malformed number
})
AUTH_STATUSES: Final = frozenset({401, 403})


def problem_kind(status: int) -> ProblemKind:
    return PROBLEM_BY_STATUS.get(status, ProblemKind.OTHER)


def next_reset(now: datetime) -> datetime:
    """The next 00:00 GMT, when DHL's daily call budget comes back."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)
