"""The intake's driver-level write gives exactly the rows the ORM path gives, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from integration.accounts import stores
from integration.jobs import inbox
from integration.kernel.runtime import Runtime
from integration.storage.driver_insert import DriverInsertOnce, integrity_error
from integration.storage.models import InboxDelivery, OutboxJob

NOW = datetime(2026, 11, 26, 9, 30, 15, 123456, tzinfo=UTC)
COLUMNS = ("source", "store_id", "topic", "dedupe_key", "headers", "body", "state",
           "received_at", "error")


def delivery(store_id: int, key: str, body: bytes = b'{"id": 1}') -> inbox.Delivery:
    return inbox.Delivery(source="shopify", store_id=store_id, topic="orders/create",
                          dedupe_key=f"{store_id}:{key}", body=body,
                          headers={"X-Shopify-Topic": "orders/create", "X-Note": "é ✓"})


def inbox_row(runtime: Runtime, inbox_id: int) -> tuple[object, ...]:
    with runtime.db.read() as session:
        row = session.get(InboxDelivery, inbox_id)
        assert row is not None
        return tuple(getattr(row, name) for name in COLUMNS)


def job_for(runtime: Runtime, inbox_id: int) -> tuple[object, ...]:
    with runtime.db.read() as session:
        job = session.scalars(select(OutboxJob).where(
            OutboxJob.idempotency_key == f"inbox:{inbox_id}")).one()
        return (job.kind, job.payload, job.store_id, job.state, job.attempts, job.max_attempts,
                job.next_run_at, job.created_at, job.serial_key, job.lease_expires_at)


@pytest.fixture
def store_id(runtime: Runtime) -> int:
    return stores.add_shopify_store(runtime, "driver-path.myshopify.com", "token", "secret")


def test_driver_path_writes_the_same_rows_as_the_orm_path(runtime: Runtime,
                                                          store_id: int) -> None:
    body = bytes(range(256)) * 30  # every byte value, 7,680 bytes: overflow pages on SQLite
    with runtime.db.write() as session:
        by_orm = inbox.record(session, delivery(store_id, "orm", body), NOW)
    by_driver = inbox.record_directly(runtime.db, delivery(store_id, "driver", body), NOW)
    assert by_orm is not None and by_driver is not None and by_driver != by_orm

    orm_row, driver_row = inbox_row(runtime, by_orm), inbox_row(runtime, by_driver)
    assert driver_row[3] == f"{store_id}:driver"
    assert orm_row[:3] + orm_row[4:] == driver_row[:3] + driver_row[4:]
    assert driver_row[5] == body
    received_at = driver_row[7]
    assert isinstance(received_at, datetime) and received_at == NOW
    assert received_at.tzinfo is not None
    orm_job, driver_job = job_for(runtime, by_orm), job_for(runtime, by_driver)
    assert orm_job[1] == {"inbox_id": by_orm} and driver_job[1] == {"inbox_id": by_driver}
    assert orm_job[:1] + orm_job[2:] == driver_job[:1] + driver_job[2:]
    assert driver_job[0] == inbox.PROCESS_JOB and driver_job[3] == "pending"


def test_driver_path_stores_a_duplicate_once_and_queues_one_job(runtime: Runtime,
                                                                store_id: int) -> None:
    first = inbox.record_directly(runtime.db, delivery(store_id, "same"), NOW)
    again = inbox.record_directly(runtime.db, delivery(store_id, "same"),
                                  NOW + timedelta(seconds=1))
    assert first is not None and again is None
    with runtime.db.read() as session:
        assert len(session.scalars(select(InboxDelivery)).all()) == 1
        assert len(session.scalars(select(OutboxJob)).all()) == 1


def test_driver_path_rolls_back_and_raises_the_driver_error_for_a_missing_store(
        runtime: Runtime, store_id: int) -> None:
    with pytest.raises(integrity_error(runtime.db.engine)):
        inbox.record_directly(runtime.db, delivery(store_id + 1000, "ghost"), NOW)
    with runtime.db.read() as session:
        assert session.scalars(select(InboxDelivery)).all() == []
        assert session.scalars(select(OutboxJob)).all() == []
    # The connection went back to the pool clean: the next write works.
    assert inbox.record_directly(runtime.db, delivery(store_id, "after"), NOW) is not None


def test_driver_insert_refuses_values_for_other_columns(runtime: Runtime) -> None:
    statement = DriverInsertOnce(runtime.db.engine.dialect, OutboxJob,
                                 ["kind", "idempotency_key"], ["idempotency_key"])
    with pytest.raises(ValueError, match="expected columns"):
        statement.parameters({"kind": "x"})


def test_threads_keep_their_own_connection_and_every_write_commits(
        runtime: Runtime, store_id: int) -> None:
    """On SQLite each thread keeps the connection of its driver writes (no pool round trip per
    delivery): 4 threads x 25 deliveries at once, every one stored once, with its job; the
    same delivery twice is still one row."""
    import threading

    ids: list[int | None] = []
    lock = threading.Lock()

    def deliver(thread: int) -> None:
        for n in range(25):
            got = inbox.record_directly(runtime.db, delivery(store_id, f"{thread}:{n}"), NOW)
            with lock:
                ids.append(got)

    threads = [threading.Thread(target=deliver, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert None not in ids and len(set(ids)) == 100
    assert inbox.record_directly(runtime.db, delivery(store_id, "0:0"), NOW) is None
    with runtime.db.read() as session:
        assert len(session.scalars(select(InboxDelivery)).all()) == 100
        assert len(session.scalars(select(OutboxJob)).all()) == 100
    runtime.db.dispose()  # closes the kept connections; the next write opens a new one
    assert inbox.record_directly(runtime.db, delivery(store_id, "after"), NOW) is not None
