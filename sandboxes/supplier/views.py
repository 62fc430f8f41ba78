"""JSON representations of orders, parcels, carrier events and tracking results at a moment."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandboxes.supplier.carriers import Carrier
from sandboxes.supplier.timelines import ParcelPlan, PlannedEvent, TrackingLeg

if TYPE_CHECKING:
    from sandboxes.supplier.state import SupplierOrder, TrackedNumber

__all__ = ["event_json", "iso", "order_json", "parcel_json", "tracking_json",
           "unknown_tracking_json"]


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _carrier_json(carrier: Carrier) -> dict[str, str]:
    return {"code": carrier.code.value, "name": carrier.name}


def _leg_json(leg: TrackingLeg) -> dict[str, Any]:
    return {"carrier": _carrier_json(leg.carrier), "tracking_number": leg.tracking_number,
            "tracking_url": leg.carrier.tracking_url(leg.tracking_number),
            "assigned_at": iso(leg.assigned_at)}


def event_json(event: PlannedEvent) -> dict[str, Any]:
    new_tracking = None
    if event.new_carrier is not None and event.new_tracking_number is not None:
        new_tracking = {"carrier": _carrier_json(event.new_carrier),
                        "tracking_number": event.new_tracking_number,
                        "tracking_url": event.new_carrier.tracking_url(event.new_tracking_number)}
    return {
        "id": event.id,
        "tracking_number": event.tracking_number,
        "carrier": event.carrier.code.value,
        "raw_status": event.raw_status,
        "description": event.description,
        "location": event.location,
        "happened_at": iso(event.happened_at),
        "suggested_status": event.suggested_status.value,
        "suggested_reason": event.suggested_reason.value if event.suggested_reason else None,
        "new_tracking": new_tracking,
    }


def parcel_json(order: SupplierOrder, parcel: ParcelPlan, now: datetime) -> dict[str, Any]:
    legs = [leg for leg in parcel.legs if leg.assigned_at <= now]
    current = legs[-1]
    events = [e for e in parcel.events if e.happened_at <= now]
    return {
        "id": parcel.id,
        "shipped_at": iso(parcel.shipped_at),
        "lines": [{"supplier_sku": order.request.lines[i].supplier_sku,
                   "quantity": order.request.lines[i].quantity} for i in parcel.line_indexes],
        "carrier": _carrier_json(current.carrier),
        "tracking_number": current.tracking_number,
        "tracking_url": current.carrier.tracking_url(current.tracking_number),
        "tracking_history": [_leg_json(leg) for leg in legs],
        "latest_event": event_json(events[-1]) if events else None,
        "events": [event_json(e) for e in events],
    }


def order_json(order: SupplierOrder, now: datetime, public_url: str) -> dict[str, Any]:
    request = order.request
    status = order.status_at(now)
    parcels = order.parcels_at(now)
    history: list[dict[str, Any]] = [{"status": "received", "happened_at": iso(order.created_at)}]
    if order.plan.processing_at <= now and (order.cancelled_at is None
                                            or order.plan.processing_at < order.cancelled_at):
        history.append({"status": "processing", "happened_at": iso(order.plan.processing_at)})
    for parcel in parcels:
        history.append({"status": "shipped", "happened_at": iso(parcel.shipped_at),
                        "parcel_id": parcel.id})
    if order.held_at is not None:
        history.append({"status": "on_hold", "happened_at": iso(order.held_at),
                        "reason": order.hold_reason})
    if order.cancelled_at is not None and order.cancelled_at <= now:
        history.append({"status": "cancelled", "happened_at": iso(order.cancelled_at)})
    history.sort(key=lambda entry: str(entry["happened_at"]))
    shipped_lines = {i for p in parcels for i in p.line_indexes}
    return {
        "id": order.id,
        "url": f"{public_url}/v1/orders/{order.id}",
        "status": status.value,
        "status_reason": order.hold_reason if status.value == "on_hold" else None,
        "external_reference": {"store": request.store, "order_number": request.order_number},
        "recipient": dict(request.recipient),
        "lines": [{"supplier_sku": line.supplier_sku, "quantity": line.quantity,
                   "shipped": index in shipped_lines}
                  for index, line in enumerate(request.lines)],
        "shipping_method": request.shipping_method,
        "created_at": iso(order.created_at),
        "parcels": [parcel_json(order, parcel, now) for parcel in parcels],
        "events": history,
    }


def tracking_json(tracked: TrackedNumber) -> dict[str, Any]:
    leg = tracked.leg
    events = [event_json(e) for e in tracked.events]
    return {
        "tracking_number": leg.tracking_number,
        "found": True,
        "carrier": _carrier_json(leg.carrier),
        "tracking_url": leg.carrier.tracking_url(leg.tracking_number),
        "order_id": tracked.order.id,
        "parcel_id": tracked.parcel.id,
        "latest_event": events[-1] if events else None,
        "events": events,
        "replaced_by": _leg_json(tracked.replaced_by) if tracked.replaced_by else None,
        "replaces": _leg_json(tracked.replaces) if tracked.replaces else None,
    }


def unknown_tracking_json(tracking_number: str) -> dict[str, Any]:
    return {
        "tracking_number": tracking_number,
        "found": False,
        "error": {"code": "tracking_number_not_found",
                  "message": "no parcel with this tracking number for your account"},
    }
