"""What every supplier connector offers the engine, in DropTrack's own terms.

Every supplier kind (rest, csv, cj, aliexpress) implements `SupplierConnector`; the engine
(integration/engine/forwarding.py) only ever talks to this protocol:

1. `quote(request)` before forwarding: per line, the supplier's stock and unit price for the
   destination country, and the shipping methods to that country. `None` means the supplier
   cannot tell in advance (it refuses at create time instead: the reference REST supplier).
2. `create_order(request, idempotency_key)`: idempotent on `request.reference` (the store's
   order number, unique per store) *and* on the key: calling it again after a timeout, a
   crash or from a second worker returns the same supplier order. A supplier without an
   idempotency header (CJ, AliExpress) looks the reference up with `find_order` first and
   again after an ambiguous failure.
3. `find_order(reference)`: the supplier's id for the order it holds under that reference.
4. `get_order(external_id)`: status in DropTrack's words (`SupplierOrderView.status`) and
   its parcels (an order split by the supplier has several).
5. `cancel_order(external_id)`: False when it can no longer be cancelled (shipped).
6. `close()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from core.domain import Address, CarrierEvent
from core.errors import PermanentError


class SupplierAuthError(PermanentError):
    """The supplier refused DropTrack's credentials (an expired, revoked or never granted
    token): renewing them may help, else the owner reconnects the account."""


@dataclass(frozen=True)
class SupplierLine:
    supplier_sku: str
    quantity: int
    # The supplier's own product and variant ids from the mapping (CJ: the variant's `vid`;
    # AliExpress: `product_id` + `sku_attr`). Empty for suppliers that go by SKU alone.
    supplier_product_id: str = ""
    supplier_variant_id: str = ""
    max_unit_price: Decimal | None = None  # the owner's limit for this line; None = no limit


@dataclass(frozen=True)
class SupplierOrderRequest:
    store: str
    order_number: str
    recipient: Address
    email: str
    lines: Sequence[SupplierLine]
    # The order's reference at the supplier: unique per store and stable across retries.
    reference: str = ""
    shipping_method: str = ""  # chosen from quote().shipping; "" = the supplier's default


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
    # Created but not paid: the owner pays at the supplier (this link or instruction).
    awaiting_payment: str | None = None


@dataclass(frozen=True)
class LineOffer:
    """What the supplier offers for one line to the destination country."""

    supplier_sku: str
    available: int | None  # None = the supplier does not say
    unit_price: Decimal | None = None
    currency: str = "USD"
    found: bool = True  # False: the supplier knows no such product/variant


@dataclass(frozen=True)
class ShippingOption:
    name: str  # the supplier's exact method name (CJ `logisticName`)
    price: Decimal | None = None
    currency: str = "USD"
    days: str = ""  # e.g. "2-5"


@dataclass(frozen=True)
class Quote:
    lines: Sequence[LineOffer]
    shipping: Sequence[ShippingOption] = ()
    # False when the supplier chooses the method itself (then no shipping is not a problem).
    shipping_required: bool = True


@dataclass(frozen=True)
class ParcelItem:
    """What one parcel of a split order holds: the supplier's product (its id, or the
    supplier SKU the line was sent with) and how many."""

    supplier_ref: str
    quantity: int


@dataclass(frozen=True)
class Parcel:
    ref: str
    tracking_number: str
    carrier: str | None
    tracking_url: str | None
    events: Sequence[CarrierEvent] = ()
    estimated_delivery_at: datetime | None = None
    items: Sequence[ParcelItem] = ()  # empty: the supplier does not say (the whole order)


# SupplierOrderView.status values.
RECEIVED = "received"
AWAITING_PAYMENT = "awaiting_payment"
PROCESSING = "processing"
SHIPPED = "shipped"
CANCELLED = "cancelled"
ON_HOLD = "on_hold"


@dataclass(frozen=True)
class SupplierOrderView:
    external_id: str
    status: str  # received | awaiting_payment | processing | shipped | cancelled | on_hold
    parcels: Sequence[Parcel] = field(default_factory=tuple)
    note: str = ""  # the supplier's own words for its status (e.g. why it cancelled)
    # Whether every line of the order has left, as the supplier reports it per line
    # ("shipped" can mean one parcel of several); None when it reports nothing per line.
    all_lines_shipped: bool | None = None


class SupplierConnector(Protocol):
    def quote(self, request: SupplierOrderRequest) -> Quote | None: ...

    def create_order(self, request: SupplierOrderRequest,
                     idempotency_key: str) -> CreateResult: ...

    def find_order(self, reference: str) -> str | None: ...

    def get_order(self, external_id: str) -> SupplierOrderView: ...

    def cancel_order(self, external_id: str) -> bool: ...

    def close(self) -> None: ...
