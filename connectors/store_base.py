"""What every store connector (Shopify, WooCommerce) offers the engine, in DropTrack's terms.

The engine hands a connector a `ShipmentSnapshot`: everything the store needs to show the
customer where one parcel is. The connector decides how its platform shows it (Shopify
fulfillments and fulfillment events; WooCommerce tracking items, notes and order status) and
must make the write idempotent: the same snapshot written twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.domain import StoreOrder
from core.status import Reason, Status


@dataclass(frozen=True)
class ShippedLine:
    external_id: str  # the store's line item id
    quantity: int


@dataclass(frozen=True)
class SiblingParcel:
    """Another parcel of the same supplier order: a supplier that splits an order without
    saying which parcel holds which line ships its lines in several parcels at once."""

    tracking_number: str
    status: Status
    reason: Reason | None


@dataclass(frozen=True)
class ShipmentSnapshot:
    shipment_id: int
    order_external_id: str
    order_number: str
    lines: Sequence[ShippedLine]
    carrier: str
    shopify_company: str | None  # the carrier's name exactly as Shopify lists it, if it does
    tracking_number: str
    tracking_url: str
    status: Status
    reason: Reason | None
    status_happened_at: datetime | None
    estimated_delivery_at: datetime | None
    customer_note: str | None  # what to tell the customer about this status, if anything
    # What DropTrack wrote last time (from bindings), so a connector updates, never duplicates.
    fulfillment_external_id: str | None = None
    written_status: Status | None = None
    written_tracking_number: str | None = None
    # True only when the store is known to show exactly the written status and number: the
    # last write-back of this parcel recorded them and no attempt since can have written
    # anything. A connector may then skip the reads that make a retried write harmless.
    store_state_known: bool = False
    # The parcel had this status before (e.g. out for delivery again after a failed attempt),
    # so what the store shows for it may predate the written status.
    status_reached_before: bool = True
    # The whole order's status (its least advanced parcel once every line has shipped; still
    # processing while some are to come), for a store status set with the parcel. None: the
    # parcel's own status stands for the order.
    order_status: Status | None = None
    order_reason: Reason | None = None
    siblings: Sequence[SiblingParcel] = ()


@dataclass(frozen=True)
class WriteResult:
    fulfillment_external_id: str | None = None


@dataclass(frozen=True)
class OrderPage:
    orders: Sequence[StoreOrder]
    problems: Sequence[str]  # orders that could not be read, one message each
    next_cursor: str | None


class StoreConnector(Protocol):
    def write_shipment(self, snapshot: ShipmentSnapshot) -> WriteResult: ...

    def orders_modified_since(self, since: datetime, cursor: str | None = None) -> OrderPage: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StoreAccess:
    """What a connector needs to reach one store, decrypted for the duration of a job."""

    store_id: int
    platform: str
    domain: str  # Shopify: name.myshopify.com; WooCommerce: the site URL
    credentials: dict[str, str]
    settings: dict[str, object]
    allow_loopback_http: bool
    # Persist credentials that changed (a refreshed Shopify token); encrypted by the caller.
    save_credentials: Callable[[dict[str, str]], None]
    # Persist store settings a connector learned (e.g. which tracking plugin a store has).
    save_settings: Callable[[dict[str, object]], None] | None = None
