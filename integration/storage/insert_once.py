"""INSERT ... ON CONFLICT DO NOTHING RETURNING id, on SQLite and PostgreSQL alike.

One statement instead of "look, then insert in a savepoint": the unique constraint decides,
which is both faster and exact under concurrency. The statement is built once per table and
dialect and executed with plain parameters (the webhook intake runs it twice per delivery).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from integration.storage.models import Base


@lru_cache(maxsize=64)
def _statement(dialect: str, table: Table, unique: tuple[str, ...]) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(
        table.c.id)


def insert_once(session: Session, model: type[Base], values: dict[str, Any],
                unique: Sequence[str]) -> int | None:
    """The new row's id, or None when a row with the same unique columns already exists."""
    table: Table = model.__table__  # type: ignore[assignment]
    statement = _statement(session.get_bind().dialect.name, table, tuple(unique))
    new_id: int | None = session.execute(statement, values).scalar()
    return new_id
