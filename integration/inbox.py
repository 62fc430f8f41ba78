"""Received webhook deliveries: stored once, then processed by an outbox job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from integration import outbox
from integration.storage.insert_once import insert_once
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
    """Store a delivery and queue its processing; None when it was already stored (also when
    a concurrent copy of the same delivery got there first)."""
    inbox_id = insert_once(session, InboxDelivery, {
        "source": delivery.source, "store_id": delivery.store_id,
        "supplier_id": delivery.supplier_id, "topic": delivery.topic,
        "dedupe_key": delivery.dedupe_key, "headers": delivery.headers,
        "body": delivery.body, "state": "received", "received_at": now,
    }, unique=("source", "dedupe_key"))
    if inbox_id is None:
        return None
    outbox.enqueue(session, PROCESS_JOB, f"inbox:{inbox_id}", {"inbox_id": inbox_id}, now,
                   store_id=delivery.store_id)
    return inbox_id


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
