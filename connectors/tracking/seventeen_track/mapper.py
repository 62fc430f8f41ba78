"""17TRACK v2.2 payloads <-> DropTrack: pure build_/parse_ functions, problems as data.

Shapes from FACTS §2, §4, §5 and §8. Nothing here raises on a bad payload: a parse returns
what it could read plus a list of problems.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.parsing import Problems, text, timestamp
from connectors.tracking import common
from connectors.tracking.base import (
    Accepted,
    BatchResult,
    NumberProblem,
    PushUpdate,
    Quota,
    TrackedParcel,
    TrackRequest,
)
from connectors.tracking.seventeen_track import NAME, units
from core.domain import CarrierEvent

MAX_NUMBERS = 40
UPDATED = "TRACKING_UPDATED"
STOPPED = "TRACKING_STOPPED"


# --- requests ---------------------------------------------------------------------------------


def _carrier_key(request: TrackRequest) -> int | None:
    if request.service_carrier:
        try:
            return int(request.service_carrier)
        except ValueError:
            return None
    return units.key_for_carrier(request.carrier)


def build_register(requests: Sequence[TrackRequest]) -> list[dict[str, Any]]:
    """The register body: a JSON array of at most 40 items (`carrier` omitted to auto-detect)."""
    _check_batch(requests)
    items: list[dict[str, Any]] = []
    for request in requests:
        item: dict[str, Any] = {"number": request.number}
        key = _carrier_key(request)
        if key is not None:
            item["carrier"] = key
        if request.tag:
            item["tag"] = request.tag
        items.append(item)
    return items


def build_numbers(requests: Sequence[TrackRequest]) -> list[dict[str, Any]]:
    """gettrackinfo / stoptrack / retrack / deletetrack: `[{number, carrier?}]`."""
    _check_batch(requests)
    items: list[dict[str, Any]] = []
    for request in requests:
        item: dict[str, Any] = {"number": request.number}
        key = _carrier_key(request)
        if key is not None:
            item["carrier"] = key
        items.append(item)
    return items


def build_change_carrier(number: str, old: str, new: str) -> list[dict[str, Any]]:
    return [{"number": number, "carrier_old": int(old), "carrier_new": int(new)}]


def _check_batch(requests: Sequence[TrackRequest]) -> None:
    if len(requests) > MAX_NUMBERS:
        raise ValueError(f"17TRACK takes at most {MAX_NUMBERS} numbers a call, "
                         f"got {len(requests)}")


# --- the envelope -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    code: int
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def error_code(self) -> int:
        """The request-level error: `code`, or `data.errors[0].code` (an invalid key comes
        back as code 0 with an errors list); 0 when there is none."""
        if self.code:
            return self.code
        for error in self.errors:
            code = _int(error.get("code"))
            if code:
                return code
        return 0

    @property
    def error_message(self) -> str:
        for error in self.errors:
            if error.get("message"):
                return text(error.get("message"))
        return ""


def parse_envelope(body: Any) -> tuple[Envelope | None, Problems]:
    problems = Problems()
    if not isinstance(body, dict):
        problems.append("response: expected a JSON object")
        return None, problems
    code = _int(body.get("code"))
    if code is None:
        problems.append("code: missing or not an integer")
        return None, problems
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    accepted = [item for item in _list(data.get("accepted")) if isinstance(item, dict)]
    rejected = [item for item in _list(data.get("rejected")) if isinstance(item, dict)]
    errors = [item for item in _list(data.get("errors")) if isinstance(item, dict)]
    return Envelope(code, accepted, rejected, errors, data), problems


def parse_rejected(item: dict[str, Any]) -> NumberProblem:
    error = _dict(item.get("error"))
    code = _int(error.get("code")) or 0
    return NumberProblem(number=text(item.get("number")), kind=units.problem_kind(code),
                         code=str(code), message=text(error.get("message")))


def parse_batch(envelope: Envelope) -> BatchResult:
    accepted = [Accepted(text(item.get("number")), _carrier_text(item.get("carrier")))
                for item in envelope.accepted if text(item.get("number"))]
    problems = [parse_rejected(item) for item in envelope.rejected]
    return BatchResult(accepted, problems)


def parse_quota(envelope: Envelope) -> tuple[Quota | None, Problems]:
    problems = Problems()
    data = envelope.data
    values = {name: _int(data.get(name)) for name in (
        "quota_total", "quota_used", "quota_remain", "today_used", "max_track_daily")}
    for name in ("quota_total", "quota_used", "quota_remain"):
        if values[name] is None:
            problems.append(f"data.{name}: missing or not an integer")
    if problems:
        return None, problems
    return Quota(total=values["quota_total"] or 0, used=values["quota_used"] or 0,
                 remaining=values["quota_remain"] or 0, today_used=values["today_used"] or 0,
                 daily_max=values["max_track_daily"]), problems


# --- track_info -------------------------------------------------------------------------------


def parse_track_item(item: dict[str, Any]) -> tuple[TrackedParcel | None, Problems]:
    """A gettrackinfo accepted item or a TRACKING_UPDATED push's `data`."""
    problems = Problems()
    number = text(item.get("number"))
    if not number:
        problems.append("number: missing")
        return None, problems
    info = _dict(item.get("track_info"))
    latest = _dict(info.get("latest_status"))
    status, sub_status = text(latest.get("status")), text(latest.get("sub_status"))
    latest_unit = units.unit(status, sub_status)
    if (status or sub_status) and latest_unit is None:
        problems.append(f"latest_status: unknown status {status!r} / {sub_status!r}")
    service_carrier = _carrier_text(item.get("carrier"))
    provider_name = ""
    events: dict[str, CarrierEvent] = {}
    providers = _list(_dict(info.get("tracking")).get("providers"))
    for provider in providers:
        provider = _dict(provider)
        details = _dict(provider.get("provider"))
        provider_name = provider_name or text(details.get("name"))
        for raw in _list(provider.get("events")):
            event = _event(number, _dict(raw), problems)
            if event is not None:
                events[event.key] = event
    latest_event = _dict(info.get("latest_event"))
    latest_at = _time(latest_event)
    if latest_unit is not None and latest_unit.status is not None and latest_at is not None:
        key = f"17track:{number}:latest:{sub_status or status}:{latest_at.isoformat()}"
        events[key] = CarrierEvent(key=key, status=latest_unit.status, happened_at=latest_at,
                                   reason=latest_unit.reason, raw_status=sub_status or status,
                                   message=text(latest_event.get("description")),
                                   location=text(latest_event.get("location")))
    misc = _dict(info.get("misc_info"))
    local_number = text(misc.get("local_number")) or None
    local_carrier = units.carrier_for_key(misc.get("local_key")) if local_number else None
    metrics = _dict(info.get("time_metrics"))
    eta = _dict(metrics.get("estimated_delivery_date"))
    estimated = timestamp(eta.get("to")) or timestamp(eta.get("from"))
    parcel = TrackedParcel(
        number=number, service_carrier=service_carrier,
        carrier=units.carrier_for_key(service_carrier) if service_carrier else None,
        carrier_name=provider_name,
        events=tuple(sorted(events.values(), key=lambda e: (e.happened_at, e.key))),
        last_mile_number=local_number if local_number != number else None,
        last_mile_carrier=local_carrier,
        last_mile_carrier_name=text(misc.get("local_provider")),
        estimated_delivery_at=estimated,
        expired=bool(latest_unit and latest_unit.expired),
        invalid_number=bool(latest_unit and latest_unit.invalid_number),
        raw_status=sub_status or status)
    return parcel, problems


def _event(number: str, raw: dict[str, Any], problems: Problems) -> CarrierEvent | None:
    happened_at = _time(raw)
    if happened_at is None:
        problems.append(f"{number}: an event without a readable time was skipped")
        return None
    sub_status, stage = text(raw.get("sub_status")), text(raw.get("stage"))
    found = units.unit(None, sub_status) if sub_status else units.STAGES.get(stage)
    if found is None or found.status is None:
        return None  # no status of ours (NotFound, Expired, unknown): kept out of the fold
    description, location = text(raw.get("description")), text(raw.get("location"))
    return common.event(NAME, number, happened_at, found.status, found.reason,
                        sub_status or stage, description, location,
                        (sub_status, stage, description, location))


def _time(raw: dict[str, Any]) -> Any:
    return timestamp(raw.get("time_utc")) or timestamp(raw.get("time_iso"))


# --- push -------------------------------------------------------------------------------------


def sign(body: bytes, key: str) -> str:
    """17TRACK's push signature: hex SHA-256 of the raw body text + "/" + the API key."""
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def verify_sign(body: bytes, header: str, keys: Sequence[str]) -> bool:
    """Constant-time check of the `sign` header against every key (old and new, in rotation)."""
    return common.signed_by_any(header.lower(), keys, lambda key: sign(body, key))


def parse_push(body: bytes) -> PushUpdate | None:
    """A verified push body; None when it is not a 17TRACK push at all."""
    payload = common.json_object(body)
    if payload is None:
        return None
    event = text(payload.get("event"))
    data = _dict(payload.get("data"))
    number = text(data.get("number"))
    if not number:
        return None
    if event == STOPPED:
        return PushUpdate(event, number, stopped=True)
    if event != UPDATED:
        return PushUpdate(event, number, problems=(f"event {event!r} not understood",))
    parcel, problems = parse_track_item(data)
    return PushUpdate(event, number, parcel=parcel, problems=tuple(problems))


def dedupe_key(body: bytes) -> str:
    """One key per distinct push body: a repeat of the same push is stored once."""
    return hashlib.sha256(body).hexdigest()


# --- small readers ----------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _carrier_text(value: Any) -> str | None:
    number = _int(value)
    return str(number) if number else None


_dict = common.as_dict
_list = common.as_list

