"""DropTrack's tables (SQLAlchemy 2). External ids are strings and live in binding rows."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from core.clock import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements on the hot paths (plain rows, no mapper)."""
    table: Table = model.__table__  # type: ignore[assignment]
    return table


class Store(Base):
    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("platform", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(20), default="active")
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Supplier(Base):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class SkuMapping(Base):
    __tablename__ = "sku_mappings"
    __table_args__ = (UniqueConstraint("store_id", "sku", "destination_country"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255))
    product_external_id: Mapped[str | None] = mapped_column(String(64))
    variant_external_id: Mapped[str | None] = mapped_column(String(64))
    destination_country: Mapped[str] = mapped_column(String(2), default="")
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"))
    backup_supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    supplier_sku: Mapped[str | None] = mapped_column(String(255))
    # The supplier's own product and variant ids (CJ `vid`; AliExpress `product_id` +
    # `sku_attr`), beside the store's SKU/variant above.
    supplier_product_id: Mapped[str | None] = mapped_column(String(64))
    supplier_variant_id: Mapped[str | None] = mapped_column(String(255))
    # The owner's limit for the supplier's unit price (the supplier's currency); None = none.
    max_unit_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    created_at: Mapped[datetime]


class Binding(Base):
    """External id <-> internal record, unique per owner (store or supplier) + kind + id."""

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", "kind", "external_id"),
        Index("ix_bindings_internal", "kind", "internal_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(255))
    internal_id: Mapped[int] = mapped_column(Integer)
    external_updated_at: Mapped[datetime | None]
    synced_at: Mapped[datetime]


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_store_number", "store_id", "number"),
        Index("ix_orders_email", "email"),
        Index("ix_orders_status", "status", "reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320), default="")
    customer_name: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(30), default="pending")
    reason: Mapped[str | None] = mapped_column(String(40))
    status_epoch: Mapped[int] = mapped_column(Integer, default=0)
    payment_status: Mapped[str] = mapped_column(String(30), default="")
    currency: Mapped[str] = mapped_column(String(3), default="")
    total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    ship_name: Mapped[str] = mapped_column(String(255), default="")
    ship_company: Mapped[str] = mapped_column(String(255), default="")
    ship_address1: Mapped[str] = mapped_column(String(255), default="")
    ship_address2: Mapped[str] = mapped_column(String(255), default="")
    ship_city: Mapped[str] = mapped_column(String(255), default="")
    ship_province: Mapped[str] = mapped_column(String(255), default="")
    ship_zip: Mapped[str] = mapped_column(String(32), default="")
    ship_country: Mapped[str] = mapped_column(String(2), default="")
    ship_phone: Mapped[str] = mapped_column(String(64), default="")
    placed_at: Mapped[datetime | None]
    store_updated_at: Mapped[datetime | None]
    # The status the store showed when DropTrack last saw the order (a webhook, a
    # reconciliation read, the answer to its own write) and the store's modification time of
    # that sight: the WooCommerce status flush reads only what may have changed since.
    store_status: Mapped[str | None] = mapped_column(String(40))
    store_status_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str | None] = mapped_column(String(255))
    product_external_id: Mapped[str | None] = mapped_column(String(64))
    variant_external_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(512), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))

    order: Mapped[Order] = relationship(back_populates="lines")


class SupplierOrder(Base):
    __tablename__ = "supplier_orders"
    __table_args__ = (
        Index("ix_supplier_orders_awaiting", "status", "forwarded_at"),
        # Spreadsheet batches (status + supplier): SQLite otherwise walks the supplier's whole
        # history through ix_supplier_orders_supplier_id (bench/idle_cost.py).
        Index("ix_supplier_orders_status_supplier", "status", "supplier_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    # The store's line items this supplier order covers: [{"line_id": "...", "quantity": n}].
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(30), default="queued")
    reason: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    forwarded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        Index("ix_shipments_due", "next_check_at"),
        Index("ix_shipments_tracking_number", "tracking_number"),
        Index("ix_shipments_live", "status", "last_event_at"),
        Index("ix_shipments_supplier_order", "supplier_order_id"),
        # The latest deliveries (eta.delivery_window on every write-back, the overview's 90
        # days): without it both scan every delivered parcel (bench/idle_cost.py).
        Index("ix_shipments_delivered_at", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    supplier_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("supplier_orders.id", ondelete="SET NULL")
    )
    carrier: Mapped[str] = mapped_column(String(100), default="")
    tracking_number: Mapped[str] = mapped_column(String(100), default="")
    tracking_url: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(30), default="info_received")
    reason: Mapped[str | None] = mapped_column(String(40))
    status_epoch: Mapped[int] = mapped_column(Integer, default=0)
    status_happened_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    estimated_delivery_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    # What the store shows now (written by the last successful write-back).
    written_status: Mapped[str | None] = mapped_column(String(30))
    written_tracking_number: Mapped[str | None] = mapped_column(String(100))
    # The supplier order's lines in this parcel when the supplier split the order; None =
    # every line of the supplier order.
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TrackingEvent(Base):
    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("shipment_id", "event_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(40))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    raw_status: Mapped[str] = mapped_column(String(255), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(255), default="")
    happened_at: Mapped[datetime]
    created_at: Mapped[datetime]


class TrackedNumber(Base):
    """A parcel's number as a tracking service (17TRACK, ...) watches it.

    state: waiting (to register; also while quota is exhausted), registered, rejected (the
    service refused it: `problem` says why, the owner may correct the carrier), stopped."""

    __tablename__ = "tracked_numbers"
    __table_args__ = (
        UniqueConstraint("service", "shipment_id"),
        Index("ix_tracked_numbers_number", "service", "number"),
        Index("ix_tracked_numbers_due", "state", "next_poll_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(20))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    supplier_order_id: Mapped[int] = mapped_column(Integer)
    parcel_ref: Mapped[str] = mapped_column(String(255))
    number: Mapped[str] = mapped_column(String(100))
    carrier: Mapped[str | None] = mapped_column(String(40))  # DropTrack carrier id
    service_carrier: Mapped[str | None] = mapped_column(String(20))  # the service's code
    state: Mapped[str] = mapped_column(String(20), default="waiting")
    problem_code: Mapped[str | None] = mapped_column(String(40))
    problem: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime | None]
    last_update_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TrackingQuota(Base):
    """The last quota a tracking service reported, and whether it ran out."""

    __tablename__ = "tracking_quotas"

    service: Mapped[str] = mapped_column(String(20), primary_key=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[int] = mapped_column(Integer, default=0)
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime]


class InboxDelivery(Base):
    """A received, verified webhook delivery, stored before it is acknowledged."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("source", "dedupe_key"),
        Index("ix_inbox_state_received", "state", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(100))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class OutboxJob(Base):
    """Intent to do something outside the transaction: run by the dispatcher or workers."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_run_at"),
        # Only jobs with a serial key (most have none, e.g. every webhook's processing job).
        Index("ix_outbox_serial", "serial_key", "state",
              sqlite_where=text("serial_key IS NOT NULL"),
              postgresql_where=text("serial_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    # Jobs sharing a serial key never run at the same time (e.g. writes to one fulfillment).
    serial_key: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    next_run_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # The remote (e.g. "supplier:3") the job last failed to reach: it waits while that
    # remote's circuit is open (integration/limits/circuits.py).
    remote: Mapped[str | None] = mapped_column(String(100))


class Circuit(Base):
    """A remote that keeps failing, shared by every worker: while open, its jobs wait instead
    of spending their attempts."""

    __tablename__ = "circuits"

    remote: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    opened_times: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None]
    open_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_order", "order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class SentNotification(Base):
    __tablename__ = "sent_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    sent_at: Mapped[datetime]


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Heartbeat(Base):
    """Liveness of background loops (dispatcher, scheduler), readable from any process."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seen: Mapped[datetime]


# Account tables live in their own module; importing it here registers them on Base.metadata
# for everything that loads the models (migrations, autogenerate, tests).
import integration.storage.accounts  # noqa: E402, F401
