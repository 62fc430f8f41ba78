"""Pure functions of the fulfillment write-back: read what the store shows, build what to send.

No HTTP here (see client.py) and no decisions about when to write (see connector.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.parsing import timestamp
from connectors.shopify.graphql import legacy_id
from connectors.store_base import ShipmentSnapshot, ShippedLine
from core.status import rank

FULFILLABLE_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})


@dataclass(frozen=True)
class ShownEvent:
    status: str
    happened_at: datetime | None


@dataclass(frozen=True)
class ShownTracking:
    number: str
    url: str | None
    company: str | None


@dataclass(frozen=True)
class ShownFulfillment:
    """A fulfillment as the store shows it (what DropTrack compares before writing)."""

    id: str
    status: str
    tracking_numbers: tuple[str, ...]
    events: tuple[ShownEvent, ...] = ()
    tracking: tuple[ShownTracking, ...] = ()  # in full, when read from the store


def _nodes(connection: Any) -> list[dict[str, Any]]:
    nodes = connection.get("nodes") if isinstance(connection, dict) else None
    return [node for node in nodes or [] if isinstance(node, dict)]


def parse_fulfillment(data: Any) -> ShownFulfillment | None:
    if not isinstance(data, dict) or not data.get("id"):
        return None
    tracking = tuple(ShownTracking(str(info["number"]), info.get("url") or None,
                                   info.get("company") or None)
                     for info in data.get("trackingInfo") or []
                     if isinstance(info, dict) and info.get("number"))
    events = tuple(ShownEvent(str(event.get("status")),
                              timestamp(event.get("happenedAt"), naive_is_utc=False))
                   for event in _nodes(data.get("events")))
    return ShownFulfillment(str(data["id"]), str(data.get("status") or ""),
                            tuple(t.number for t in tracking), events, tracking)


def live_fulfillments(order: dict[str, Any]) -> list[ShownFulfillment]:
    found = [parse_fulfillment(item) for item in order.get("fulfillments") or []]
    return [f for f in found if f is not None and f.status not in ("CANCELLED", "ERROR",
                                                                     "FAILURE")]


def line_groups(order: dict[str, Any], lines: Sequence[ShippedLine]
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """`lineItemsByFulfillmentOrder` covering exactly the shipped lines and quantities, taken
    from open fulfillment orders; plus a message for each line that cannot be covered."""
    open_orders = [fo for fo in _nodes(order.get("fulfillmentOrders"))
                   if fo.get("status") in FULFILLABLE_STATUSES]
    if not lines:  # no line detail from the supplier: the whole remaining order shipped
        return [{"fulfillmentOrderId": fo["id"]} for fo in open_orders], []
    remaining = {str(item["id"]): int(item.get("remainingQuantity") or 0)
                 for fo in open_orders for item in _nodes(fo.get("lineItems"))}
    chosen: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    for line in lines:
        wanted = line.quantity
        for fo in open_orders:
            for item in _nodes(fo.get("lineItems")):
                line_item = item.get("lineItem") or {}
                if wanted == 0 or legacy_id(str(line_item.get("id", ""))) != line.external_id:
                    continue
                take = min(wanted, remaining[str(item["id"])])
                if take > 0:
                    remaining[str(item["id"])] -= take
                    group = chosen.setdefault(str(fo["id"]), {})
                    group[str(item["id"])] = group.get(str(item["id"]), 0) + take
                    wanted -= take
        if wanted:
            problems.append(f"line {line.external_id}: {wanted} of {line.quantity} not open "
                            "for fulfillment in Shopify")
    groups = [{"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": [
        {"id": item_id, "quantity": quantity} for item_id, quantity in items.items()]}
        for fo_id, items in chosen.items()]
    return groups, problems


def tracking_input(snapshot: ShipmentSnapshot,
                   keep: Sequence[ShownTracking] = ()) -> dict[str, Any]:
    """Company exactly as Shopify lists it when known (Shopify then builds its own link), and
    always our URL, so the customer gets a working link either way. `keep`: the other parcels
    a shared fulfillment already shows, listed first and kept (one company for all, or none
    when their carriers differ; links only when every parcel has one, so they stay aligned)."""
    company = snapshot.shopify_company or snapshot.carrier or None
    if not keep:
        info: dict[str, Any] = {"number": snapshot.tracking_number, "company": company,
                                "url": snapshot.tracking_url or None}
        return {key: value for key, value in info.items() if value}
    parcels = [*keep, ShownTracking(snapshot.tracking_number, snapshot.tracking_url or None,
                                    company)]
    shared: dict[str, Any] = {"numbers": [t.number for t in parcels]}
    if all(t.url for t in parcels):
        shared["urls"] = [t.url for t in parcels]
    if company and all(t.company == company for t in parcels):
        shared["company"] = company
    return shared


def least_advanced(snapshot: ShipmentSnapshot, shown: ShownFulfillment) -> bool:
    """Whether this parcel is (one of) the furthest behind of the parcels a fulfillment
    shows: a shared fulfillment's events follow that parcel, so the customer never reads
    "delivered" while a parcel of the order is still on its way."""
    mine = rank(snapshot.status, snapshot.reason)
    return all(mine <= rank(sibling.status, sibling.reason) for sibling in snapshot.siblings
               if sibling.tracking_number in shown.tracking_numbers)


def shared(snapshot: ShipmentSnapshot, shown: ShownFulfillment) -> bool:
    """The fulfillment shows another parcel of the same supplier order too."""
    return any(sibling.tracking_number in shown.tracking_numbers
               for sibling in snapshot.siblings)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def event_input(fulfillment_id: str, status: str, snapshot: ShipmentSnapshot) -> dict[str, Any]:
    event = {"fulfillmentId": fulfillment_id, "status": status,
             "happenedAt": _iso(snapshot.status_happened_at),
             "estimatedDeliveryAt": _iso(snapshot.estimated_delivery_at),
             "message": snapshot.customer_note}
    return {key: value for key, value in event.items() if value is not None}


def already_shown(shown: ShownFulfillment, status: str, happened_at: datetime | None) -> bool:
    """The store already has this event: same status at the same moment (to the second), or,
    without a moment, the same status as its latest event."""
    if happened_at is None:
        latest = shown.events[0] if shown.events else None  # fetched newest first
        return latest is not None and latest.status == status
    second = happened_at.replace(microsecond=0)
    return any(e.status == status and e.happened_at is not None
               and e.happened_at.replace(microsecond=0) == second for e in shown.events)
