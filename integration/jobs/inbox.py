"""Received webhook deliveries: stored once, then processed by an outbox job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from integration.jobs import chain, outbox
from integration.storage.db import Database
from integration.storage.driver_insert import DriverInsertOnce
from integration.storage.insert_once import insert_once
from integration.storage.models import InboxDelivery, OutboxJob

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


INBOX_UNIQUE = ("source", "dedupe_key")


def _inbox_row(delivery: Delivery, now: datetime) -> dict[str, Any]:
    return {
        "source": delivery.source, "store_id": delivery.store_id,
        "supplier_id": delivery.supplier_id, "topic": delivery.topic,
        "dedupe_key": delivery.dedupe_key, "headers": delivery.headers,
        "body": delivery.body, "state": "received", "received_at": now,
    }


def _process_job_row(delivery: Delivery, inbox_id: int, now: datetime) -> dict[str, Any]:
    return outbox.new_job_row(PROCESS_JOB, f"inbox:{inbox_id}", {"inbox_id": inbox_id}, now,
                              store_id=delivery.store_id)


def record(session: Session, delivery: Delivery, now: datetime) -> int | None:
    """Store a delivery and queue its processing; None when it was already stored (also when
    a concurrent copy of the same delivery got there first)."""
    inbox_id = insert_once(session, InboxDelivery, _inbox_row(delivery, now),
                           unique=INBOX_UNIQUE)
    if inbox_id is None:
        return None
    outbox.enqueue_row(session, _process_job_row(delivery, inbox_id, now))
    return inbox_id


@dataclass(frozen=True)
class _DriverStatements:
    inbox: DriverInsertOnce
    job: DriverInsertOnce


@lru_cache(maxsize=8)
def _driver_statements(dialect: Dialect) -> _DriverStatements:
    sample = Delivery(source="", topic="", dedupe_key="", headers={}, body=b"")
    epoch = datetime.fromtimestamp(0, UTC)
    return _DriverStatements(
        inbox=DriverInsertOnce(dialect, InboxDelivery, list(_inbox_row(sample, epoch)),
                               INBOX_UNIQUE),
        job=DriverInsertOnce(dialect, OutboxJob, list(_process_job_row(sample, 0, epoch)),
                             outbox.JOB_UNIQUE),
    )


def record_directly(db: Database, delivery: Delivery, now: datetime) -> int | None:
    """`record` in its own transaction, run on the database driver: the same rows, without
    the ORM's per-statement overhead (the webhook intake's hot path). Raises the driver's
    IntegrityError (see `driver_insert.integrity_error`) when the store no longer exists."""
    statements = _driver_statements(db.engine.dialect)
    job_id: int | None = None
    with db.driver_write() as cursor:
        inbox_id = statements.inbox(cursor, _inbox_row(delivery, now))
        if inbox_id is not None:
            job_id = statements.job(cursor, _process_job_row(delivery, inbox_id, now))
            if job_id is not None and chain.notifies(db.engine.dialect.name):
                cursor.execute(chain.NOTIFY_SQL)  # the scheduler sweeps at once
    if job_id is not None:  # committed: its processing starts now, not at the next sweep
        chain.announce([job_id])
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
