"""DropTrack's statuses in WooCommerce's terms: which order status each one asks for, and which
moves DropTrack may make. Every WooCommerce status rule lives here.

DropTrack only moves an order forward along the shipping path; a status the merchant set by
hand (cancelled, refunded, on-hold, failed, or completed already) is never overwritten.
"""

from __future__ import annotations

from typing import Literal

from core.status import Reason, Status, validate_reason

CompleteOn = Literal["shipped", "delivered"]

ORDER_STATUSES: frozenset[str] = frozenset(
    {"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"}
)
"""Core WooCommerce order statuses (without the ``wc-`` prefix)."""

_SHIPPED_NOT_DELIVERED = frozenset(
    {
        Status.INFO_RECEIVED,
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.READY_FOR_PICKUP,
        Status.UNDELIVERED,
        Status.EXCEPTION,
    }
)


def order_status(
    status: Status, reason: Reason | None = None, *, complete_on: CompleteOn = "shipped"
) -> str | None:
    """The WooCommerce order status to set for ``(status, reason)``, or None to leave it as is.

    ``complete_on`` is the store's choice of when an order becomes "completed": as soon as it
    ships, or only once delivered (then shipped-but-not-delivered orders, including undelivered
    and exception, stay "processing").
    """
    validate_reason(status, reason)
    if complete_on not in ("shipped", "delivered"):
        raise ValueError(f"complete_on must be 'shipped' or 'delivered', got {complete_on!r}")
    if status is Status.PENDING:
        on_hold = reason in (Reason.OUT_OF_STOCK, Reason.ADDRESS_NEEDS_CONFIRMATION)
        return "on-hold" if on_hold else None
    if status is Status.PROCESSING:
        return "processing"
    if status in _SHIPPED_NOT_DELIVERED:
        return "completed" if complete_on == "shipped" else "processing"
    if status is Status.DELIVERED:
        return "completed"
    if status is Status.CANCELLED:
        return "cancelled"
    return "refunded"


# Advanced Shipment Tracking's status for an order shipped in several parcels, not all out yet.
PARTIAL_SHIPPED = "partial-shipped"
COMPLETED = "completed"
PROCESSING = "processing"

# current status -> the statuses DropTrack may move it to
FORWARD_MOVES: dict[str, frozenset[str]] = {
    PROCESSING: frozenset({PARTIAL_SHIPPED, COMPLETED}),
    PARTIAL_SHIPPED: frozenset({COMPLETED}),
}


def may_move(current: str, target: str | None) -> bool:
    """True when DropTrack should change the store's order status from `current` to `target`."""
    return target is not None and target in FORWARD_MOVES.get(current, frozenset())

MOVABLE_TARGETS = frozenset(t for targets in FORWARD_MOVES.values() for t in targets)
"""Every status DropTrack may ever set: only orders that may move to one of them are read."""


def flush_target(status: Status, reason: Reason | None, *, complete_on: CompleteOn,
                 partial_shipped: bool) -> str | None:
    """The status a batched flush asks for an order some of whose parcels the store shows.

    An order still pending or processing has parcels that are not out yet: the store's
    "partially shipped" status only where the store has it switched on, otherwise leave it as
    is."""
    if status in (Status.PENDING, Status.PROCESSING):
        return PARTIAL_SHIPPED if partial_shipped else None
    return order_status(status, reason, complete_on=complete_on)
