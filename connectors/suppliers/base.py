"""What every supplier connector offers the engine, in DropTrack's own terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.domain import Address, CarrierEvent


@dataclass(frozen=True)
class SupplierLine:
    supplier_sku: str
    quantity: int


@dataclass(frozen=True)
class SupplierOrderRequest:
    store: str
    order_number: str
    recipient: Address
    email: str
    lines: Sequence[SupplierLine]


@dataclass(frozen=True)
class Rejection:
    """The supplier refused the order for a reason the owner can act on."""

    kind: str  # "out_of_stock" | "invalid_address" | "incomplete_address"
    message: str
    details: Sequence[str] = ()


@dataclass(frozen=True)
class CreateResult:
    external_id: str | None = None
    replayed: bool = False
    rejection: Rejection | None = None


@dataclass(frozen=True)
class Parcel:
    ref: str
    tracking_number: str
    carrier: str | None
    tracking_url: str | None
    events: Sequence[CarrierEvent] = ()
    estimated_delivery_at: datetime | None = None


@dataclass(frozen=True)
class SupplierOrderView:
    external_id: str
    status: str  # received | processing | shipped | cancelled | on_hold
    parcels: Sequence[Parcel] = field(default_factory=tuple)
    # Whether every line of the order has left, as the supplier reports it per line
    # ("shipped" can mean one parcel of several); None when it reports nothing per line.
    all_lines_shipped: bool | None = None


class SupplierConnector(Protocol):
    def create_order(self, request: SupplierOrderRequest,
                     idempotency_key: str) -> CreateResult: ...

    def get_order(self, external_id: str) -> SupplierOrderView: ...

    def cancel_order(self, external_id: str) -> bool: ...

    def close(self) -> None: ...
