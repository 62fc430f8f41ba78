"""The order as DropTrack understands it, whatever store it came from.

Connector mappers turn a platform's JSON into a `StoreOrder`; the engine only sees these.
External ids are strings; money is Decimal; times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.status import Reason, Status


class Payment(StrEnum):
    """Where the customer's money stands, normalised across platforms."""

    PAID = "paid"  # captured or authorised: the order may be forwarded
    AWAITING = "awaiting"  # pending, on-hold for payment, partially paid
    FAILED = "failed"  # declined, voided, expired
    REFUNDED = "refunded"  # fully refunded


@dataclass(frozen=True)
class Address:
    name: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    province: str = ""
    postcode: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    phone: str = ""


@dataclass(frozen=True)
class OrderLine:
    external_id: str
    quantity: int
    sku: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    name: str = ""
    price: Decimal | None = None


@dataclass(frozen=True)
class StoreOrder:
    external_id: str
    number: str
    email: str
    payment: Payment
    updated_at: datetime
    lines: tuple[OrderLine, ...]
    shipping_address: Address = field(default_factory=Address)
    customer_name: str = ""
    cancelled: bool = False
    currency: str = ""
    total: Decimal | None = None
    placed_at: datetime | None = None
    # The platform's own word for the order's status as read ("" when the platform's reader
    # does not give it): remembered so a status set by hand is known without a read.
    store_status: str = ""

    def __post_init__(self) -> None:
        if self.updated_at.tzinfo is None:
            raise ValueError("StoreOrder.updated_at must be timezone-aware")
        if not self.external_id:
            raise ValueError("StoreOrder.external_id must not be empty")
        for line in self.lines:
            if line.quantity < 1:
                raise ValueError(f"line {line.external_id}: quantity must be at least 1")


@dataclass(frozen=True)
class CarrierEvent:
    """One scan of a parcel as a supplier or tracking service reports it, in DropTrack's terms.

    ``key`` deduplicates (the source's event id, or a digest of its fields); ``raw_status`` is
    the source's own word for it, kept for the owner."""

    key: str
    status: Status
    happened_at: datetime
    reason: Reason | None = None
    raw_status: str = ""
    message: str = ""
    location: str = ""
