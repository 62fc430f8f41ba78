"""AfterShip payloads <-> DropTrack: pure build_/parse_ functions, problems as data.

Shapes from FACTS (Endpoints, Errors, Webhooks). Nothing here raises on a bad payload: a parse
returns what it could read plus a list of problems.

UNCERTAIN (no verbatim AfterShip JSON was reachable): the tracking object is read from the
fields FACTS names plus AfterShip's published field names (`checkpoints[]` with
`checkpoint_time`, `tag`, `subtag`, `message`, `location`; `last_mile.tracking_number` /
`slug`; `courier_estimated_delivery_date`, `aftership_estimated_delivery_date`,
`expected_delivery`). `data` is read as the tracking itself (2024-07 and later) or as
`data.tracking` (older versions). A checkpoint time without an offset is read as UTC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from connectors.parsing import Problems, text, timestamp
from connectors.tracking import common
from connectors.tracking.aftership import NAME, units
from connectors.tracking.base import PushUpdate, TrackedParcel, TrackRequest
from core.domain import CarrierEvent

TRACKING_UPDATE = "tracking_update"
MAX_LIST_NUMBERS = 50  # GET /trackings?tracking_numbers=a,b,...
SIGNATURE_HEADER = "aftership-hmac-sha256"


# --- requests ---------------------------------------------------------------------------------


def build_create(request: TrackRequest) -> dict[str, Any]:
    """POST /trackings: `tracking_number`, `slug` only when known (else AfterShip detects it),
    and DropTrack's label in `custom_fields` (echoed back in webhooks)."""
    body: dict[str, Any] = {"tracking_number": request.number}
    slug = request.service_carrier or units.slug_for_carrier(request.carrier)
    if slug:
        body["slug"] = slug
    if request.tag:
        body["custom_fields"] = {"droptrack": request.tag}
    return body


def list_params(requests: Sequence[TrackRequest]) -> dict[str, str]:
    if len(requests) > MAX_LIST_NUMBERS:
        raise ValueError(f"AfterShip lists at most {MAX_LIST_NUMBERS} numbers a call")
    return {"tracking_numbers": ",".join(request.number for request in requests),
            "limit": str(MAX_LIST_NUMBERS)}


# --- the envelope -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    code: int
    message: str = ""
    type: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def tracking(self) -> dict[str, Any]:
        """The tracking object: `data` itself, or `data.tracking` in older versions."""
        inner = common.as_dict(self.data.get("tracking"))
        return inner or self.data

    @property
    def trackings(self) -> list[dict[str, Any]]:
        return [item for item in common.as_list(self.data.get("trackings"))
                if isinstance(item, dict)]


def parse_envelope(body: Any) -> tuple[Envelope | None, Problems]:
    problems = Problems()
    if not isinstance(body, dict):
        problems.append("the answer is not a JSON object")
        return None, problems
    meta = common.as_dict(body.get("meta"))
    code = meta.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        problems.append("meta.code: missing")
        return None, problems
    return Envelope(code, text(meta.get("message")), text(meta.get("type")),
                    common.as_dict(body.get("data"))), problems


# --- trackings --------------------------------------------------------------------------------


def parse_tracking(item: dict[str, Any]) -> tuple[TrackedParcel | None, Problems]:
    problems = Problems()
    number = text(item.get("tracking_number"))
    if not number:
        problems.append("tracking_number: missing")
        return None, problems
    tag, subtag = text(item.get("tag")), text(item.get("subtag"))
    latest = units.unit(tag, subtag)
    if (tag or subtag) and latest is None:
        problems.append(f"tag: unknown tag {tag!r} / subtag {subtag!r}")
    slug = text(item.get("slug")) or None
    events: dict[str, CarrierEvent] = {}
    for raw in common.as_list(item.get("checkpoints")):
        found = _checkpoint(number, common.as_dict(raw), problems)
        if found is not None:
            events[found.key] = found
    if latest is not None and latest.status is not None and not any(
            e.status == latest.status for e in events.values()):
        at = timestamp(item.get("updated_at"))
        if at is not None:  # the tag moved on before any checkpoint said so
            found = common.event(NAME, number, at, latest.status, latest.reason,
                                 subtag or tag, text(item.get("subtag_message")), "",
                                 ("latest", subtag or tag))
            events[found.key] = found
    last_mile = common.as_dict(item.get("last_mile"))
    local_number = text(last_mile.get("tracking_number")) or None
    local_slug = text(last_mile.get("slug")) or None
    parcel = TrackedParcel(
        number=number, service_carrier=slug, carrier=units.carrier_for_slug(slug),
        carrier_name=slug or "",
        events=tuple(sorted(events.values(), key=lambda e: (e.happened_at, e.key))),
        last_mile_number=local_number if local_number != number else None,
        last_mile_carrier=units.carrier_for_slug(local_slug) if local_number else None,
        last_mile_carrier_name=(local_slug or "") if local_number else "",
        estimated_delivery_at=_estimated(item),
        expired=bool(latest and latest.expired),
        invalid_number=False, stopped=item.get("active") is False,
        raw_status=subtag or tag)
    return parcel, problems


def _checkpoint(number: str, raw: dict[str, Any], problems: Problems) -> CarrierEvent | None:
    happened_at = timestamp(raw.get("checkpoint_time"))
    if happened_at is None:
        problems.append(f"{number}: a checkpoint without a readable time was skipped")
        return None
    tag, subtag = text(raw.get("tag")), text(raw.get("subtag"))
    found = units.unit(tag, subtag)
    if found is None or found.status is None:
        return None  # Pending, Expired or unknown: no status of ours
    message, location = text(raw.get("message")), text(raw.get("location"))
    return common.event(NAME, number, happened_at, found.status, found.reason, subtag or tag,
                        message, location, (tag, subtag, message, location))


def _estimated(item: dict[str, Any]) -> datetime | None:
    for name in ("courier_estimated_delivery_date", "aftership_estimated_delivery_date"):
        found = common.as_dict(item.get(name))
        moment = (timestamp(found.get("estimated_delivery_date"))
                  or timestamp(found.get("estimated_delivery_date_max")))
        if moment is not None:
            return moment
    return timestamp(item.get("expected_delivery"))


# --- webhooks ---------------------------------------------------------------------------------


def signature(body: bytes, secret: str) -> str:
    """AfterShip's webhook signature: base64(HMAC-SHA256(secret, raw body)); the secret is the
    plain string AfterShip's admin shows (not base64-decoded)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify_signature(body: bytes, header: str, secrets: Sequence[str]) -> bool:
    """Constant-time check of `aftership-hmac-sha256` against every secret (old and new)."""
    return common.signed_by_any(header, secrets, lambda secret: signature(body, secret))


def parse_push(body: bytes) -> PushUpdate | None:
    """A verified webhook body; None when it is not an AfterShip tracking webhook at all."""
    payload = common.json_object(body)
    if payload is None:
        return None
    event = text(payload.get("event"))
    msg = common.as_dict(payload.get("msg"))
    number = text(msg.get("tracking_number"))
    if not number:
        return None
    if event != TRACKING_UPDATE:  # edd_revise, tracking_pending_time: nothing to fold
        return PushUpdate(event, number, problems=(f"event {event!r} not folded",))
    parcel, problems = parse_tracking(msg)
    return PushUpdate(event, number, parcel=parcel, problems=tuple(problems))


def dedupe_key(body: bytes) -> str:
    """AfterShip's `event_id` (one per webhook, kept across its retries); the body's digest
    when it has none."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    event_id = text(payload.get("event_id")) if isinstance(payload, dict) else ""
    return f"event:{event_id}"[:200] if event_id else hashlib.sha256(body).hexdigest()
