"""DHL Unified Tracking payloads -> DropTrack: pure parse_ functions, problems as data.

Shapes from FACTS and the verbatim OpenAPI example (samples/). `events[]` come newest first;
the shipment's `status` is its latest event. UNCERTAIN: a timestamp without an offset (the
OpenAPI example has `2018-08-03T00:00:00Z`, carriers send local times) is read as UTC.
"""

from __future__ import annotations

from typing import Any

from connectors.parsing import Problems, text, timestamp
from connectors.tracking import common
from connectors.tracking.base import TrackedParcel
from connectors.tracking.dhl import NAME, units
from core.domain import CarrierEvent

PROBLEM_TYPES = ("application/problem+json", "application/json")


def parse_problem(body: Any, http_status: int) -> tuple[int, str]:
    """(status, "title: detail") of a problem+json body; the HTTP status when unreadable."""
    problem = common.as_dict(body)
    status = problem.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        status = http_status
    words = ": ".join(part for part in (text(problem.get("title")),
                                        text(problem.get("detail"))) if part)
    return status, words or f"HTTP {http_status}"


def parse_shipments(body: Any, number: str) -> tuple[list[TrackedParcel], Problems]:
    problems = Problems()
    parcels: list[TrackedParcel] = []
    for raw in common.as_list(common.as_dict(body).get("shipments")):
        parcel = parse_shipment(common.as_dict(raw), number, problems)
        if parcel is not None:
            parcels.append(parcel)
    return parcels, problems


def parse_shipment(item: dict[str, Any], number: str,
                   problems: Problems) -> TrackedParcel | None:
    shipment_id = text(item.get("id")) or number
    status = common.as_dict(item.get("status"))
    code = text(status.get("statusCode"))
    latest = units.unit(code)
    if code and latest is None:
        problems.append(f"{shipment_id}: unknown statusCode {code!r}")
    events: dict[str, CarrierEvent] = {}
    for raw in [*common.as_list(item.get("events")), status]:
        found = _event(number, common.as_dict(raw))
        if found is not None:
            events[found.key] = found
    details = common.as_dict(item.get("details"))
    carrier = common.as_dict(details.get("carrier"))
    frame = common.as_dict(item.get("estimatedDeliveryTimeFrame"))
    estimated = (timestamp(item.get("estimatedTimeOfDelivery"))
                 or timestamp(frame.get("estimatedThrough")))
    service = text(item.get("service")) or None
    return TrackedParcel(
        number=number, service_carrier=service,
        carrier="dhl_express" if service == "express" else None,
        carrier_name=text(carrier.get("organizationName")) or "DHL",
        events=tuple(sorted(events.values(), key=lambda e: (e.happened_at, e.key))),
        estimated_delivery_at=estimated, raw_status=code)


def _event(number: str, raw: dict[str, Any]) -> CarrierEvent | None:
    happened_at = timestamp(raw.get("timestamp"))
    code = text(raw.get("statusCode"))
    found = units.unit(code)
    if happened_at is None or found is None or found.status is None:
        return None
    location = text(common.as_dict(common.as_dict(raw.get("location")).get("address"))
                    .get("addressLocality"))
    message = text(raw.get("description")) or text(raw.get("status"))
    return common.event(NAME, number, happened_at, found.status, found.reason, code, message,
                        location, (code, text(raw.get("status")), message, location))
