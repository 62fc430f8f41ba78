"""17TRACK behind `connectors.tracking.base.TrackingService`: client + mapper together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connectors.request_limits import RequestLimiter
from connectors.tracking.base import (
    BatchResult,
    NumberProblem,
    ProblemKind,
    Quota,
    TrackedParcel,
    TrackRequest,
)
from connectors.tracking.common import HoldsClient
from connectors.tracking.seventeen_track import NAME, mapper
from connectors.tracking.seventeen_track.client import SeventeenTrackClient
from connectors.tracking.seventeen_track.settings import SeventeenTrackSettings
from core.errors import RetryableError

SIGN_HEADER = "sign"


class SeventeenTrack(HoldsClient):
    name = NAME
    max_batch = mapper.MAX_NUMBERS
    quota_api = True
    daily_calls: int | None = None

    def __init__(self, settings: SeventeenTrackSettings, limiter: RequestLimiter,
                 client: SeventeenTrackClient | None = None) -> None:
        self.settings = settings
        self.client = client or SeventeenTrackClient(settings, limiter)

    def _batch(self, endpoint: str, payload: list[dict[str, object]]) -> BatchResult:
        return mapper.parse_batch(self.client.call(endpoint, payload))

    def register(self, requests: Sequence[TrackRequest]) -> BatchResult:
        return self._batch("register", mapper.build_register(requests))

    def track(self, numbers: Sequence[TrackRequest]) -> tuple[list[TrackedParcel],
                                                              list[NumberProblem]]:
        envelope = self.client.call("gettrackinfo", mapper.build_numbers(numbers))
        parcels: list[TrackedParcel] = []
        problems = [mapper.parse_rejected(item) for item in envelope.rejected]
        for item in envelope.accepted:
            parcel, item_problems = mapper.parse_track_item(item)
            if parcel is not None:
                parcels.append(parcel)
            elif item_problems:
                problems.append(NumberProblem(str(item.get("number", "")), ProblemKind.OTHER,
                                              "unreadable", "; ".join(item_problems)))
        return parcels, problems

    def change_carrier(self, number: str, old: str, new: str) -> BatchResult:
        return self._batch("changecarrier", mapper.build_change_carrier(number, old, new))

    def stop(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return self._batch("stoptrack", mapper.build_numbers(numbers))

    def retrack(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return self._batch("retrack", mapper.build_numbers(numbers))

    def delete(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return self._batch("deletetrack", mapper.build_numbers(numbers))

    def quota(self) -> Quota:
        quota, problems = mapper.parse_quota(self.client.call("getquota", None))
        if quota is None:
            raise RetryableError("17TRACK getquota: " + "; ".join(problems))
        return quota

    def verify_push(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return mapper.verify_sign(body, headers.get(SIGN_HEADER, ""), [self.settings.api_key])
