"""Pure build_/parse_ functions for the reference supplier protocol."""

from __future__ import annotations

from typing import Any

from connectors.carriers.units import normalize
from connectors.parsing import text, timestamp
from connectors.suppliers.base import Parcel, Rejection, SupplierOrderRequest, SupplierOrderView
from connectors.suppliers.rest import units
from core.domain import CarrierEvent
from core.status import Reason, Status


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def build_order(request: SupplierOrderRequest) -> dict[str, Any]:
    recipient = request.recipient
    return {
        "external_reference": {"store": request.store, "order_number": request.order_number},
        "recipient": {
            "name": recipient.name, "company": recipient.company or None,
            "address1": recipient.address1, "address2": recipient.address2 or None,
            "city": recipient.city, "province": recipient.province or None,
            "postcode": recipient.postcode or None, "country": recipient.country,
            "phone": recipient.phone or None, "email": request.email or None,
        },
        "lines": [{"supplier_sku": line.supplier_sku, "quantity": line.quantity}
                  for line in request.lines],
    }


def parse_rejection(status: int, body: Any) -> Rejection | None:
    """An actionable 422 (stock, address); None for errors that are the client's bug."""
    error = _object(body).get("error")
    if status != 422 or not isinstance(error, dict):
        return None
    code, message = text(error.get("code")), text(error.get("message"))
    details = _object(error.get("details"))
    if code == units.OUT_OF_STOCK:
        lines = [f"{text(line.get('supplier_sku'))}: {line.get('available', 0)} available, "
                 f"{line.get('requested')} requested"
                 for line in details.get("lines", []) if isinstance(line, dict)]
        return Rejection(units.OUT_OF_STOCK, message, lines)
    if code == units.INVALID_ADDRESS:
        fields = [f for f in details.get("fields", []) if isinstance(f, dict)]
        problems = [f"{text(f.get('field'))}: {text(f.get('message'))}" for f in fields]
        kind = units.address_rejection([text(f.get("code")) for f in fields])
        return Rejection(kind, message, problems)
    return None


def parse_event(data: dict[str, Any]) -> CarrierEvent | None:
    """A carrier event: our own reading of the raw status first, the supplier's as fallback."""
    happened_at = timestamp(data.get("happened_at"))
    event_id = text(data.get("id"))
    if happened_at is None or not event_id:
        return None
    raw, description = text(data.get("raw_status")), text(data.get("description"))
    meaning = normalize(raw, description)
    status: Status | None = meaning.status if meaning else None
    reason: Reason | None = meaning.reason if meaning else None
    if status is None:
        suggested = units.suggested_status(text(data.get("suggested_status")),
                                           text(data.get("suggested_reason")))
        if suggested is None:
            return None  # unknown: never a guess
        status, reason = suggested
    return CarrierEvent(key=event_id, status=status, reason=reason, happened_at=happened_at,
                        raw_status=raw, message=description, location=text(data.get("location")))


def parse_parcel(data: dict[str, Any]) -> Parcel | None:
    ref, number = text(data.get("id")), text(data.get("tracking_number"))
    if not ref or not number:
        return None
    carrier = _object(data.get("carrier"))
    events = [event for raw in data.get("events") or [] if isinstance(raw, dict)
              if (event := parse_event(raw)) is not None]
    return Parcel(ref=ref, tracking_number=number, carrier=text(carrier.get("name")) or None,
                  tracking_url=text(data.get("tracking_url")) or None, events=tuple(events))


def parse_order(data: dict[str, Any]) -> SupplierOrderView:
    parcels = [parcel for raw in data.get("parcels") or [] if isinstance(raw, dict)
               if (parcel := parse_parcel(raw)) is not None]
    return SupplierOrderView(external_id=text(data.get("id")), status=text(data.get("status")),
                             parcels=tuple(parcels), all_lines_shipped=lines_shipped(data))


def lines_shipped(data: dict[str, Any]) -> bool | None:
    """`lines[].shipped`: True when every line has left, False when one is still to come,
    None when the order lists no line with a boolean `shipped` (nothing known)."""
    flags = [line.get("shipped") for line in data.get("lines") or [] if isinstance(line, dict)]
    if not flags or not all(isinstance(flag, bool) for flag in flags):
        return None
    return all(flags)
