"""Engine and sessions: SQLite (WAL, busy timeout, BEGIN IMMEDIATE for writes) or PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

from integration.base.config import DatabaseSettings
from integration.storage.wal_checkpoints import WalCheckpointer
from integration.storage.writer_lock import WriterLock

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    # Checkpoints are taken by `Database` after writes, outside the writer lock (see
    # `wal_checkpoints`); SQLite's automatic ones would run inside it.
    # pysqlite's own transaction handling would defer BEGIN; take control so that writers
    # start with BEGIN IMMEDIATE (no lock upgrade deadlocks) and readers with BEGIN.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def _sqlite_writer_lock(engine: Engine) -> WriterLock | None:
    """SQLite writers queue on a lock file beside the database (see `writer_lock`)."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    in_memory = not path or path == ":memory:" or path.startswith("file:")
    return WriterLock(None if in_memory else f"{path}-writer.lock")


_ORJSON_AS_JSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dump_json(value: Any) -> str:
    """JSON columns' serializer: orjson (several times faster than json on every job payload
    and webhook header set), with the standard library's answer wherever orjson would differ
    in what it accepts (integers beyond 64 bits, non-string keys, datetimes, dataclasses)."""
    try:
        return orjson.dumps(value, option=_ORJSON_AS_JSON, default=_refuse).decode("utf-8")
    except TypeError:
        return json.dumps(value)


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _private_sqlite_files(database: str | None) -> None:
    """The database (and so the WAL and shared-memory files SQLite creates with the same
    mode) is private, like config.toml: created 0600, and tightened when found readable by
    others. A folder that does not exist is left to the connection to report."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # not ours to create: the connection says why
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            info = name.stat()
            if info.st_mode & 0o077 and info.st_uid == os.getuid():
                os.chmod(name, 0o600)
        except OSError:
            continue


def make_engine(settings: DatabaseSettings) -> Engine:
    if settings.url.startswith("sqlite"):
        _private_sqlite_files(make_url(settings.url).database)
        engine = create_engine(settings.url, pool_size=settings.pool_size, max_overflow=20,
                               json_serializer=dump_json)
        _configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
        return engine
    return create_engine(
        settings.url, pool_size=settings.pool_size, max_overflow=20, pool_pre_ping=True,
        json_serializer=dump_json,
    )


class Database:
    """Sessions for one database: `write()` for changes, `read()` for queries."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.url = settings.url
        self.engine = make_engine(settings)
        self._writer_lock = _sqlite_writer_lock(self.engine)
        self.checkpointer = (None if self._writer_lock is None
                              else WalCheckpointer(self.engine, self._writer_lock))
        self._write_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
        )
        # SQLite: each thread keeps the connection its driver writes use (see `driver_write`).
        self._kept = threading.local()
        self._kept_all: list[Any] = []
        self._kept_lock = threading.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception."""
        with self._one_writer(), self._write_sessions() as session, session.begin():
            yield session

    @contextmanager
    def driver_write(self) -> Iterator[Any]:
        """A driver cursor (sqlite3 or psycopg) in one write transaction, committed on success
        and rolled back on any exception: for hot paths where the ORM's overhead matters
        (see `integration.storage.driver_insert`).

        On SQLite the thread keeps its connection between calls instead of taking it from
        the pool and giving it back each time: the pool's checkout, its checkin and the
        rollback it runs on every return cost about a fifth of a webhook delivery's CPU, and a
        SQLite connection has nothing the pool's checks would find (no server to lose). After
        an error the transaction is rolled back (the connection dropped if even that fails),
        and a forked process opens its own."""
        if self.is_sqlite:
            with self._one_writer():
                driver = self._kept_connection()
                cursor = driver.cursor()
                try:
                    cursor.execute("BEGIN IMMEDIATE")  # the connection is in autocommit
                    yield cursor
                    driver.commit()
                except BaseException:
                    cursor.close()
                    try:
                        driver.rollback()
                    except Exception:
                        self._drop_kept_connection()  # unusable: the next call opens one
                    raise
                cursor.close()
            return
        with self._one_writer():
            connection = self.engine.raw_connection()
            try:
                pg_driver: Any = connection.driver_connection
                pg_cursor = pg_driver.cursor()
                try:
                    try:
                        yield pg_cursor
                    except BaseException:
                        pg_driver.rollback()
                        raise
                    pg_driver.commit()
                finally:
                    pg_cursor.close()
            finally:
                connection.close()

    def _kept_connection(self) -> Any:
        kept = getattr(self._kept, "connection", None)
        if kept is None or self._kept.pid != os.getpid() or kept not in self._kept_all:
            kept = self.engine.raw_connection()  # configured by the engine's connect hooks
            self._kept.connection, self._kept.pid = kept, os.getpid()
            with self._kept_lock:
                self._kept_all.append(kept)
        return kept.driver_connection

    def _drop_kept_connection(self) -> None:
        """After an error: roll back whatever is open, and start the next call afresh."""
        kept = getattr(self._kept, "connection", None)
        self._kept.connection = None
        if kept is None or self._kept.pid != os.getpid():
            return
        with self._kept_lock:
            if kept in self._kept_all:
                self._kept_all.remove(kept)
        with contextlib.suppress(Exception):  # already broken: the pool forgets it either way
            kept.invalidate()  # closes the driver connection: an open transaction rolls back

    @contextmanager
    def _one_writer(self) -> Iterator[None]:
        """SQLite: hold the writer lock for the transaction, then count it for checkpoints."""
        if self._writer_lock is None or self.checkpointer is None:
            yield
            return
        with self._writer_lock.held():
            yield
        self.checkpointer.wrote()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        with self._kept_lock:
            kept, self._kept_all = self._kept_all, []
        for connection in kept:
            with contextlib.suppress(Exception):  # held by another thread that is gone
                connection.close()
        self.engine.dispose()
