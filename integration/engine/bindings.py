"""External id <-> internal row, per owner (a store or a supplier) and kind."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from integration.storage.insert_once import insert_once
from integration.storage.models import Binding

STORE = "store"
SUPPLIER = "supplier"
# kinds
ORDER = "order"  # a store's order (its legacy id) -> orders.id
FULFILLMENT = "fulfillment"  # the store's fulfillment DropTrack wrote -> shipments.id
UNIQUE = ("owner_type", "owner_id", "kind", "external_id")  # the bindings' unique constraint


# Built once (its cache key is kept): every webhook of an order looks its binding up.
_FIND = select(Binding).where(
    Binding.owner_type == bindparam("owner_type"), Binding.owner_id == bindparam("owner_id"),
    Binding.kind == bindparam("kind"), Binding.external_id == bindparam("external_id"))


def find(session: Session, owner_type: str, owner_id: int, kind: str,
         external_id: str) -> Binding | None:
    binding: Binding | None = session.scalar(_FIND, {
        "owner_type": owner_type, "owner_id": owner_id, "kind": kind,
        "external_id": external_id})
    return binding


def bind(session: Session, owner_type: str, owner_id: int, kind: str, external_id: str,
         internal_id: int, now: datetime, external_updated_at: datetime | None = None) -> Binding:
    binding = Binding(owner_type=owner_type, owner_id=owner_id, kind=kind,
                      external_id=external_id, internal_id=internal_id,
                      external_updated_at=external_updated_at, synced_at=now)
    session.add(binding)
    session.flush()
    return binding


def bind_once(session: Session, owner_type: str, owner_id: int, kind: str, external_id: str,
              internal_id: int, now: datetime) -> bool:
    """`bind` unless this external id is bound already (one INSERT ... ON CONFLICT DO NOTHING,
    no Binding loaded). True when bound now. Not for a binding that must be unique per
    internal row being created (an order's first import): there a racing copy must fail."""
    return insert_once(session, Binding, {
        "owner_type": owner_type, "owner_id": owner_id, "kind": kind,
        "external_id": external_id, "internal_id": internal_id, "external_updated_at": None,
        "synced_at": now}, unique=UNIQUE) is not None


def external_id_of(session: Session, owner_type: str, owner_id: int, kind: str,
                   internal_id: int) -> str | None:
    return session.scalar(select(Binding.external_id).where(
        Binding.owner_type == owner_type, Binding.owner_id == owner_id,
        Binding.kind == kind, Binding.internal_id == internal_id))
