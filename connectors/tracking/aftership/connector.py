"""AfterShip behind `connectors.tracking.base.TrackingService`: client + mapper together.

AfterShip takes one number per create (POST /trackings, 1 call) and lists many per read
(GET /trackings?tracking_numbers=..., 1 call for up to 50). It stops tracking delivered parcels
itself, so `stop` only marks the still-active ones completed. Its trackings are addressed by
AfterShip's own id, which DropTrack does not keep: it is read from the list when needed.
AfterShip has no quota API (`quota_api = False`): its plans count trackings per month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connectors.parsing import text
from connectors.request_limits import RequestLimiter
from connectors.tracking.aftership import NAME, mapper, units
from connectors.tracking.aftership.client import AfterShipClient
from connectors.tracking.aftership.settings import AfterShipSettings
from connectors.tracking.base import (
    Accepted,
    BatchResult,
    NumberProblem,
    ProblemKind,
    Quota,
    TrackedParcel,
    TrackRequest,
)
from connectors.tracking.common import HoldsClient, as_dict
from core.errors import PermanentError

SIGN_HEADER = mapper.SIGNATURE_HEADER


def _problem(number: str, envelope: mapper.Envelope) -> NumberProblem:
    return NumberProblem(number, units.problem_kind(envelope.code), str(envelope.code),
                         envelope.message)


class AfterShip(HoldsClient):
    name = NAME
    max_batch = 20  # creates per job batch (each is one call; listing takes 50)
    quota_api = False
    daily_calls: int | None = None

    def __init__(self, settings: AfterShipSettings, limiter: RequestLimiter,
                 client: AfterShipClient | None = None) -> None:
        self.settings = settings
        self.client = client or AfterShipClient(settings, limiter)

    def register(self, requests: Sequence[TrackRequest]) -> BatchResult:
        accepted: list[Accepted] = []
        problems: list[NumberProblem] = []
        for request in requests:
            envelope = self.client.call("POST", "trackings", json=mapper.build_create(request))
            if envelope.ok:
                slug = text(envelope.tracking.get("slug")) or None
                accepted.append(Accepted(request.number, slug))
            else:
                problems.append(_problem(request.number, envelope))
        return BatchResult(accepted, problems)

    def _listed(self, requests: Sequence[TrackRequest]) -> dict[str, dict[str, object]]:
        envelope = self.client.call("GET", "trackings", params=mapper.list_params(requests))
        return {text(item.get("tracking_number")): item for item in envelope.trackings}

    def track(self, numbers: Sequence[TrackRequest]) -> tuple[list[TrackedParcel],
                                                              list[NumberProblem]]:
        listed = self._listed(numbers)
        parcels: list[TrackedParcel] = []
        problems: list[NumberProblem] = []
        for request in numbers:
            item = listed.get(request.number)
            if item is None:
                problems.append(NumberProblem(request.number, ProblemKind.NOT_TRACKED,
                                              str(units.DOES_NOT_EXIST), "not tracked"))
                continue
            parcel, item_problems = mapper.parse_tracking(as_dict(item))
            if parcel is not None:
                parcels.append(parcel)
            else:
                problems.append(NumberProblem(request.number, ProblemKind.OTHER, "unreadable",
                                              "; ".join(item_problems)))
        return parcels, problems

    def _each(self, requests: Sequence[TrackRequest], method: str, action: str, *,
              only_active: bool = False) -> BatchResult:
        listed = self._listed(requests)
        accepted: list[Accepted] = []
        problems: list[NumberProblem] = []
        for request in requests:
            item = listed.get(request.number)
            if item is None:
                problems.append(NumberProblem(request.number, ProblemKind.NOT_TRACKED,
                                              str(units.DOES_NOT_EXIST), "not tracked"))
                continue
            if only_active and item.get("active") is False:
                accepted.append(Accepted(request.number))  # AfterShip stopped it already
                continue
            path = f"trackings/{item.get('id')}{action}"
            body = {"reason": "DELIVERED"} if action == "/mark-as-completed" else None
            envelope = self.client.call(method, path, json=body)
            if envelope.ok:
                accepted.append(Accepted(request.number))
            else:
                problems.append(_problem(request.number, envelope))
        return BatchResult(accepted, problems)

    def stop(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return self._each(numbers, "POST", "/mark-as-completed", only_active=True)

    def retrack(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return self._each(numbers, "POST", "/retrack")

    def delete(self, numbers: Sequence[TrackRequest]) -> BatchResult:
        return self._each(numbers, "DELETE", "")

    def change_carrier(self, number: str, old: str, new: str) -> BatchResult:
        """AfterShip cannot change a tracking's courier: delete it and create it again."""
        gone = self.delete([TrackRequest(number, service_carrier=old)])
        if gone.problems and gone.problems[0].kind is not ProblemKind.NOT_TRACKED:
            return gone
        return self.register([TrackRequest(number, service_carrier=new)])

    def quota(self) -> Quota:
        raise PermanentError("AfterShip has no quota API: its plan's tracking count is shown "
                             "in AfterShip's admin")

    def verify_push(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return mapper.verify_signature(body, headers.get(SIGN_HEADER, ""),
                                       [self.settings.webhook_secret])
