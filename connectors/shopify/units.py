"""DropTrack's statuses in Shopify's terms: the FulfillmentEventStatus each one becomes."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from core.status import Reason, Status, validate_reason

FULFILLMENT_EVENT_STATUSES: frozenset[str] = frozenset(
    {
        "LABEL_PRINTED",
        "LABEL_PURCHASED",
        "CONFIRMED",
        "CARRIER_PICKED_UP",
        "IN_TRANSIT",
        "OUT_FOR_DELIVERY",
        "READY_FOR_PICKUP",
        "ATTEMPTED_DELIVERY",
        "DELAYED",
        "DELIVERED",
        "FAILURE",
    }
)
"""Valid values of Shopify's FulfillmentEventStatus enum."""

EVENT_STATUS_BY_STATUS: Mapping[Status, str] = MappingProxyType(
    {
        Status.INFO_RECEIVED: "CONFIRMED",
        Status.IN_TRANSIT: "IN_TRANSIT",
        Status.OUT_FOR_DELIVERY: "OUT_FOR_DELIVERY",
        Status.READY_FOR_PICKUP: "READY_FOR_PICKUP",
        Status.DELIVERED: "DELIVERED",
        Status.UNDELIVERED: "FAILURE",
        Status.EXCEPTION: "DELAYED",
    }
)
"""Statuses that create a fulfillment event; the others (pending, processing, cancelled,
refunded) have no fulfillment event."""

EVENT_STATUS_BY_REASON: Mapping[Reason, str] = MappingProxyType(
    {
        Reason.RECIPIENT_UNAVAILABLE: "ATTEMPTED_DELIVERY",
        Reason.INVALID_ADDRESS: "FAILURE",
        Reason.INCOMPLETE_ADDRESS: "FAILURE",
        Reason.REFUSED: "FAILURE",
        Reason.DELAYED: "DELAYED",
        Reason.CUSTOMS: "DELAYED",
        Reason.LOST: "FAILURE",
        Reason.RETURN_TO_SENDER: "FAILURE",
    }
)
"""Reason-specific overrides of EVENT_STATUS_BY_STATUS."""


def fulfillment_event_status(status: Status, reason: Reason | None = None) -> str | None:
    """The Shopify FulfillmentEventStatus for ``(status, reason)``, or None for no event."""
    validate_reason(status, reason)
    if status not in EVENT_STATUS_BY_STATUS:
        return None
    if reason is not None and reason in EVENT_STATUS_BY_REASON:
        return EVENT_STATUS_BY_REASON[reason]
    return EVENT_STATUS_BY_STATUS[status]
