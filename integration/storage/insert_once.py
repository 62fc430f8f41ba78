"""INSERT ... ON CONFLICT DO NOTHING RETURNING id, on SQLite and PostgreSQL alike.

One statement instead of "look, then insert in a savepoint": the unique constraint decides,
which is both faster and exact under concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from integration.storage.models import Base


def insert_once(session: Session, model: type[Base], values: dict[str, Any],
                unique: Sequence[str]) -> int | None:
    """The new row's id, or None when a row with the same unique columns already exists."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (insert(model).values(**values)
                 .on_conflict_do_nothing(index_elements=list(unique))
                 .returning(model.id))  # type: ignore[attr-defined]
    new_id: int | None = session.scalar(statement)
    return new_id
