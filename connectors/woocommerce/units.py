"""WooCommerce's order statuses in DropTrack's terms: which moves DropTrack may make.

DropTrack only moves an order forward along the shipping path; a status the merchant set by
hand (cancelled, refunded, on-hold, failed, or completed already) is never overwritten.
"""

from __future__ import annotations

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
