"""SQLite WAL checkpoints after writes, outside the writer lock: the WAL stays bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from integration.base.config import DatabaseSettings
from integration.storage.db import Database
from integration.storage.wal_checkpoints import WalCheckpointer
from integration.storage.writer_lock import WriterLock

PAGE = 4096


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(DatabaseSettings(url=f"sqlite:///{tmp_path / 'wal.db'}"))
    with db.write() as session:
        session.execute(text("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)"))
    return db


def wal_bytes(tmp_path: Path) -> int:
    wal = tmp_path / "wal.db-wal"
    return wal.stat().st_size if wal.exists() else 0


def write_rows(db: Database, count: int) -> None:
    for _ in range(count):
        with db.write() as session:
            session.execute(text("INSERT INTO rows (body) VALUES (:body)"),
                            {"body": os.urandom(3 * PAGE)})
        assert db.checkpointer is not None
        assert db.checkpointer.wait_idle()  # the background checkpoint, when one was due


def test_automatic_checkpoints_are_off_and_ours_keep_the_wal_bounded(
        database: Database, tmp_path: Path) -> None:
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    write_rows(database, 1000)  # about 4,000 pages: 16 MB of WAL without checkpoints
    # Each checkpoint lets the next write restart the WAL, so the file never holds much more
    # than one checkpoint interval (100 writes of about 4 pages, with headers).
    assert wal_bytes(tmp_path) < 150 * 4 * (PAGE + 24)
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM rows").scalar() == 1000


def test_a_wal_that_stopped_restarting_is_checkpointed_under_the_writer_lock(
        database: Database, tmp_path: Path) -> None:
    # max_frames=0 takes the path for a WAL that kept growing: a second checkpoint under
    # the writer lock, after which nothing is left uncopied.
    lock = WriterLock(str(tmp_path / "wal.db-writer.lock"))
    checkpointer = WalCheckpointer(database.engine, lock, every_writes=1, max_frames=0)
    write_rows(database, 5)
    checkpointer.wrote()
    assert checkpointer.wait_idle()
    frames, copied = checkpointer.checkpoint()
    assert frames == copied  # everything in the WAL is in the database file


def test_checkpoint_counts_writes(database: Database, tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "wal.db-writer.lock"))
    checkpointer = WalCheckpointer(database.engine, lock, every_writes=3, max_frames=10**9)
    calls: list[int] = []
    checkpoint = checkpointer.checkpoint

    def counted() -> tuple[int, int]:
        calls.append(1)
        return checkpoint()

    checkpointer.checkpoint = counted  # type: ignore[method-assign]
    for _ in range(7):
        checkpointer.wrote()
        assert checkpointer.wait_idle()
    assert len(calls) == 2
