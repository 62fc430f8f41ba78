"""DHL behind `connectors.tracking.base.TrackingService`: client + mapper together.

Pull only: `register`, `stop`, `retrack` and `delete` cost nothing (there is nothing to tell
DHL); `track` is one call per number (`max_batch = 1`, so a spent budget stops at once);
`change_carrier` records DHL's `service` (express, parcel-de, ecommerce, ...) used to tell
apart shipments sharing a number. `daily_calls` is the budget DropTrack spends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from connectors.request_limits import RequestLimiter
from connectors.tracking.base import (
    Accepted,
    BatchResult,
    NumberProblem,
    ProblemKind,
    Quota,
    TrackedParcel,
    TrackRequest,
)
from connectors.tracking.common import HoldsClient
from connectors.tracking.dhl import NAME, mapper, units
from connectors.tracking.dhl.client import DhlClient, DhlProblem
from connectors.tracking.dhl.settings import DhlSettings
from core.errors import PermanentError


def _accept_all(requests: Sequence[TrackRequest]) -> BatchResult:
    return BatchResult([Accepted(request.number, request.service_carrier)
                        for request in requests])


class Dhl(HoldsClient):
    name = NAME
    max_batch = 1
    quota_api = False

    def __init__(self, settings: DhlSettings, limiter: RequestLimiter,
                 client: DhlClient | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.daily_calls: int | None = settings.daily_calls
        self.client = client or DhlClient(settings, limiter, now=now)

    def register(self, requests: Sequence[TrackRequest]) -> BatchResult:
        return _accept_all(requests)

    def track(self, numbers: Sequence[TrackRequest]) -> tuple[list[TrackedParcel],
                                                              list[NumberProblem]]:
        parcels: list[TrackedParcel] = []
        problems: list[NumberProblem] = []
        for request in numbers:
            try:
                body = self.client.shipments(request.number, request.service_carrier)
            except DhlProblem as problem:
                problems.append(NumberProblem(request.number, units.problem_kind(
                    problem.status), str(problem.status), str(problem)))
                continue
            found, item_problems = mapper.parse_shipments(body, request.number)
            if found:
                parcels.append(found[0])  # the first is the best match; the rest share the id
            else:
                problems.append(NumberProblem(request.number, ProblemKind.OTHER, "unreadable",
                                              "; ".join(item_problems) or "no shipment"))
        return parcels, problems

    def change_carrier(self, number: str, old: str, new: str) -> BatchResult:
        return BatchResult([Accepted(number, new)])

    def stop(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return _accept_all(numbers)

    def retrack(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return _accept_all(numbers)

    def delete(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return _accept_all(numbers)

    def quota(self) -> Quota:
        raise PermanentError("DHL has no quota API: DropTrack counts its daily calls")

    def verify_push(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return False  # DHL Unified Tracking never pushes
