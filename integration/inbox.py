"""Received webhook deliveries: stored once, then processed by an outbox job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration import outbox
from integration.storage.models import InboxDelivery

PROCESS_JOB = "inbox.process"


@dataclass(frozen=True)
class Delivery:
    source: str
    topic: str
    dedupe_key: str
    headers: dict[str, Any]
    body: bytes
    store_id: int | None = None
    supplier_id: int | None = None


def record(session: Session, delivery: Delivery, now: datetime) -> int | None:
    """Store a delivery and queue its processing; None when it was already stored."""
    duplicate = session.scalar(
        select(InboxDelivery.id).where(
            InboxDelivery.source == delivery.source,
            InboxDelivery.dedupe_key == delivery.dedupe_key,
        )
    )
    if duplicate is not None:
        return None
    row = InboxDelivery(
        source=delivery.source, store_id=delivery.store_id, supplier_id=delivery.supplier_id,
        topic=delivery.topic, dedupe_key=delivery.dedupe_key, headers=delivery.headers,
        body=delivery.body, state="received", received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # a concurrent copy of the same delivery won the race
    outbox.enqueue(session, PROCESS_JOB, f"inbox:{row.id}", {"inbox_id": row.id}, now,
                   store_id=delivery.store_id)
    return row.id


def mark(session: Session, inbox_id: int, state: str, now: datetime,
         error: str | None = None) -> None:
    row = session.get(InboxDelivery, inbox_id)
    if row is not None:
        row.state = state
        row.error = error
        row.processed_at = now


def prune_processed(session: Session, older_than: datetime) -> int:
    result = session.execute(
        delete(InboxDelivery)
        .where(InboxDelivery.state.in_(("processed", "ignored")),
               InboxDelivery.received_at < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
